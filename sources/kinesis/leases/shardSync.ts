/**
 * Shard sync (KCL's `ShardSyncer`): lists the stream and creates a lease for every shard that has
 * none, remembering its parents and its hash key range. Any worker may run it at any time: lease
 * creation is conditional on the lease not existing, so there is no leader.
 */
import type { KinesisClient, Shard } from '@aws-sdk/client-kinesis';
import type { BackoffContext } from '../retrieval/backoff.ts';
import type { InitialPosition } from '../retrieval/startPosition.ts';
import { hashKeyRangeOf, listShards, parentShardIdsOf } from '../shardDetector.ts';
import type { Lease } from './lease.ts';
import type { LeaseRefresher } from './leaseRefresher.ts';

/** What one sync found and did. */
export interface ShardSyncResult {
  readonly shards: readonly Shard[];
  readonly openShards: number;
  readonly created: readonly string[];
}

/** Creates the missing leases of a stream's shards. */
export async function syncShards(
  client: KinesisClient,
  streamName: string,
  refresher: LeaseRefresher,
  initial: InitialPosition,
  backoff: BackoffContext,
): Promise<ShardSyncResult> {
  const shards = await listShards(client, streamName, backoff);
  const known = new Set((await refresher.listLeases()).map((l) => l.leaseKey));
  const inStream = new Set(shards.map((s) => s.ShardId!));
  const created: string[] = [];
  for (const shard of shards) {
    const shardId = shard.ShardId!;
    if (known.has(shardId)) continue;
    const parents = parentShardIdsOf(shard);
    const hashKeyRange = hashKeyRangeOf(shard);
    // A child of a shard we read (or will read) starts at its beginning, so nothing between the
    // parent's end and the configured position is skipped.
    const hasKnownParent = parents.some((p) => known.has(p) || inStream.has(p));
    const lease: Lease = {
      leaseKey: shardId,
      leaseOwner: undefined,
      leaseCounter: 0,
      checkpoint: hasKnownParent ? { sentinel: 'TRIM_HORIZON' } : initial.checkpoint,
      pendingCheckpoint: undefined,
      ownerSwitchesSinceCheckpoint: 0,
      parentShardIds: parents,
      childShardIds: [],
      ...(hashKeyRange === undefined ? {} : { hashKeyRange }),
      ...(!hasKnownParent && initial.startTimestamp !== undefined
        ? { startTimestamp: initial.startTimestamp }
        : {}),
    };
    if (await refresher.createLeaseIfNotExists(lease)) created.push(shardId);
    known.add(shardId);
  }
  const openShards = shards.filter((s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined).length;
  return { shards, openShards, created };
}
