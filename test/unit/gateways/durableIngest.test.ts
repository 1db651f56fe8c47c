/**
 * The durable ingest against a scripted PutRecords endpoint: a fake only to inject per-entry
 * failures, throttles and silences in a chosen pattern (the integration test runs the same claims
 * against kinesalite behind the fault proxy).
 */
import {
  type KinesisClient,
  ListShardsCommand,
  type PutRecordsCommand,
  type PutRecordsRequestEntry,
} from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';
import { durableIngest, RecordRefusedError } from '../../../gateways/ingest/durableIngest.ts';
import { deaggregate } from '../../../sources/kinesis/retrieval/kpl.ts';
import { systemClock } from '../../../topology/index.ts';

interface Script {
  /** Whether the entry at `index` of request number `request` fails. */
  failEntry?: (request: number, index: number) => boolean;
  /** Whether request number `request` is throttled as a whole. */
  throttle?: (request: number) => boolean;
  /** Holds every request until `release` resolves. */
  hold?: () => Promise<void>;
}

/** Two shards, split at the middle of the hash key range, as ListShards gives them. */
const HALF = 2n ** 127n;
const twoShards = [
  {
    ShardId: 'shardId-000000000000',
    HashKeyRange: { StartingHashKey: '0', EndingHashKey: String(HALF - 1n) },
  },
  {
    ShardId: 'shardId-000000000001',
    HashKeyRange: { StartingHashKey: String(HALF), EndingHashKey: String(2n ** 128n - 1n) },
  },
];

/**
 * A PutRecords endpoint that keeps what it accepted, user records de-aggregated, in order; ListShards
 * answers `shards()`.
 */
function scriptedKinesis(script: Script = {}, shards: () => unknown[] = () => twoShards) {
  const landed: { key: string; data: string }[] = [];
  let requests = 0;
  const maxEntriesPerKey: number[] = [];
  const entriesPerRequest: number[] = [];
  const client = {
    async send(command: PutRecordsCommand | ListShardsCommand) {
      if (command instanceof ListShardsCommand) return { Shards: shards() };
      const request = requests++;
      await script.hold?.();
      const entries = command.input.Records as PutRecordsRequestEntry[];
      const keys = entries.map((e) => e.PartitionKey!);
      entriesPerRequest.push(entries.length);
      maxEntriesPerKey.push(Math.max(...[...new Set(keys)].map((k) => keys.filter((x) => x === k).length)));
      if (script.throttle?.(request))
        throw Object.assign(new Error('Rate exceeded'), {
          name: 'ProvisionedThroughputExceededException',
          $metadata: { httpStatusCode: 400 },
        });
      const results = entries.map((entry, i) => {
        if (script.failEntry?.(request, i)) return { ErrorCode: 'ProvisionedThroughputExceededException' };
        const data = entry.Data!;
        const kpl = deaggregate(data);
        if (kpl.kind === 'aggregate')
          for (const r of kpl.records)
            landed.push({ key: r.partitionKey, data: Buffer.from(r.data).toString() });
        else landed.push({ key: entry.PartitionKey!, data: Buffer.from(data).toString() });
        return { SequenceNumber: String(landed.length), ShardId: 'shardId-000000000000' };
      });
      return { FailedRecordCount: results.filter((r) => 'ErrorCode' in r).length, Records: results };
    },
  } as unknown as KinesisClient;
  return { client, landed, maxEntriesPerKey, entriesPerRequest, requests: () => requests };
}

const record = (key: string, n: number) => ({ partitionKey: key, data: Buffer.from(`${key}#${n}`) });
const fast = { lingerMs: 2, initialRetryDelayMs: 1, maxRetryDelayMs: 5, lanes: 'key' as const };

describe('durable ingest', () => {
  /** Puts `rounds` records of each of `keys`, with a fifth of the entries and requests failing. */
  async function putUnderFaults(
    lanes: 'key' | 'shard',
    keys: readonly string[],
    rounds: number,
    shards?: () => unknown[],
  ) {
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const kinesis = scriptedKinesis(
      { failEntry: () => random() < 0.2, throttle: (n) => n % 5 === 1 },
      shards,
    );
    const ingest = durableIngest({
      client: kinesis.client,
      streamName: 's',
      clock: systemClock,
      limits: { ...fast, lanes, shardMapTtlMs: 20 },
    });
    const all: Promise<void>[] = [];
    for (let n = 0; n < rounds; n++) {
      for (const key of keys) all.push(ingest.put(record(key, n)));
      if (n % 10 === 9) await new Promise((r) => setTimeout(r, 15));
    }
    await Promise.all(all);
    // every acknowledged record is in the stream, exactly once, and each key's are in order
    expect(kinesis.landed).toHaveLength(keys.length * rounds);
    expect(new Set(kinesis.landed.map((l) => l.data)).size).toBe(keys.length * rounds);
    for (const key of keys) {
      const mine = kinesis.landed.filter((l) => l.key === key).map((l) => Number(l.data.split('#')[1]));
      expect(mine).toEqual(Array.from({ length: rounds }, (_, n) => n));
    }
    expect(ingest.stats().entriesFailed).toBeGreaterThan(0);
    expect(ingest.stats().requestsFailed).toBeGreaterThan(0);
    await ingest.close();
    return kinesis;
  }

  const keys = Array.from({ length: 40 }, (_, i) => `dev-${i}`);

  it('keeps each key in order and loses nothing when a fifth of the entries and requests fail (a lane per key)', async () => {
    const kinesis = await putUnderFaults('key', keys, 50);
    expect(Math.max(...kinesis.maxEntriesPerKey)).toBe(1); // never two entries of one key in one request
  });

  it('does the same with a lane per shard, at most one entry per shard in a request', async () => {
    const kinesis = await putUnderFaults('shard', keys, 50);
    // lanes per key until the shard map is read (the first requests), then per shard
    const later = kinesis.entriesPerRequest.slice(Math.floor(kinesis.entriesPerRequest.length / 2));
    expect(Math.max(...later)).toBeLessThanOrEqual(2);
    // many devices' records share an aggregate: far fewer entries than records
    expect(kinesis.entriesPerRequest.reduce((a, b) => a + b, 0)).toBeLessThan(keys.length * 50 * 0.2);
  });

  it('keeps each key in order across a reshard (new lanes only once the entries in flight returned)', async () => {
    let calls = 0;
    const third = 2n ** 126n;
    const split = [
      {
        ShardId: 'shardId-000000000002',
        HashKeyRange: { StartingHashKey: '0', EndingHashKey: String(third - 1n) },
      },
      {
        ShardId: 'shardId-000000000003',
        HashKeyRange: { StartingHashKey: String(third), EndingHashKey: String(HALF - 1n) },
      },
      twoShards[1],
    ];
    // the map changes after a few reads: shard 0 split in two
    await putUnderFaults('shard', keys, 60, () => (++calls < 3 ? twoShards : split));
    expect(calls).toBeGreaterThanOrEqual(3);
  });

  it('resolves a record only once it is in the stream', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const kinesis = scriptedKinesis({ hold: () => gate });
    const ingest = durableIngest({
      client: kinesis.client,
      streamName: 's',
      clock: systemClock,
      limits: fast,
    });
    let durable = false;
    const put = ingest.put(record('a', 1)).then(() => {
      durable = true;
    });
    await new Promise((r) => setTimeout(r, 30));
    expect(durable).toBe(false);
    expect(kinesis.landed).toHaveLength(0);
    release();
    await put;
    expect(kinesis.landed).toEqual([{ key: 'a', data: 'a#1' }]);
    await ingest.close();
  });

  it('refuses past its bound, makes room again, and rejects what it still holds when closed', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const kinesis = scriptedKinesis({ hold: () => gate });
    const ingest = durableIngest({
      client: kinesis.client,
      streamName: 's',
      clock: systemClock,
      limits: { ...fast, maxBufferedRecords: 10 },
    });
    const taken = Array.from({ length: 10 }, (_, n) => ingest.offer(record(`k${n % 3}`, n)));
    expect(taken.every((t) => t.accepted)).toBe(true);
    const refused = ingest.offer(record('k0', 99));
    expect(refused).toMatchObject({ accepted: false, reason: 'full' });
    expect(ingest.hasRoom).toBe(false);
    const room = ingest.whenRoom();
    release();
    await room;
    expect(ingest.hasRoom).toBe(true);
    for (const t of taken) if (t.accepted) await t.durable;
    expect(kinesis.landed).toHaveLength(10);

    // a stream that never answers: close gives up after its drain time and rejects, never resolves
    const silent = scriptedKinesis({ hold: () => new Promise(() => {}) });
    const stuck = durableIngest({ client: silent.client, streamName: 's', clock: systemClock, limits: fast });
    const pending = stuck.put(record('z', 1));
    await stuck.close(50);
    await expect(pending).rejects.toThrow(/closed before the record was put/);
    expect(stuck.offer(record('z', 2))).toMatchObject({ accepted: false, reason: 'closed' });
    await ingest.close();
  });

  it('sends a waiting key as one aggregate and refuses a record or key Kinesis cannot hold', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let first = true;
    const kinesis = scriptedKinesis({
      hold: () => {
        if (!first) return Promise.resolve();
        first = false;
        return gate;
      },
    });
    const ingest = durableIngest({
      client: kinesis.client,
      streamName: 's',
      clock: systemClock,
      limits: fast,
    });
    const head = ingest.put(record('hub-1', 0));
    await new Promise((r) => setTimeout(r, 10)); // the first request is in flight, held
    const rest = Array.from({ length: 20 }, (_, n) => ingest.put(record('hub-1', n + 1)));
    release();
    await Promise.all([head, ...rest]);
    expect(kinesis.requests()).toBe(2);
    expect(kinesis.landed.map((l) => l.data)).toEqual(Array.from({ length: 21 }, (_, n) => `hub-1#${n}`));
    expect(() => ingest.offer({ partitionKey: 'x', data: new Uint8Array(1024 * 1024) })).toThrow(
      RecordRefusedError,
    );
    // a key Kinesis refuses would fail the whole request it shared with others: refused alone
    expect(() => ingest.offer({ partitionKey: '', data: new Uint8Array(1) })).toThrow(RecordRefusedError);
    expect(() => ingest.offer({ partitionKey: 'k'.repeat(257), data: new Uint8Array(1) })).toThrow(
      /257 bytes/,
    );
    await ingest.close();
  });
});
