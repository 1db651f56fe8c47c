/**
 * A shard lease as KCL 2.x stores it in DynamoDB, one item per shard, with KCL's attribute names
 * (`DynamoDBLeaseSerializer`), so an operator's existing tools read shardflow's lease table as they
 * read KCL's. Note KCL names the children attribute `childShardId` (a string set), not `childShardIds`.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { HashKeyRange, Position } from '../../../topology/index.ts';

/** Checkpoint values that are not sequence numbers (KCL's `SentinelCheckpoint`). */
export const SENTINELS = ['TRIM_HORIZON', 'LATEST', 'AT_TIMESTAMP', 'SHARD_END'] as const;
/** One of {@link SENTINELS}. */
export type Sentinel = (typeof SENTINELS)[number];

/** Where a lease's shard is: a sentinel or a record position. */
export type LeaseCheckpoint = { readonly sentinel: Sentinel } | { readonly position: Position };

/** One lease item. */
export interface Lease {
  /** The shard id. */
  readonly leaseKey: string;
  readonly leaseOwner: string | undefined;
  /** Incremented by every write; the fencing token every conditional update checks. */
  readonly leaseCounter: number;
  readonly checkpoint: LeaseCheckpoint;
  readonly pendingCheckpoint: Position | undefined;
  readonly ownerSwitchesSinceCheckpoint: number;
  readonly parentShardIds: readonly string[];
  readonly childShardIds: readonly string[];
  /**
   * The shard's hash key range, as KCL's `HashKeyRangeForLease` stores it. Absent on a lease written
   * without it (by an older shardflow or KCL): its consumer fills it in from ListShards.
   */
  readonly hashKeyRange?: HashKeyRange;
  /** shardflow's own attribute: the start time of an `AT_TIMESTAMP` checkpoint (epoch ms). */
  readonly startTimestamp?: number;
}

/** Attribute names, as KCL 2.x writes them. */
export const ATTR = {
  leaseKey: 'leaseKey',
  leaseOwner: 'leaseOwner',
  leaseCounter: 'leaseCounter',
  ownerSwitches: 'ownerSwitchesSinceCheckpoint',
  checkpoint: 'checkpoint',
  checkpointSub: 'checkpointSubSequenceNumber',
  pendingCheckpoint: 'pendingCheckpoint',
  pendingCheckpointSub: 'pendingCheckpointSubSequenceNumber',
  parentShardId: 'parentShardId',
  childShardId: 'childShardId',
  startingHashKey: 'startingHashKey',
  endingHashKey: 'endingHashKey',
  startTimestamp: 'shardflowStartTimestamp',
} as const;

/** True when the lease's shard was read to its end and everything in it is durable. */
export function isShardEnd(lease: Lease): boolean {
  return 'sentinel' in lease.checkpoint && lease.checkpoint.sentinel === 'SHARD_END';
}

/** The DynamoDB form of a checkpoint: `checkpoint` and `checkpointSubSequenceNumber`. */
export function checkpointAttributes(checkpoint: LeaseCheckpoint): Record<string, AttributeValue> {
  if ('sentinel' in checkpoint)
    return { [ATTR.checkpoint]: { S: checkpoint.sentinel }, [ATTR.checkpointSub]: { N: '0' } };
  return {
    [ATTR.checkpoint]: { S: checkpoint.position.sequenceNumber },
    [ATTR.checkpointSub]: { N: String(checkpoint.position.subSequenceNumber) },
  };
}

/** The item of a lease. */
export function toItem(lease: Lease): Record<string, AttributeValue> {
  const item: Record<string, AttributeValue> = {
    [ATTR.leaseKey]: { S: lease.leaseKey },
    [ATTR.leaseCounter]: { N: String(lease.leaseCounter) },
    [ATTR.ownerSwitches]: { N: String(lease.ownerSwitchesSinceCheckpoint) },
    ...checkpointAttributes(lease.checkpoint),
  };
  if (lease.leaseOwner !== undefined) item[ATTR.leaseOwner] = { S: lease.leaseOwner };
  if (lease.parentShardIds.length > 0) item[ATTR.parentShardId] = { SS: [...lease.parentShardIds] };
  if (lease.childShardIds.length > 0) item[ATTR.childShardId] = { SS: [...lease.childShardIds] };
  if (lease.hashKeyRange !== undefined) {
    item[ATTR.startingHashKey] = { S: lease.hashKeyRange.startingHashKey };
    item[ATTR.endingHashKey] = { S: lease.hashKeyRange.endingHashKey };
  }
  if (lease.pendingCheckpoint !== undefined) {
    item[ATTR.pendingCheckpoint] = { S: lease.pendingCheckpoint.sequenceNumber };
    item[ATTR.pendingCheckpointSub] = { N: String(lease.pendingCheckpoint.subSequenceNumber) };
  }
  if (lease.startTimestamp !== undefined) item[ATTR.startTimestamp] = { N: String(lease.startTimestamp) };
  return item;
}

function parseCheckpoint(value: string | undefined, sub: string | undefined): LeaseCheckpoint {
  if (value === undefined) return { sentinel: 'TRIM_HORIZON' };
  if ((SENTINELS as readonly string[]).includes(value)) return { sentinel: value as Sentinel };
  return { position: { sequenceNumber: value, subSequenceNumber: Number(sub ?? 0) } };
}

/** The lease of an item. */
export function fromItem(item: Record<string, AttributeValue>): Lease {
  const pending = item[ATTR.pendingCheckpoint]?.S;
  const startTimestamp = item[ATTR.startTimestamp]?.N;
  const startingHashKey = item[ATTR.startingHashKey]?.S;
  const endingHashKey = item[ATTR.endingHashKey]?.S;
  return {
    leaseKey: item[ATTR.leaseKey]!.S!,
    leaseOwner: item[ATTR.leaseOwner]?.S,
    leaseCounter: Number(item[ATTR.leaseCounter]?.N ?? 0),
    checkpoint: parseCheckpoint(item[ATTR.checkpoint]?.S, item[ATTR.checkpointSub]?.N),
    pendingCheckpoint:
      pending === undefined
        ? undefined
        : { sequenceNumber: pending, subSequenceNumber: Number(item[ATTR.pendingCheckpointSub]?.N ?? 0) },
    ownerSwitchesSinceCheckpoint: Number(item[ATTR.ownerSwitches]?.N ?? 0),
    parentShardIds: item[ATTR.parentShardId]?.SS ?? [],
    childShardIds: item[ATTR.childShardId]?.SS ?? [],
    // as KCL reads it: both ends or none
    ...(startingHashKey && endingHashKey ? { hashKeyRange: { startingHashKey, endingHashKey } } : {}),
    ...(startTimestamp === undefined ? {} : { startTimestamp: Number(startTimestamp) }),
  };
}
