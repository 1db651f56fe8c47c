/**
 * What keyed state needs from a Kinesis source, against kinesalite (and dynalite for the leased
 * source): every shard handle carries its lineage, so a split child names its parent and its exact
 * hash key range and a merge child both parents; every record maps to its position; and a key's
 * MD5 falls in the range of the shard kinesalite put it in.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { ListShardsCommand, PutRecordCommand, type Shard } from '@aws-sdk/client-kinesis';
import { afterAll, describe, expect, it } from 'vitest';
import { kinesisAllShardsSource } from '../../sources/kinesis/allShardsSource.ts';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { kclSource } from '../../sources/kinesis/kclSource.ts';
import { LeaseRefresher } from '../../sources/kinesis/leases/leaseRefresher.ts';
import {
  hashKeyOf,
  inHashRange,
  type Position,
  type RawRecord,
  type ShardLineage,
  type Source,
  systemClock,
} from '../../topology/index.ts';
import { testDynamoClient, uniqueTable } from '../support/dynamodb.ts';
import { createStream, mergeFirstTwoShards, splitFirstShard, uniqueStream } from '../support/kinesis.ts';
import { testEnv, waitFor } from '../support/wait.ts';

const endpoint = () => testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT');
const fast = { idleTimeBetweenReadsMs: 20, maxIdleTimeMs: 100 };
const KEYS = ['device-1', 'aq-1', 'sensor-42', 'Zürich-7', '温度计', '🚀', 'meter-9', 'hub-3'];

/** A shard as the source handed it over, with what was read from it. */
interface Opened {
  readonly lineage: ShardLineage | undefined;
  readonly batches: { readonly records: readonly RawRecord[]; readonly position: Position }[];
}

/** Reads a source as the runtime does: each shard to its end, released at its last position. */
function readShards(source: Source<RawRecord>, signal: AbortSignal) {
  const opened = new Map<string, Opened>();
  const done = (async () => {
    const drains: Promise<void>[] = [];
    for await (const handle of source.shards({ node: 'kinesis', clock: systemClock, signal })) {
      const entry: Opened = { lineage: handle.lineage, batches: [] };
      opened.set(handle.shardId, entry);
      drains.push(
        (async () => {
          let last = handle.startPosition;
          try {
            for await (const batch of handle.batches) {
              entry.batches.push(batch);
              last = batch.position;
            }
          } finally {
            await handle.release(last);
          }
        })(),
      );
    }
    await Promise.all(drains);
  })();
  return { opened, done };
}

/** The lineage Kinesis lists for a shard: what every source must hand over. */
function listedLineage(shard: Shard): ShardLineage {
  return {
    parentShardIds: [shard.ParentShardId, shard.AdjacentParentShardId].filter((p): p is string => !!p),
    hashKeyRange: {
      startingHashKey: shard.HashKeyRange!.StartingHashKey!,
      endingHashKey: shard.HashKeyRange!.EndingHashKey!,
    },
  };
}

describe('shard lineage and record positions (kinesalite, dynalite)', () => {
  const kinesis = createKinesisClient({ region: 'us-east-1', endpoint: endpoint() });
  const dynamo = testDynamoClient();
  afterAll(() => {
    kinesis.destroy();
    dynamo.destroy();
  });

  const shardsOf = async (stream: string) =>
    (await kinesis.send(new ListShardsCommand({ StreamName: stream }))).Shards ?? [];

  /** A stream split once, with one record per key put after the split (into the children). */
  async function splitStream(): Promise<{ stream: string; parent: string; shards: Shard[] }> {
    const stream = uniqueStream('lineage-split');
    await createStream(kinesis, stream, 1);
    const parent = await splitFirstShard(kinesis, stream);
    for (const key of KEYS)
      await kinesis.send(
        new PutRecordCommand({ StreamName: stream, PartitionKey: key, Data: new Uint8Array([1]) }),
      );
    return { stream, parent, shards: await shardsOf(stream) };
  }

  async function mergedStream(): Promise<{ stream: string; parents: [string, string]; shards: Shard[] }> {
    const stream = uniqueStream('lineage-merge');
    await createStream(kinesis, stream, 2);
    const parents = await mergeFirstTwoShards(kinesis, stream);
    return { stream, parents, shards: await shardsOf(stream) };
  }

  /** Checks each handle against ListShards, and each record's position against its batch. */
  function expectListedLineage(
    opened: Map<string, Opened>,
    shards: readonly Shard[],
    source: Source<RawRecord>,
  ) {
    expect([...opened.keys()].sort()).toEqual(shards.map((s) => s.ShardId!).sort());
    // parents in any order: a lease table keeps them as a string set
    const sorted = (l: ShardLineage | undefined) =>
      l && { ...l, parentShardIds: [...l.parentShardIds].sort() };
    for (const shard of shards)
      expect(sorted(opened.get(shard.ShardId!)!.lineage)).toEqual(sorted(listedLineage(shard)));
    for (const { batches } of opened.values())
      for (const batch of batches) {
        for (const record of batch.records)
          expect(source.positionOf!(record)).toEqual({
            sequenceNumber: record.sequenceNumber,
            subSequenceNumber: 0,
          });
        if (batch.records.length > 0)
          expect(source.positionOf!(batch.records.at(-1)!)).toEqual(batch.position);
      }
  }

  it('puts a key in the shard whose range holds its MD5, as kinesalite does', async () => {
    const { stream, shards } = await splitStream();
    const open = shards.filter((s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined);
    expect(open).toHaveLength(2);
    for (const key of KEYS) {
      const { ShardId } = await kinesis.send(
        new PutRecordCommand({ StreamName: stream, PartitionKey: key, Data: new Uint8Array([2]) }),
      );
      const holding = open.filter((s) => inHashRange(hashKeyOf(key), listedLineage(s).hashKeyRange));
      expect(
        holding.map((s) => s.ShardId),
        key,
      ).toEqual([ShardId]);
    }
  });

  describe('all-shards source', () => {
    it('hands a split child its parent and its exact half of the range, and maps records to positions', async () => {
      const { stream, parent, shards } = await splitStream();
      const source = kinesisAllShardsSource(
        { streamName: stream, endpoint: endpoint(), ...fast },
        {
          clock: systemClock,
          client: kinesis,
        },
      );
      const stop = new AbortController();
      const { opened, done } = readShards(source, stop.signal);
      const records = () => [...opened.values()].flatMap((o) => o.batches.flatMap((b) => b.records));
      await waitFor('the records put after the split', () => records().length >= KEYS.length);
      stop.abort();
      await done;

      expectListedLineage(opened, shards, source);
      expect(opened.get(parent)!.lineage).toEqual({
        parentShardIds: [],
        hashKeyRange: { startingHashKey: '0', endingHashKey: (2n ** 128n - 1n).toString() },
      });
      const children = shards
        .filter((s) => s.ShardId !== parent)
        .map((s) => opened.get(s.ShardId!)!.lineage!);
      expect(children.map((c) => c.parentShardIds)).toEqual([[parent], [parent]]);
      const [low, high] = children
        .map((c) => c.hashKeyRange)
        .sort((a, b) => (BigInt(a.startingHashKey) < BigInt(b.startingHashKey) ? -1 : 1));
      expect(BigInt(low!.endingHashKey) + 1n).toBe(BigInt(high!.startingHashKey));
      // and every record was read from the child whose range holds its key
      for (const record of records())
        expect(
          inHashRange(hashKeyOf(record.partitionKey), opened.get(record.shardId)!.lineage!.hashKeyRange),
        ).toBe(true);
    });

    it('hands a merge child both parents and their joined range', async () => {
      const { stream, parents, shards } = await mergedStream();
      const source = kinesisAllShardsSource(
        { streamName: stream, endpoint: endpoint(), ...fast },
        {
          clock: systemClock,
          client: kinesis,
        },
      );
      const stop = new AbortController();
      const { opened, done } = readShards(source, stop.signal);
      await waitFor('the merge child', () => opened.size === 3);
      stop.abort();
      await done;

      expectListedLineage(opened, shards, source);
      const child = shards.find((s) => !parents.includes(s.ShardId!))!;
      expect(opened.get(child.ShardId!)!.lineage).toEqual({
        parentShardIds: parents,
        hashKeyRange: { startingHashKey: '0', endingHashKey: (2n ** 128n - 1n).toString() },
      });
    });
  });

  describe('leased source', () => {
    const leased = (stream: string, table: string) =>
      kclSource(
        { streamName: stream, endpoint: endpoint(), ...fast },
        {
          tableName: table,
          workerId: 'worker-a',
          endpoint: testEnv('SHARDFLOW_TEST_DYNAMODB_ENDPOINT'),
          failoverTimeMs: 1500,
          takeIntervalMs: 200,
          shardSyncIntervalMs: 500,
          parentPollMs: 100,
        },
        { clock: systemClock, kinesis, dynamodb: dynamo },
      );

    /** The hash key range attributes of a lease item, as KCL reads them. */
    async function storedRange(table: string, leaseKey: string) {
      const { Item } = await dynamo.send(
        new GetItemCommand({ TableName: table, Key: { leaseKey: { S: leaseKey } }, ConsistentRead: true }),
      );
      return { startingHashKey: Item?.startingHashKey?.S, endingHashKey: Item?.endingHashKey?.S };
    }

    it('creates leases with the range, and hands a split child its parent and its exact range', async () => {
      const { stream, parent, shards } = await splitStream();
      const table = uniqueTable('lineage-split');
      const source = leased(stream, table);
      const stop = new AbortController();
      const { opened, done } = readShards(source, stop.signal);
      const records = () => [...opened.values()].flatMap((o) => o.batches.flatMap((b) => b.records));
      await waitFor('the records put after the split', () => records().length >= KEYS.length);
      stop.abort();
      await done;
      await source.close?.();

      expectListedLineage(opened, shards, source);
      for (const shard of shards.filter((s) => s.ShardId !== parent))
        expect(opened.get(shard.ShardId!)!.lineage!.parentShardIds).toEqual([parent]);
      for (const shard of shards)
        expect(await storedRange(table, shard.ShardId!)).toEqual(listedLineage(shard).hashKeyRange);
    });

    it('fills in the range of leases written without it, and hands a merge child both parents', async () => {
      const { stream, parents, shards } = await mergedStream();
      const table = uniqueTable('lineage-merge');
      // a lease table as an older writer left it: parents, no hash key ranges
      const refresher = new LeaseRefresher(dynamo, table);
      await refresher.ensureTable(systemClock);
      for (const shard of shards)
        await refresher.createLeaseIfNotExists({
          leaseKey: shard.ShardId!,
          leaseOwner: undefined,
          leaseCounter: 0,
          checkpoint: { sentinel: 'TRIM_HORIZON' },
          pendingCheckpoint: undefined,
          ownerSwitchesSinceCheckpoint: 0,
          parentShardIds: listedLineage(shard).parentShardIds,
          childShardIds: [],
        });
      expect(await storedRange(table, parents[0])).toEqual({
        startingHashKey: undefined,
        endingHashKey: undefined,
      });

      const source = leased(stream, table);
      const stop = new AbortController();
      const { opened, done } = readShards(source, stop.signal);
      await waitFor('the merge child', () => opened.size === 3);
      stop.abort();
      await done;
      await source.close?.();

      expectListedLineage(opened, shards, source);
      const child = shards.find((s) => !parents.includes(s.ShardId!))!;
      expect([...opened.get(child.ShardId!)!.lineage!.parentShardIds].sort()).toEqual([...parents].sort());
      for (const shard of shards)
        expect(await storedRange(table, shard.ShardId!)).toEqual(listedLineage(shard).hashKeyRange);
    });
  });
});
