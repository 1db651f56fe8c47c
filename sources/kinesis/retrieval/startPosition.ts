/**
 * Where a shard reader starts, for both sources: the configured start of a shard that has no
 * checkpoint (kept as a lease checkpoint, KCL's initial position in stream), the start a checkpoint
 * means, and the GetShardIterator request for it. The all-shards source takes the same steps as the
 * leased one, only with its checkpoints in memory.
 */
import type { GetShardIteratorCommandInput } from '@aws-sdk/client-kinesis';
import type { Position } from '../../../topology/index.ts';
import type { KinesisSourceConfig } from '../config.ts';
import type { LeaseCheckpoint } from '../leases/lease.ts';

/** Where a reader starts in its shard. */
export type StartPosition =
  | { readonly type: 'TRIM_HORIZON' }
  | { readonly type: 'LATEST' }
  | { readonly type: 'AT_TIMESTAMP'; readonly timestamp: number }
  | { readonly type: 'AFTER_SEQUENCE_NUMBER'; readonly position: Position };

/** Where shards with no known parent start, as the checkpoint their new leases get. */
export interface InitialPosition {
  readonly checkpoint: LeaseCheckpoint;
  readonly startTimestamp?: number;
}

/** The configured start position as a lease checkpoint (and its time, for `AT_TIMESTAMP`). */
export function initialPosition(
  config: Pick<KinesisSourceConfig, 'startPosition' | 'startTimestamp'>,
): InitialPosition {
  return config.startPosition === 'AT_TIMESTAMP'
    ? { checkpoint: { sentinel: 'AT_TIMESTAMP' }, startTimestamp: config.startTimestamp }
    : { checkpoint: { sentinel: config.startPosition } };
}

/**
 * The start a shard's checkpoint means: just after its record, or the place a sentinel names.
 * `startTimestamp` is the time of an `AT_TIMESTAMP` checkpoint, which cannot start without one.
 */
export function checkpointStart(
  shardId: string,
  checkpoint: LeaseCheckpoint,
  startTimestamp: number | undefined,
): StartPosition {
  if ('position' in checkpoint) return { type: 'AFTER_SEQUENCE_NUMBER', position: checkpoint.position };
  if (checkpoint.sentinel === 'AT_TIMESTAMP') {
    if (startTimestamp === undefined)
      throw new Error(`lease ${shardId} is AT_TIMESTAMP without a start time`);
    return { type: 'AT_TIMESTAMP', timestamp: startTimestamp };
  }
  if (checkpoint.sentinel === 'LATEST') return { type: 'LATEST' };
  // TRIM_HORIZON; SHARD_END never gets here, a finished shard is not opened
  return { type: 'TRIM_HORIZON' };
}

/** The GetShardIterator request for a start position. */
export function shardIteratorRequest(
  streamName: string,
  shardId: string,
  start: StartPosition,
): GetShardIteratorCommandInput {
  const base = { StreamName: streamName, ShardId: shardId, ShardIteratorType: start.type };
  switch (start.type) {
    case 'AT_TIMESTAMP':
      return { ...base, Timestamp: new Date(start.timestamp) };
    case 'AFTER_SEQUENCE_NUMBER':
      // The sub-sequence number is not looked at: shardflow checkpoints whole Kinesis records (its
      // KPL de-aggregation keeps the batch's position), so a checkpoint inside an aggregate
      // (subSequenceNumber > 0, a table KCL's Java library wrote) resumes after the whole aggregate.
      // Resuming inside it would take AT_SEQUENCE_NUMBER and skipping the user records already done.
      return { ...base, StartingSequenceNumber: start.position.sequenceNumber };
    default:
      return base;
  }
}
