/**
 * Finds the records of a batch that a store refuses (bisect-on-error, as AWS Lambda's Kinesis event
 * source mapping does, but down to the single record and without dropping anything): the batch is
 * halved, each half tried on its own, and a half that is refused again halved further, until every
 * refused record stands alone. The rest of the batch is written, in order; each refused record is
 * returned with the store's reason. With k refused records among n, that costs about 2·k·log2(n)
 * attempts; a batch without them costs nothing extra.
 *
 * Also here: the runners' attempts of a batch under their retry policy (`attemptIsolating`), whose
 * failures feed the shard's retry watch, and the dead letters of the refused records.
 */

import type { Clock } from '../clock.ts';
import type { BatchContext } from '../components.ts';
import { errorMessage, type Logger } from '../logger.ts';
import type { DeadLetter } from '../records.ts';
import { isPermanent, type RecordRejectedError, rejectedDeadLetter } from '../rejection.ts';
import type { NodeMetrics } from './metrics.ts';
import { type RetryPolicy, withRetry } from './retry.ts';
import type { RetryWatch } from './retryWatch.ts';

/** What a runner lends the attempts of a batch: the clock, the log, and the signal that ends retries. */
interface AttemptEnv {
  readonly clock: Clock;
  readonly log: Logger;
  readonly hardStop: AbortSignal;
}

/** The shard an attempt runs for, with its retries in progress. */
interface AttemptShard {
  readonly shardId: string;
  readonly retries: RetryWatch;
}

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

/** Counts, watches and logs every failed attempt of a node's batch on a shard. */
export function onFailure(env: AttemptEnv, metrics: NodeMetrics, shard: AttemptShard) {
  return (error: unknown, attempt: number) => {
    metrics.errors++;
    shard.retries.failed(metrics.node, error);
    env.log.warn(
      { node: metrics.node, shardId: shard.shardId, attempt, error: errorMessage(error) },
      isPermanent(error) ? 'batch refused by the store' : 'batch failed',
    );
  };
}

/**
 * Runs `work` on `records` under the node's retry policy; with `isolate`, a batch the store refuses
 * for its records is split until each refused record stands alone (see `isolation.ts`).
 */
export async function attemptIsolating<T, R>(
  records: readonly T[],
  work: (part: readonly T[]) => Promise<R>,
  isolate: boolean,
  retry: RetryPolicy,
  env: AttemptEnv,
  metrics: NodeMetrics,
  shard: AttemptShard,
): Promise<Isolated<T, R>> {
  const attempt = async (part: readonly T[]) => {
    const result = await withRetry(
      () => work(part),
      retry,
      env.clock,
      env.hardStop,
      onFailure(env, metrics, shard),
      isolate ? isPermanent : undefined,
    );
    shard.retries.succeeded(metrics.node);
    return result;
  };
  try {
    return { results: [await attempt(records)], rejected: [] };
  } catch (error) {
    if (!isolate || !isPermanent(error)) throw error;
    const isolated = await isolateRejected(records, error, attempt);
    shard.retries.succeeded(metrics.node);
    return isolated;
  }
}

/** The dead letters of the records a store refused, counted per node and reason, each one logged. */
export function rejectedDeadLetters(
  rejected: Isolated<unknown, unknown>['rejected'],
  ctx: BatchContext,
  env: AttemptEnv,
  metrics: NodeMetrics,
): DeadLetter[] {
  return rejected.map(({ record, error }: { record: unknown; error: RecordRejectedError }) => {
    metrics.isolated(error.rejection.code);
    const letter = rejectedDeadLetter(record, error, ctx);
    env.log.warn(
      {
        node: ctx.node,
        shardId: ctx.shardId,
        sequenceNumber: letter.sequenceNumber,
        store: error.rejection.store,
        code: error.rejection.code,
        constraint: error.rejection.constraint,
      },
      'record refused by the store: isolated as a dead letter',
    );
    return letter;
  });
}
