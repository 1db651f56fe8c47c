/**
 * Finds the records of a batch that a store refuses (bisect-on-error, as AWS Lambda's Kinesis event
 * source mapping does, but down to the single record and without dropping anything): the batch is
 * halved, each half tried on its own, and a half that is refused again halved further, until every
 * refused record stands alone. The rest of the batch is written, in order; each refused record is
 * returned with the store's reason. With k refused records among n, that costs about 2·k·log2(n)
 * attempts; a batch without them costs nothing extra.
 */
import { isPermanent, type RecordRejectedError } from '../rejection.ts';

/** A record the store refused, and why. */
export interface RejectedRecord<T> {
  readonly record: T;
  readonly error: RecordRejectedError;
}

/** What isolation made of a batch: the results of the parts that went through, in order, and the refused records. */
export interface Isolated<T, R> {
  readonly results: R[];
  readonly rejected: RejectedRecord<T>[];
}

/**
 * Splits `records`, which `attempt` refused with `error`, until each refused record stands alone.
 * `attempt` retries transient errors itself and throws a permanent one at once; anything else it
 * throws (an outage outlasting its retries, a bug) is thrown from here.
 */
export async function isolateRejected<T, R>(
  records: readonly T[],
  error: RecordRejectedError,
  attempt: (part: readonly T[]) => Promise<R>,
): Promise<Isolated<T, R>> {
  const isolated: Isolated<T, R> = { results: [], rejected: [] };
  await split(records, error, attempt, isolated);
  return isolated;
}

async function split<T, R>(
  records: readonly T[],
  error: RecordRejectedError,
  attempt: (part: readonly T[]) => Promise<R>,
  into: Isolated<T, R>,
): Promise<void> {
  if (records.length === 1) {
    into.rejected.push({ record: records[0]!, error });
    return;
  }
  const middle = Math.ceil(records.length / 2);
  for (const part of [records.slice(0, middle), records.slice(middle)]) {
    try {
      into.results.push(await attempt(part));
    } catch (partError) {
      if (!isPermanent(partError)) throw partError;
      await split(part, partError, attempt, into);
    }
  }
}
