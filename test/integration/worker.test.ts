/**
 * The worker as `shardflow run` starts it, end to end on real servers: kinesalite → the telemetry
 * topology → PostgreSQL. Every record produced is stored in Hot or dead-lettered exactly once, the admin
 * port answers, and a database outage stalls the shards (bounded buffers, retries) without losing
 * anything.
 */
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWorkerConfig } from '../../cli/config.ts';
import { startWorker, type Worker } from '../../cli/worker.ts';
import { kinesisProducer } from '../../gateways/kinesis/producer.ts';
import { simulatedFleet } from '../../gateways/simulator/fleet.ts';
import type { KinesisAllShardsSource } from '../../sources/kinesis/allShardsSource.ts';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { silentLogger, systemClock } from '../../topology/index.ts';
import { type FaultProxy, startFaultProxy } from '../support/faultProxy.ts';
import { createStream, uniqueStream } from '../support/kinesis.ts';
import { createTestDatabase, storeTotals, type TestDatabase, testPool } from '../support/postgres.ts';
import { testEnv, waitFor } from '../support/wait.ts';

const MAX_RECORDS = 100;
const WINDOW = 2;

describe('worker end to end (kinesalite → topology → PostgreSQL)', () => {
  let kinesis: KinesisClient;
  let db: TestDatabase;
  let proxy: FaultProxy;
  let reader: pg.Pool;
  let worker: Worker;
  let stream: string;

  const totals = () => storeTotals(reader);
  const node = (name: string) => worker.runtime.metrics().nodes.find((n) => n.node === name)!;
  // failed attempts of every node: the first to reach the database (enrich's directory lookups, or
  // the Hot sinks for devices it has cached) stalls the shard
  const errors = () => worker.runtime.metrics().nodes.reduce((sum, n) => sum + n.errors, 0);

  beforeAll(async () => {
    const endpoint = testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT');
    kinesis = createKinesisClient({ region: 'us-east-1', endpoint });
    stream = uniqueStream('worker');
    await createStream(kinesis, stream, 4);
    db = await createTestDatabase('worker');
    const dbUrl = new URL(db.url);
    proxy = await startFaultProxy(dbUrl.hostname, Number(dbUrl.port));
    dbUrl.host = `127.0.0.1:${proxy.port}`;
    reader = testPool(db.url, 1);
    const config = parseWorkerConfig(
      {
        source: {
          kinesis: {
            streamName: stream,
            endpoint,
            maxRecords: MAX_RECORDS,
            idleTimeBetweenReadsMs: 20,
            maxIdleTimeMs: 100,
          },
        },
        warm: { writeUrl: dbUrl.toString(), connectTimeoutMs: 500 },
        runtime: {
          maxInFlightBatches: WINDOW,
          checkpointIntervalMs: 100,
          sinkRetry: { maxAttempts: 0, initialDelayMs: 50, maxDelayMs: 200 },
        },
        admin: { port: 0 },
      },
      {},
    );
    worker = await startWorker(config, { log: silentLogger, clock: systemClock });
  });

  afterAll(async () => {
    await worker?.stop();
    await reader?.end();
    await proxy?.close();
    await db?.drop();
    kinesis?.destroy();
  });

  it('stores or dead-letters every record produced, exactly once', async () => {
    const fleet = simulatedFleet({ devices: 50, seed: 7, malformedFraction: 0.05 });
    const producer = kinesisProducer({ client: kinesis, clock: systemClock, streamName: stream });
    const produced = await producer.put(fleet.batch(Date.now(), 1000));
    await waitFor('all records stored', async () => {
      const t = await totals();
      return t.stored + t.dead >= produced;
    });
    const t = await totals();
    expect(t.stored + t.dead).toBe(produced);
    expect(t.dead).toBeGreaterThan(0);
    expect(node('decode').recordsIn).toBe(produced);
    // a sink's batch is counted when its write returns, a moment after the rows are visible
    await waitFor(
      'the dead-letter sink to count its last batch',
      () => node('dead-letters').recordsIn >= t.dead,
    );
    expect(node('dead-letters').recordsIn).toBe(t.dead);
  });

  it('serves health, Prometheus metrics and the topology on the admin port', async () => {
    const base = worker.admin!.url;
    expect((await fetch(`${base}healthz`)).status).toBe(200);
    expect((await fetch(`${base}readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${base}metrics`)).text();
    expect(metrics).toMatch(/shardflow_node_records_in_total\{node="decode",kind="operator"\} [1-9]\d*/);
    expect(metrics).toContain(
      'shardflow_node_batch_latency_ms_bucket{node="hot-telemetry",kind="sink",le="+Inf"}',
    );
    expect(metrics).toMatch(
      /shardflow_shard_in_flight_batches\{source="kinesis",shard="shardId-000000000000"\} \d/,
    );
    // an operator's own gauges: the enrich stage looked the devices up (none is in the master data)
    expect(metrics).toMatch(/shardflow_enrich_lookups_total\{node="enrich"\} [1-9]/);
    expect(metrics).toMatch(/shardflow_enrich_unknown_devices_total\{node="enrich"\} [1-9]/);
    const topology = await (await fetch(`${base}topology`)).json();
    expect(topology).toEqual(JSON.parse(JSON.stringify(worker.description)));
    expect(await (await fetch(base)).text()).toContain('<div id="graph">');
    const layout = (await (await fetch(`${base}topology/layout`)).json()) as { nodes: { name: string }[] };
    expect(layout.nodes.map((n) => n.name).sort()).toEqual(
      worker.description.nodes.map((n) => n.name).sort(),
    );
  });

  it('stalls with bounded buffers while the database is down, then catches up without loss', async () => {
    const before = await totals();
    const fleet = simulatedFleet({ devices: 80, seed: 11 });
    const producer = kinesisProducer({ client: kinesis, clock: systemClock, streamName: stream });
    const processedBefore = node('decode').recordsIn;
    const errorsBefore = errors();

    proxy.down();
    const produced = await producer.put(fleet.batch(Date.now(), 3000));
    await waitFor('the database writes to fail', () => errors() > errorsBefore + 3);
    await new Promise((r) => setTimeout(r, 500));

    // The shards stopped fetching: at most a window of batches per shard was read while down.
    const shards = worker.runtime.metrics().shards;
    const readWhileDown = node('decode').recordsIn - processedBefore;
    expect(readWhileDown).toBeLessThanOrEqual(shards.length * (WINDOW + 1) * MAX_RECORDS);
    expect(readWhileDown).toBeLessThan(produced);
    for (const shard of shards) expect(shard.bufferedRecords).toBeLessThanOrEqual(WINDOW * MAX_RECORDS);
    expect(await totals()).toEqual(before);

    proxy.up();
    await waitFor(
      'the backlog to be stored',
      async () => {
        const t = await totals();
        return t.stored + t.dead >= before.stored + before.dead + produced;
      },
      60_000,
    );
    const after = await totals();
    expect(after.stored + after.dead).toBe(before.stored + before.dead + produced);
  });

  it('checkpoints every shard at the last record stored, then drains and stops on request', async () => {
    const source = worker.telemetry.topology.nodes[0]!.component as KinesisAllShardsSource;
    await waitFor('checkpoints on all shards', () => source.checkpoints().size === 4);
    await worker.stop();
    await worker.done;
    const shards = [...source.checkpoints().keys()].sort();
    expect(shards).toEqual([
      'shardId-000000000000',
      'shardId-000000000001',
      'shardId-000000000002',
      'shardId-000000000003',
    ]);
    expect((await fetch(`${worker.admin!.url}healthz`).catch(() => undefined))?.status).toBeUndefined();
  });
});
