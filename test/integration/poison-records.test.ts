/**
 * No record can stall a shard. Records with store-hostile fields (NUL bytes in every text field, ids
 * of 10,000 characters, every envelope field with wrong types and extreme values, text metrics the
 * stores cannot hold) are put between good records on every shard of a stream, and real
 * `shardflow run` processes read it on real PostgreSQL, Redis, kinesalite and dynalite: every good
 * record is in the Hot store, every bad one is a dead letter with a reason, and every shard's
 * checkpoint in the lease table reaches the end of the stream. The mutations are drawn by
 * fast-check from a fixed seed, so a failure replays exactly.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { WorkerConfigInput } from '../../cli/config.ts';
import { shardRouter } from '../../gateways/kinesis/kplAggregation.ts';
import { openShardRanges } from '../../gateways/kinesis/producer.ts';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import type { Position } from '../../topology/index.ts';
import { uniqueTable } from '../support/dynamodb.ts';
import { createStream, uniqueStream } from '../support/kinesis.ts';
import { createTestDatabase, type TestDatabase, testPool } from '../support/postgres.ts';
import { testEnv } from '../support/wait.ts';
import { type WorkerFleet, workerFleet } from '../support/workerProcesses.ts';

const SHARDS = 4;
const GOOD = 240;
const BAD = 160;
const NOW = Date.now();

/** A JSON product whose device id comes from the payload and which carries a free text metric. */
const FIELD_SPEC = `id: fuzz-f1
version: 1
productId: fuzz-f1
match:
  productId: fuzz-f1
format:
  type: json
  fields:
    device_id: device
    ts: ts
    reading: reading
    note: note
telemetry:
  deviceId: { from: field, field: device_id }
  timestamp: { field: ts, kind: epoch-ms }
contract:
  metrics:
    reading: { type: number, required: true, min: -1000, max: 1000 }
`;

/** A JSON product whose device id comes from the MQTT topic. */
const TOPIC_SPEC = `id: fuzz-t2
version: 1
productId: fuzz-t2
match:
  productId: fuzz-t2
  topic: things/{device}/data
format:
  type: json
  fields:
    ts: ts
    reading: reading
telemetry:
  deviceId: { from: topic }
  timestamp: { field: ts, kind: epoch-ms }
contract:
  metrics:
    reading: { type: number, required: true, min: -1000, max: 1000 }
`;

type Json = Record<string, unknown>;

function goodRecord(i: number): Json {
  const device = `dev-${i % 37}`;
  const ts = NOW - 60_000 + i;
  if (i % 3 === 0)
    return {
      v: 1,
      protocol: 'mqtt',
      topic: `things/${device}/data`,
      receivedAt: NOW,
      productId: 'fuzz-t2',
      encoding: 'utf8',
      payload: JSON.stringify({ ts, reading: i % 100 }),
    };
  return {
    v: 1,
    protocol: 'mqtt',
    topic: `devices/${device}/telemetry`,
    receivedAt: NOW,
    productId: 'fuzz-f1',
    encoding: 'utf8',
    payload: JSON.stringify({ device, ts, reading: i % 100, note: `reading ${i}` }),
  };
}

const LONG = 'x'.repeat(10_000);
const withNul = (text: string) =>
  fc.nat(text.length).map((at) => `${text.slice(0, at)}\u0000${text.slice(at)}`);
const wrongTypes = [null, true, 42, -1, 1e308, {}, [], [1, 2], { a: { b: 1 } }];

/** One store-hostile change to a good record; every one of them must end as a dead letter. */
const mutation: fc.Arbitrary<{ what: string; apply: (r: Json) => Json }> = fc.oneof(
  // the envelope's fields with wrong types and extreme values
  fc
    .record({
      field: fc.constantFrom('protocol', 'topic', 'source', 'productId', 'encoding'),
      value: fc.oneof(fc.constantFrom(...wrongTypes), withNul('abc'), fc.constant(LONG)),
    })
    .map(({ field, value }) => ({
      what: `envelope ${field}`,
      apply: (r: Json) => ({ ...r, [field]: value }),
    })),
  fc
    .constantFrom(...wrongTypes, 'text', '1700000000000', 0, 1_700_000_000, -1e308, 8.64e15)
    .map((value) => ({ what: 'envelope receivedAt', apply: (r: Json) => ({ ...r, receivedAt: value }) })),
  fc
    .constantFrom('smtp', '', 'MQTT')
    .map((value) => ({ what: 'envelope protocol', apply: (r: Json) => ({ ...r, protocol: value }) })),
  fc
    .constantFrom('rot13', '', 'BASE64')
    .map((value) => ({ what: 'envelope encoding', apply: (r: Json) => ({ ...r, encoding: value }) })),
  // NUL bytes and 10,000 characters in the ids
  fc
    .oneof(withNul('dev-1'), fc.constant(LONG), fc.constantFrom('', '\u0007bell', 'dev\ud800', 'a\u200bb'))
    .map((device) => ({
      what: 'payload device id',
      apply: (r: Json) => ({
        ...r,
        productId: 'fuzz-f1',
        payload: JSON.stringify({ device, ts: NOW, reading: 1 }),
      }),
    })),
  fc.oneof(withNul('dev-2'), fc.constant(LONG), fc.constant('a\u0001b')).map((device) => ({
    what: 'topic device id',
    apply: (r: Json) => ({
      ...r,
      productId: 'fuzz-t2',
      topic: `things/${device}/data`,
      payload: JSON.stringify({ ts: NOW, reading: 1 }),
    }),
  })),
  // text metrics a store cannot hold, and readings no store should get
  fc.oneof(withNul('a note'), fc.constantFrom('\u0001', 'x'.repeat(5000), 'half \udc00')).map((note) => ({
    what: 'payload note',
    apply: (r: Json) => ({
      ...r,
      productId: 'fuzz-f1',
      payload: JSON.stringify({ device: 'dev-3', ts: NOW, reading: 1, note }),
    }),
  })),
  fc.constantFrom<unknown>('abc', null, 1e308, true, -1e6).map((reading) => ({
    what: 'payload reading',
    apply: (r: Json) => ({
      ...r,
      productId: 'fuzz-f1',
      payload: JSON.stringify({ device: 'dev-4', ts: NOW, reading, note: 'n' }),
    }),
  })),
  fc.constantFrom<unknown>('abc', -1, 1e300, null, 8.64e15).map((ts) => ({
    what: 'payload time',
    apply: (r: Json) => ({
      ...r,
      productId: 'fuzz-f1',
      payload: JSON.stringify({ device: 'dev-5', ts, reading: 1, note: 'n' }),
    }),
  })),
  fc.constantFrom('not json{', '', '"just a string"', 'null').map((payload) => ({
    what: 'payload',
    apply: (r: Json) => ({ ...r, productId: 'fuzz-f1', payload }),
  })),
);

interface Put {
  readonly shardId: string;
  readonly position: Position;
  readonly good: boolean;
  readonly what: string;
}

/** Puts the records round-robin over the shards (one partition key per shard), in order; returns where each landed. */
async function putOnEveryShard(
  kinesis: KinesisClient,
  stream: string,
  records: readonly Json[],
  labels: readonly string[],
) {
  const route = shardRouter(await openShardRanges(kinesis, stream));
  const keys: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; keys.length < SHARDS; i++) {
    const shard = route(`key-${i}`);
    if (!seen.has(shard)) {
      seen.add(shard);
      keys.push(`key-${i}`);
    }
  }
  const puts: Put[] = [];
  for (let from = 0; from < records.length; from += 100) {
    const chunk = records.slice(from, from + 100);
    const out = await kinesis.send(
      new PutRecordsCommand({
        StreamName: stream,
        Records: chunk.map((r, k) => ({
          PartitionKey: keys[(from + k) % SHARDS]!,
          Data: new TextEncoder().encode(JSON.stringify(r)),
        })),
      }),
    );
    expect(out.FailedRecordCount ?? 0).toBe(0);
    out.Records!.forEach((entry, k) => {
      const label = labels[from + k]!;
      puts.push({
        shardId: entry.ShardId!,
        position: { sequenceNumber: entry.SequenceNumber!, subSequenceNumber: 0 },
        good: label === 'good',
        what: label,
      });
    });
  }
  return puts;
}

describe('records with store-hostile fields between good ones', () => {
  let db: TestDatabase | undefined;
  let fleet: WorkerFleet | undefined;
  afterAll(async () => {
    await fleet?.close();
    await db?.drop();
  });

  it('reach the Hot store when good and the dead letters when bad, and no shard stalls', async () => {
    const endpoint = testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT');
    const kinesis = createKinesisClient({ region: 'us-east-1', endpoint });
    const stream = uniqueStream('poison');
    await createStream(kinesis, stream, SHARDS);
    db = await createTestDatabase('poison');
    const specDir = mkdtempSync(join(tmpdir(), 'shardflow-poison-specs-'));
    writeFileSync(join(specDir, 'fuzz-f1.yaml'), FIELD_SPEC);
    writeFileSync(join(specDir, 'fuzz-t2.yaml'), TOPIC_SPEC);

    // good and bad records interleaved: each bad one is a good one with one hostile change
    const mutations = fc.sample(mutation, { seed: 1616, numRuns: BAD });
    const records: Json[] = [];
    const labels: string[] = [];
    for (let i = 0, bad = 0; i < GOOD + BAD; i++) {
      const poison = i % 5 === 2 || i % 5 === 4 ? mutations[bad++] : undefined;
      records.push(poison ? poison.apply(goodRecord(i)) : goodRecord(i));
      labels.push(poison ? poison.what : 'good');
    }
    const puts = await putOnEveryShard(kinesis, stream, records, labels);
    kinesis.destroy();
    for (let s = 0; s < SHARDS; s++) {
      const onShard = puts.filter((p) => p.shardId === puts[s]!.shardId);
      expect(onShard.some((p) => p.good) && onShard.some((p) => !p.good)).toBe(true);
    }

    const config: WorkerConfigInput = {
      topology: { name: `poison-${stream.slice(-8)}` },
      source: {
        kinesis: {
          streamName: stream,
          endpoint,
          region: 'us-east-1',
          maxRecords: 50,
          idleTimeBetweenReadsMs: 50,
        },
        leases: {
          tableName: uniqueTable('poison'),
          endpoint: testEnv('SHARDFLOW_TEST_DYNAMODB_ENDPOINT'),
          failoverTimeMs: 5000,
          takeIntervalMs: 300,
        },
      },
      decode: { specDir },
      state: { backend: 'redis', redisUrl: testEnv('SHARDFLOW_TEST_REDIS_URL') },
      warm: { writeUrl: db.url },
      runtime: { checkpointIntervalMs: 200 },
      log: { level: 'info' },
    };
    fleet = workerFleet(config, { timeoutMs: 5 * 60_000 });
    const worker = fleet.start('poison-1');
    await worker.started();

    const ends = new Map<string, Position>();
    for (const p of puts) ends.set(p.shardId, p.position);
    await fleet.waitForCheckpoints(ends, 120_000);

    const pool = testPool(db.url, 1);
    try {
      const key = (
        p: { shardId: string; position: Position } | { shard_id: string; sequence_number: string },
      ) =>
        'position' in p ? `${p.shardId}/${p.position.sequenceNumber}` : `${p.shard_id}/${p.sequence_number}`;
      const hot = await pool.query<{ shard_id: string; sequence_number: string }>(
        'SELECT shard_id, sequence_number FROM hot_telemetry',
      );
      const dead = await pool.query<{
        shard_id: string;
        sequence_number: string;
        code: string | null;
        reason: string;
      }>('SELECT shard_id, sequence_number, code, reason FROM dead_letters');
      const good = puts
        .filter((p) => p.good)
        .map(key)
        .sort();
      const bad = puts.filter((p) => !p.good);
      // every good record arrived, once, and nothing bad did
      expect(hot.rows.map(key).sort()).toEqual(good);
      // every bad record is a dead letter with a code and a reason
      const deadByKey = new Map(dead.rows.map((d) => [key(d), d]));
      const missing = bad.filter((p) => !deadByKey.has(key(p))).map((p) => p.what);
      expect(missing).toEqual([]);
      expect(dead.rows).toHaveLength(bad.length);
      for (const d of dead.rows) {
        expect(d.code).toBeTruthy();
        expect(d.reason.length).toBeGreaterThan(0);
      }
      const codes = new Set(dead.rows.map((d) => d.code));
      for (const code of ['invalid-envelope', 'invalid-id', 'invalid-text']) expect(codes).toContain(code);
    } finally {
      await pool.end();
    }
    const stopped = await worker.stop();
    expect(stopped.code).toBe(0);
  });
});
