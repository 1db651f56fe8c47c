/**
 * Lists a stream's shards (KCL's `ShardDetector`): every shard Kinesis still knows, open and closed,
 * with its parents, across ListShards pages.
 */

import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { ListShardsCommand, type ListShardsCommandInput, type Shard } from '@aws-sdk/client-kinesis';
import { type BackoffContext, callWithBackoff } from './retrieval/backoff.ts';

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
