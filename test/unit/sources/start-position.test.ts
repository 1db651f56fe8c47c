import { describe, expect, it } from 'vitest';
import { kinesisSourceConfigSchema } from '../../../sources/kinesis/config.ts';
import type { LeaseCheckpoint } from '../../../sources/kinesis/leases/lease.ts';
import {
  checkpointStart,
  initialPosition,
  shardIteratorRequest,
} from '../../../sources/kinesis/retrieval/startPosition.ts';

const SHARD = 'shardId-000000000001';
const SEQ = '49590338271490256608559692538361571095921575989136588898';
const config = (extra: Record<string, unknown>) =>
  kinesisSourceConfigSchema.parse({ streamName: 's', ...extra });
/** The GetShardIterator request a checkpoint leads to. */
const requestOf = (checkpoint: LeaseCheckpoint, startTimestamp?: number) =>
  shardIteratorRequest('s', SHARD, checkpointStart(SHARD, checkpoint, startTimestamp));

describe('start position', () => {
  it('keeps the configured start as a lease checkpoint, with its time for AT_TIMESTAMP', () => {
    expect(initialPosition(config({}))).toEqual({ checkpoint: { sentinel: 'TRIM_HORIZON' } });
    expect(initialPosition(config({ startPosition: 'LATEST' }))).toEqual({
      checkpoint: { sentinel: 'LATEST' },
    });
    expect(
      initialPosition(config({ startPosition: 'AT_TIMESTAMP', startTimestamp: '2024-05-01T10:00:00Z' })),
    ).toEqual({
      checkpoint: { sentinel: 'AT_TIMESTAMP' },
      startTimestamp: Date.parse('2024-05-01T10:00:00Z'),
    });
  });

  it('maps each sentinel to its iterator type', () => {
    expect(requestOf({ sentinel: 'TRIM_HORIZON' })).toEqual({
      StreamName: 's',
      ShardId: SHARD,
      ShardIteratorType: 'TRIM_HORIZON',
    });
    expect(requestOf({ sentinel: 'LATEST' })).toEqual({
      StreamName: 's',
      ShardId: SHARD,
      ShardIteratorType: 'LATEST',
    });
    expect(requestOf({ sentinel: 'AT_TIMESTAMP' }, 1_700_000_000_000)).toEqual({
      StreamName: 's',
      ShardId: SHARD,
      ShardIteratorType: 'AT_TIMESTAMP',
      Timestamp: new Date(1_700_000_000_000),
    });
  });

  it('refuses an AT_TIMESTAMP checkpoint without a time', () => {
    expect(() => checkpointStart(SHARD, { sentinel: 'AT_TIMESTAMP' }, undefined)).toThrow(
      `lease ${SHARD} is AT_TIMESTAMP without a start time`,
    );
  });

  it('resumes just after a checkpointed record, a whole aggregate even with a sub-sequence number', () => {
    const after = {
      StreamName: 's',
      ShardId: SHARD,
      ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
      StartingSequenceNumber: SEQ,
    };
    const position = { sequenceNumber: SEQ, subSequenceNumber: 0 };
    expect(checkpointStart(SHARD, { position }, undefined)).toEqual({
      type: 'AFTER_SEQUENCE_NUMBER',
      position,
    });
    expect(requestOf({ position })).toEqual(after);
    // a checkpoint inside a KPL aggregate: the sequence number alone decides (see startPosition.ts)
    expect(requestOf({ position: { sequenceNumber: SEQ, subSequenceNumber: 3 } })).toEqual(after);
  });

  it('reads a SHARD_END checkpoint, which is never opened, from the shard’s beginning', () => {
    expect(checkpointStart(SHARD, { sentinel: 'SHARD_END' }, undefined)).toEqual({ type: 'TRIM_HORIZON' });
  });
});
