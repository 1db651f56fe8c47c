/**
 * Polling retrieval for one shard (KCL's `retrieval/polling`): GetShardIterator once, then GetRecords
 * page by page. It is pull-based: a page is fetched only when the consumer asks for the next batch,
 * so a runtime with no room simply stops the reader. Idle shards are polled less often (the wait
 * grows while pages come back empty), a full page is followed at once, throttling backs off on the
 * injected clock, and an expired iterator is re-acquired just after the last record read.
 */
import {
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import type { Clock, Logger, Position, RawRecord, SourceBatch } from '../../../topology/index.ts';
import { type BackoffPolicy, callWithBackoff, errorName, KINESIS_BACKOFF } from './backoff.ts';
import { toRawRecord } from './records.ts';
import { type StartPosition, shardIteratorRequest } from './startPosition.ts';

/** What a shard reader needs. */
export interface ShardReaderOptions {
  readonly client: KinesisClient;
  readonly clock: Clock;
  readonly streamName: string;
  readonly shardId: string;
  readonly start: StartPosition;
  /** GetRecords `Limit`: 1..10,000. */
  readonly maxRecords: number;
  /** Wait after an empty page; it doubles per further empty page up to `maxIdleTimeMs`. */
  readonly idleTimeBetweenReadsMs: number;
  readonly maxIdleTimeMs: number;
  readonly backoff?: BackoffPolicy;
  /** When aborted, iteration ends promptly, also while waiting or mid-call. */
  readonly signal?: AbortSignal;
  readonly log?: Logger;
  /** Jitter source for the backoff (tests pass a constant). */
  readonly random?: () => number;
}

/** One shard's records as batches, one GetRecords page each; ends at the shard's end or on abort. */
export interface ShardReader extends AsyncIterable<SourceBatch<RawRecord>> {
  readonly shardId: string;
  /** True once the shard's end was reached (its iterator ran out), as opposed to stopping on abort. */
  readonly reachedEnd: boolean;
  /** Position of the last record handed out, if any. */
  readonly lastPosition: Position | undefined;
}

/** Reads one shard by polling; iterate it once. */
export function shardReader(options: ShardReaderOptions): ShardReader {
  const { client, clock, streamName, shardId, signal } = options;
  const backoff = {
    clock,
    signal,
    log: options.log,
    random: options.random,
    policy: options.backoff ?? KINESIS_BACKOFF,
  };
  const state: { reachedEnd: boolean; last: Position | undefined } = { reachedEnd: false, last: undefined };

  const getIterator = async (start: StartPosition): Promise<string | undefined> => {
    const command = new GetShardIteratorCommand(shardIteratorRequest(streamName, shardId, start));
    const fields = { ...backoff, fields: { stream: streamName, shardId, call: 'GetShardIterator' } };
    const out = await callWithBackoff(() => client.send(command, { abortSignal: signal }), fields);
    return out.ShardIterator ?? undefined;
  };

  const getRecords = (iterator: string): Promise<GetRecordsCommandOutput> => {
    // GetRecords has no StreamName: the iterator names the stream (no StreamARN either, for kinesalite).
    const command = new GetRecordsCommand({ ShardIterator: iterator, Limit: options.maxRecords });
    const fields = { ...backoff, fields: { stream: streamName, shardId, call: 'GetRecords' } };
    return callWithBackoff(() => client.send(command, { abortSignal: signal }), fields);
  };

  async function* readShard(): AsyncGenerator<SourceBatch<RawRecord>> {
    let last: Position | undefined;
    let idleMs = options.idleTimeBetweenReadsMs;
    let nextReadAt = clock.now();
    try {
      let iterator = await getIterator(options.start);
      while (iterator !== undefined && !signal?.aborted) {
        const waitMs = nextReadAt - clock.now();
        if (waitMs > 0) await clock.sleep(waitMs, signal);
        let page: GetRecordsCommandOutput;
        try {
          page = await getRecords(iterator);
        } catch (error) {
          if (errorName(error) !== 'ExpiredIteratorException') throw error;
          // Iterators live five minutes; a consumer held up by backpressure longer than that resumes
          // just after what it already has (LATEST cannot be resumed exactly before the first record).
          options.log?.debug({ stream: streamName, shardId }, 'shard iterator expired; re-acquiring');
          iterator = await getIterator(
            last ? { type: 'AFTER_SEQUENCE_NUMBER', position: last } : options.start,
          );
          continue;
        }
        iterator = page.NextShardIterator ?? undefined;
        const kinesisRecords = page.Records ?? [];
        if (kinesisRecords.length === 0) {
          nextReadAt = clock.now() + idleMs;
          // Only a reader at the tip slows down further; one catching up over a gap in the shard keeps
          // its pace.
          if (!page.MillisBehindLatest) idleMs = Math.min(options.maxIdleTimeMs, idleMs * 2);
          continue;
        }
        const records: RawRecord[] = [];
        for (const record of kinesisRecords) {
          records.push(toRawRecord(streamName, shardId, record));
        }
        last = { sequenceNumber: kinesisRecords.at(-1)!.SequenceNumber!, subSequenceNumber: 0 };
        idleMs = options.idleTimeBetweenReadsMs;
        // A full page means more is waiting: read again at once. Otherwise the reader is at the tip.
        nextReadAt = kinesisRecords.length >= options.maxRecords ? clock.now() : clock.now() + idleMs;
        state.last = last;
        yield { records, position: last, millisBehindLatest: page.MillisBehindLatest };
      }
      if (iterator === undefined) state.reachedEnd = true;
    } catch (error) {
      if (signal?.aborted) return;
      throw error;
    }
  }

  return {
    shardId,
    get reachedEnd() {
      return state.reachedEnd;
    },
    get lastPosition() {
      return state.last;
    },
    [Symbol.asyncIterator]: readShard,
  };
}
