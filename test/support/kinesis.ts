/** Streams in kinesalite for integration tests. */
import { randomUUID } from 'node:crypto';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  MergeShardsCommand,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';
import { deaggregate } from '../../sources/kinesis/retrieval/kpl.ts';
import { waitFor } from './wait.ts';

/** A stream name no other test uses. */
export function uniqueStream(label: string): string {
  return `it-${label}-${randomUUID().slice(0, 8)}`;
}

/** Waits until the stream is ACTIVE. */
export async function waitForActive(client: KinesisClient, name: string): Promise<void> {
  await waitFor(`${name} to be ACTIVE`, async () => {
    const out = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    return out.StreamDescriptionSummary?.StreamStatus === 'ACTIVE';
  });
}

/** Creates a stream with `shards` shards and waits until it is ACTIVE. */
export async function createStream(client: KinesisClient, name: string, shards: number): Promise<void> {
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  await waitForActive(client, name);
}

/** Splits the stream's first shard at the middle of its hash key range, waits until ACTIVE, returns its id. */
export async function splitFirstShard(client: KinesisClient, name: string): Promise<string> {
  const [parent] = (await client.send(new ListShardsCommand({ StreamName: name }))).Shards ?? [];
  const { StartingHashKey, EndingHashKey } = parent!.HashKeyRange!;
  const middle = (BigInt(StartingHashKey!) + BigInt(EndingHashKey!) + 1n) / 2n;
  await client.send(
    new SplitShardCommand({
      StreamName: name,
      ShardToSplit: parent!.ShardId,
      NewStartingHashKey: middle.toString(),
    }),
  );
  await waitForActive(client, name);
  return parent!.ShardId!;
}

/**
 * Merges the stream's first two open shards (adjacent when the stream was created with them, or split
 * from one shard), waits until ACTIVE, returns their ids.
 */
export async function mergeFirstTwoShards(client: KinesisClient, name: string): Promise<[string, string]> {
  const shards = (await client.send(new ListShardsCommand({ StreamName: name }))).Shards ?? [];
  const [first, second] = shards.filter((s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined);
  await client.send(
    new MergeShardsCommand({
      StreamName: name,
      ShardToMerge: first!.ShardId,
      AdjacentShardToMerge: second!.ShardId,
    }),
  );
  await waitForActive(client, name);
  return [first!.ShardId!, second!.ShardId!];
}

/** One user record read back from a stream (a KPL aggregate's records one by one). */
export interface StreamRecord {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly data: Buffer;
}

/**
 * Everything a stream holds, shard by shard in shard order, KPL aggregates opened: what a producer's
 * test reads back to check what landed, in which shard and order.
 */
export async function readStream(client: KinesisClient, name: string): Promise<StreamRecord[]> {
  const shards = (await client.send(new ListShardsCommand({ StreamName: name }))).Shards ?? [];
  const records: StreamRecord[] = [];
  for (const shard of shards) {
    let iterator = (
      await client.send(
        new GetShardIteratorCommand({
          StreamName: name,
          ShardId: shard.ShardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      )
    ).ShardIterator;
    while (iterator !== undefined) {
      const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      for (const record of page.Records ?? []) {
        const opened = deaggregate(record.Data!);
        const common = { shardId: shard.ShardId!, sequenceNumber: record.SequenceNumber! };
        if (opened.kind === 'aggregate')
          for (const user of opened.records)
            records.push({ ...common, partitionKey: user.partitionKey, data: Buffer.from(user.data) });
        else records.push({ ...common, partitionKey: record.PartitionKey!, data: Buffer.from(record.Data!) });
      }
      if ((page.Records ?? []).length === 0 && (page.MillisBehindLatest ?? 0) === 0) break;
      iterator = page.NextShardIterator;
    }
  }
  return records;
}
