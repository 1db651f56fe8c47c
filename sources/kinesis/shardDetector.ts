/**
 * Lists a stream's shards (KCL's `ShardDetector`): every shard Kinesis still knows, open and closed,
 * with its parents and hash key range, across ListShards pages.
 */

import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { ListShardsCommand, type ListShardsCommandInput, type Shard } from '@aws-sdk/client-kinesis';
import type { HashKeyRange, ShardLineage } from '../../topology/index.ts';
import { type BackoffContext, callWithBackoff } from './retrieval/backoff.ts';

/** The shards a shard was split or merged from: none, one (split), or two (merge). */
export function parentShardIdsOf(shard: Shard): string[] {
  return [shard.ParentShardId, shard.AdjacentParentShardId].filter(
    (p): p is string => typeof p === 'string' && p !== '',
  );
}

/** The shard's hash key range, as ListShards gives it (Kinesis always does). */
export function hashKeyRangeOf(shard: Shard): HashKeyRange | undefined {
  const startingHashKey = shard.HashKeyRange?.StartingHashKey;
  const endingHashKey = shard.HashKeyRange?.EndingHashKey;
  return startingHashKey && endingHashKey ? { startingHashKey, endingHashKey } : undefined;
}

/** Where a listed shard came from: its parents and its hash key range. */
export function lineageOf(shard: Shard): ShardLineage | undefined {
  const hashKeyRange = hashKeyRangeOf(shard);
  return hashKeyRange === undefined ? undefined : { parentShardIds: parentShardIdsOf(shard), hashKeyRange };
}

/** Every shard of `streamName`, in the order Kinesis lists them (parents before their children). */
export async function listShards(
  client: KinesisClient,
  streamName: string,
  backoff: BackoffContext,
): Promise<Shard[]> {
  const shards: Shard[] = [];
  const ctx = { ...backoff, fields: { stream: streamName, call: 'ListShards' } };
  let nextToken: string | undefined;
  do {
    // The API refuses StreamName together with NextToken: follow-up pages carry only the token.
    const input: ListShardsCommandInput =
      nextToken === undefined ? { StreamName: streamName } : { NextToken: nextToken };
    const page = await callWithBackoff(
      () => client.send(new ListShardsCommand(input), { abortSignal: backoff.signal }),
      ctx,
    );
    shards.push(...(page.Shards ?? []));
    nextToken = page.NextToken ?? undefined;
  } while (nextToken !== undefined);
  return shards;
}
