/**
 * The all-shards Kinesis source inside a real topology, against kinesalite: envelopes from the
 * simulated fleet go in through the producer and must come out exactly once, in order per shard and
 * per device, on the right shards; children of a split are read only after their parent ended.
 */
import { type KinesisClient, ListShardsCommand, type Shard } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kinesisProducer } from '../../gateways/kinesis/producer.ts';
import { simulatedFleet } from '../../gateways/simulator/fleet.ts';
import { kinesisAllShardsSource } from '../../sources/kinesis/allShardsSource.ts';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { kplDeaggregation } from '../../sources/kinesis/kplDeaggregation.ts';
import {
  type BatchContext,
  comparePositions,
  hashKeyOf,
  inHashRange,
  type RawRecord,
  type RuntimeEvent,
  type Sink,
  systemClock,
  TopologyBuilder,
  TopologyRuntime,
} from '../../topology/index.ts';
import { createStream, splitFirstShard, uniqueStream } from '../support/kinesis.ts';
import { testEnv, waitFor } from '../support/wait.ts';

const endpoint = testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT');
const decoder = new TextDecoder();

interface Delivered {
  readonly record: RawRecord;
  readonly ctxShardId: string;
}

function collectingSink(into: Delivered[]): Sink<RawRecord> {
  return {
    type: 'collect',
    write: async (batch, ctx: BatchContext) => {
      for (const record of batch) into.push({ record, ctxShardId: ctx.shardId });
    },
  };
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

async function shardsOf(client: KinesisClient, name: string): Promise<Shard[]> {
  return (await client.send(new ListShardsCommand({ StreamName: name }))).Shards ?? [];
}

/** The shard whose hash key range holds the partition key (Kinesis hashes keys with MD5). */
function shardForKey(shards: readonly Shard[], partitionKey: string): string | undefined {
  const hash = hashKeyOf(partitionKey);
  const open = shards.filter((s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined);
  return open.find((s) =>
    inHashRange(hash, {
      startingHashKey: s.HashKeyRange!.StartingHashKey!,
      endingHashKey: s.HashKeyRange!.EndingHashKey!,
    }),
  )?.ShardId;
}

function topologyFor(source: ReturnType<typeof kinesisAllShardsSource>, into: Delivered[]) {
  const b = new TopologyBuilder('kinesis-it');
  b.source('kinesis', source).to('collect', collectingSink(into));
  const runtime = new TopologyRuntime(b.build(), { checkpointIntervalMs: 0 });
  const events: RuntimeEvent[] = [];
  runtime.events.subscribe((e) => events.push(e));
  return { runtime, events };
}

describe('kinesis all-shards source (kinesalite)', () => {
  let client: KinesisClient;
  const fast = { idleTimeBetweenReadsMs: 20, maxIdleTimeMs: 100 };

  beforeAll(() => {
    client = createKinesisClient({ region: 'us-east-1', endpoint });
  });
  afterAll(() => client?.destroy());

  it('delivers every record of four shards exactly once, in order, on the right shard', async () => {
    const stream = uniqueStream('four');
    await createStream(client, stream, 4);
    const fleet = simulatedFleet({ devices: 200, seed: 11 });
    const envelopes = fleet.batch(Date.UTC(2025, 0, 1), 2000);
    const producer = kinesisProducer({ client, clock: systemClock, streamName: stream });
    expect(await producer.put(envelopes)).toBe(2000);

    const delivered: Delivered[] = [];
    const source = kinesisAllShardsSource(
      { streamName: stream, endpoint, ...fast },
      { clock: systemClock, client },
    );
    const { runtime, events } = topologyFor(source, delivered);
    const started = performance.now();
    const running = runtime.run();
    await waitFor('2000 records', () => delivered.length >= 2000);
    const elapsedMs = performance.now() - started;
    console.log(`read 2000 records from 4 shards in ${elapsedMs.toFixed(0)} ms`);
    await runtime.stop();
    await running;

    // exactly once: the same multiset of envelopes, no sequence number twice
    expect(delivered).toHaveLength(2000);
    expect(new Set(delivered.map((d) => `${d.record.shardId}/${d.record.sequenceNumber}`)).size).toBe(2000);
    const received = delivered.map((d) => decoder.decode(d.record.data)).sort();
    expect(received).toEqual(envelopes.map((e) => JSON.stringify(e)).sort());

    // right shard: the one whose hash range holds the device id, also the shard the pipeline ran in
    const shards = await shardsOf(client, stream);
    expect(shards).toHaveLength(4);
    for (const { record, ctxShardId } of delivered) {
      expect(record.shardId).toBe(ctxShardId);
      expect(record.shardId).toBe(shardForKey(shards, record.partitionKey));
      expect(record.stream).toBe(stream);
    }

    // order: rising sequence numbers per shard, and each device's readings in the order put
    const byShard = groupBy(delivered, (d) => d.record.shardId);
    expect(byShard.size).toBe(4);
    for (const list of byShard.values()) {
      for (let i = 1; i < list.length; i++) {
        const a = { sequenceNumber: list[i - 1]!.record.sequenceNumber, subSequenceNumber: 0 };
        const b = { sequenceNumber: list[i]!.record.sequenceNumber, subSequenceNumber: 0 };
        expect(comparePositions(a, b)).toBeLessThan(0);
      }
    }
    const putOrder = groupBy(envelopes, (e) => e.topic!);
    const readOrder = groupBy(
      delivered.map((d) => JSON.parse(decoder.decode(d.record.data))),
      (e: { topic: string }) => e.topic,
    );
    for (const [topic, list] of putOrder) expect(readOrder.get(topic)).toEqual(list);

    // the runtime handed each shard's last position to the source
    const checkpoints = source.checkpoints();
    for (const [shardId, list] of byShard) {
      expect(checkpoints.get(shardId)?.sequenceNumber).toBe(list.at(-1)!.record.sequenceNumber);
    }
    expect(events.filter((e) => e.type === 'checkpoint').length).toBeGreaterThanOrEqual(4);
  });

  it("reads KPL aggregates a producer packed per shard: every user record once, on its own key's shard, in order", async () => {
    const stream = uniqueStream('kpl');
    await createStream(client, stream, 3);
    const envelopes = simulatedFleet({ devices: 150, seed: 5 }).batch(Date.UTC(2025, 0, 1), 3000);
    const producer = kinesisProducer({
      client,
      clock: systemClock,
      streamName: stream,
      aggregation: { maxBytes: 8192 },
    });
    expect(await producer.put(envelopes)).toBe(3000);
    expect(producer.recordsPut).toBe(3000);

    const aggregates: RawRecord[] = [];
    const users: RawRecord[] = [];
    const b = new TopologyBuilder('kpl-it');
    const kinesis = b.source(
      'kinesis',
      kinesisAllShardsSource({ streamName: stream, endpoint, ...fast }, { clock: systemClock, client }),
    );
    kinesis.to('aggregates', {
      type: 'collect',
      write: async (batch: readonly RawRecord[]) => void aggregates.push(...batch),
    });
    const unpacked = kinesis.via('kpl', kplDeaggregation());
    const corrupt: unknown[] = [];
    unpacked.side('dlq').to('corrupt', {
      type: 'collect',
      write: async (batch: readonly unknown[]) => void corrupt.push(...batch),
    });
    unpacked.to('users', {
      type: 'collect',
      write: async (batch: readonly RawRecord[]) => void users.push(...batch),
    });
    const runtime = new TopologyRuntime(b.build(), { checkpointIntervalMs: 0 });
    const running = runtime.run();
    await waitFor('3000 user records', () => users.length >= 3000);
    await runtime.stop();
    await running;

    // far fewer Kinesis records than user records, each within the size bound
    expect(aggregates.length).toBeLessThan(200);
    for (const a of aggregates) expect(a.data.byteLength).toBeLessThanOrEqual(8192);
    expect(users).toHaveLength(3000);
    expect(corrupt).toEqual([]);
    const received = users.map((u) => decoder.decode(u.data)).sort();
    expect(received).toEqual(envelopes.map((e) => JSON.stringify(e)).sort());
    const shards = await shardsOf(client, stream);
    for (const u of users) expect(u.shardId).toBe(shardForKey(shards, u.partitionKey));
    const putOrder = groupBy(envelopes, (e) => e.topic!);
    const readOrder = groupBy(
      users.map((u) => JSON.parse(decoder.decode(u.data))),
      (e: { topic: string }) => e.topic,
    );
    for (const [topic, list] of putOrder) expect(readOrder.get(topic)).toEqual(list);
  });

  it('hands a resumed shard its checkpoint as start position, so timers fire on it before any new record', async () => {
    const stream = uniqueStream('resume');
    await createStream(client, stream, 1);
    const producer = kinesisProducer({ client, clock: systemClock, streamName: stream });
    await producer.put(simulatedFleet({ devices: 5, seed: 2 }).batch(Date.UTC(2025, 0, 1), 20));
    const source = kinesisAllShardsSource(
      { streamName: stream, endpoint, ...fast },
      { clock: systemClock, client },
    );
    const first: Delivered[] = [];
    const one = topologyFor(source, first);
    const running = one.runtime.run();
    await waitFor('20 records', () => first.length >= 20);
    await one.runtime.stop();
    await running;
    const [checkpoint] = [...source.checkpoints().values()];
    expect(checkpoint?.sequenceNumber).toBe(first.at(-1)!.record.sequenceNumber);

    // the same source again: the shard resumes after its checkpoint and gets no new record
    const ticks: { position: string; fromTimer: boolean | undefined }[] = [];
    const b = new TopologyBuilder('resume-it');
    b.source('kinesis', source)
      .via('tick', {
        type: 'tick',
        openShard: (ctx) => ctx.timers.registerProcessingTime('tick', ctx.clock.now()),
        onTimer: () => ['tick'],
        process: () => [],
      })
      .to('ticks', {
        type: 'collect',
        write: async (batch: readonly string[], ctx: BatchContext) => {
          for (const _ of batch)
            ticks.push({ position: ctx.position.sequenceNumber, fromTimer: ctx.fromTimer });
        },
      });
    const two = new TopologyRuntime(b.build(), { checkpointIntervalMs: 0 });
    const again = two.run();
    await waitFor('a timer on the idle resumed shard', () => ticks.length >= 1);
    await two.stop();
    await again;
    expect(ticks[0]).toEqual({ position: checkpoint!.sequenceNumber, fromTimer: true });
  });

  it('reads the children of a split shard only after the parent was read to its end', async () => {
    const stream = uniqueStream('split');
    await createStream(client, stream, 1);
    const fleet = simulatedFleet({ devices: 40, seed: 3 });
    const producer = kinesisProducer({ client, clock: systemClock, streamName: stream });
    const before = fleet.batch(Date.UTC(2025, 0, 1), 300);
    await producer.put(before);
    const parentId = await splitFirstShard(client, stream);
    const after = fleet.batch(Date.UTC(2025, 0, 1, 0, 1), 300);
    await producer.put(after);

    const delivered: Delivered[] = [];
    const source = kinesisAllShardsSource(
      { streamName: stream, endpoint, ...fast },
      { clock: systemClock, client },
    );
    const { runtime, events } = topologyFor(source, delivered);
    const running = runtime.run();
    await waitFor('600 records', () => delivered.length >= 600);
    await runtime.stop();
    await running;

    expect(delivered).toHaveLength(600);
    const lastParent = delivered.findLastIndex((d) => d.record.shardId === parentId);
    const firstChild = delivered.findIndex((d) => d.record.shardId !== parentId);
    expect(lastParent).toBe(299);
    expect(firstChild).toBe(300);
    expect(new Set(delivered.slice(300).map((d) => d.record.shardId)).size).toBe(2);
    // the parent was released (its records all written) before any child was opened
    const released = events.findIndex((e) => e.type === 'shard-released' && e.shardId === parentId);
    const childOpened = events.findIndex((e) => e.type === 'shard-opened' && e.shardId !== parentId);
    expect(released).toBeGreaterThanOrEqual(0);
    expect(released).toBeLessThan(childOpened);
  });

  it('re-reads the tail of a parent whose last batch failed before letting its children start', async () => {
    const stream = uniqueStream('fail');
    await createStream(client, stream, 1);
    const fleet = simulatedFleet({ devices: 20, seed: 9 });
    const producer = kinesisProducer({ client, clock: systemClock, streamName: stream });
    await producer.put(fleet.batch(Date.UTC(2025, 0, 1), 200));
    const parentId = await splitFirstShard(client, stream);
    await producer.put(fleet.batch(Date.UTC(2025, 0, 1, 0, 1), 100));
    // one source object across both runs: its in-memory checkpoints play the lease table's part
    const source = kinesisAllShardsSource(
      { streamName: stream, endpoint, maxRecords: 50, ...fast },
      { clock: systemClock, client },
    );

    // first run: the sink refuses the parent's last page (records 150..199), for good
    const first: Delivered[] = [];
    const b = new TopologyBuilder('failing');
    b.source('kinesis', source).to('collect', {
      type: 'refuse-parent-tail',
      write: async (batch, ctx) => {
        // slow, so the reader has already reached the parent's end when its last page fails
        await new Promise((r) => setTimeout(r, 100));
        if (ctx.shardId === parentId && first.filter((d) => d.ctxShardId === parentId).length >= 150) {
          throw new Error('refused');
        }
        for (const record of batch) first.push({ record, ctxShardId: ctx.shardId });
      },
    });
    const failing = new TopologyRuntime(b.build(), {
      checkpointIntervalMs: 0,
      sinkRetry: { maxAttempts: 1, initialDelayMs: 0, maxDelayMs: 0 },
    });
    await expect(failing.run()).rejects.toThrow('refused');
    expect(first.some((d) => d.ctxShardId !== parentId)).toBe(false);

    // second run: the parent's last 50 come first, then the children's 100
    const second: Delivered[] = [];
    const { runtime } = topologyFor(source, second);
    const running = runtime.run();
    await waitFor('the rest', () => second.length >= 150);
    await runtime.stop();
    await running;
    expect(second).toHaveLength(150);
    expect(second.slice(0, 50).every((d) => d.record.shardId === parentId)).toBe(true);
    expect(second.slice(50).every((d) => d.record.shardId !== parentId)).toBe(true);
  });

  it('follows a split made while it runs', async () => {
    const stream = uniqueStream('live-split');
    await createStream(client, stream, 1);
    const fleet = simulatedFleet({ devices: 40, seed: 4 });
    const producer = kinesisProducer({ client, clock: systemClock, streamName: stream });
    const delivered: Delivered[] = [];
    const source = kinesisAllShardsSource(
      { streamName: stream, endpoint, ...fast },
      { clock: systemClock, client },
    );
    const { runtime } = topologyFor(source, delivered);
    const running = runtime.run();
    await producer.put(fleet.batch(Date.UTC(2025, 0, 1), 100));
    await waitFor('the parent records', () => delivered.length >= 100);
    const parentId = await splitFirstShard(client, stream);
    await producer.put(fleet.batch(Date.UTC(2025, 0, 1, 0, 1), 100));
    await waitFor('the child records', () => delivered.length >= 200);
    await runtime.stop();
    await running;
    expect(delivered).toHaveLength(200);
    expect(new Set(delivered.slice(100).map((d) => d.record.shardId)).size).toBe(2);
    expect(delivered.slice(100).every((d) => d.record.shardId !== parentId)).toBe(true);
  });

  it('ends promptly when stopped while its shards are idle', async () => {
    const stream = uniqueStream('abort');
    await createStream(client, stream, 2);
    // default idle waits (200 ms growing to 1 s): the readers are parked on the clock when stopped
    const source = kinesisAllShardsSource({ streamName: stream, endpoint }, { clock: systemClock, client });
    const { runtime, events } = topologyFor(source, []);
    const running = runtime.run();
    await waitFor('both shards open', () => events.filter((e) => e.type === 'shard-opened').length === 2);
    await new Promise((r) => setTimeout(r, 1500));
    const stopping = performance.now();
    await runtime.stop();
    await running;
    expect(performance.now() - stopping).toBeLessThan(250);
    expect(events.filter((e) => e.type === 'shard-released')).toHaveLength(2);
  });
});
