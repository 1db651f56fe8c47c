/**
 * A PostgreSQL outage under the Hot and Warm sinks, through the real topology runtime: a TCP proxy
 * in front of the real server cuts every connection for 10 s (the outage a real server cannot be
 * told to have). The shards stop pulling from the source (bounded buffers), nothing is stored or
 * checkpointed past what PostgreSQL acknowledged, and once the database answers again every record
 * is stored exactly once and the checkpoints reach the last batch, with no help from outside.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadLetterStoreSink } from '../../sinks/deadletter/deadLetterStore.ts';
import { postgresDeadLetterStore } from '../../sinks/deadletter/postgresDeadLetterStore.ts';
import { hotTelemetrySink } from '../../sinks/hot/hotTelemetrySink.ts';
import { postgresHotStore } from '../../sinks/hot/postgresHotStore.ts';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { pgSqlClient } from '../../sinks/postgres/sql.ts';
import { openWarmStore, type WarmStore, warmStoreConfigSchema } from '../../sinks/postgres/store.ts';
import { warmDailyAggregateSink } from '../../sinks/warm/dailyAggregateSink.ts';
import { readDailyAggregates } from '../../sinks/warm/dailyAggregates.ts';
import {
  type Enriched,
  MemorySource,
  type Position,
  TopologyBuilder,
  TopologyRuntime,
  type WindowAggregate,
} from '../../topology/index.ts';
import { type FaultProxy, startFaultProxy } from '../support/faultProxy.ts';
import { createTestDatabase, type TestDatabase, testPool } from '../support/postgres.ts';
import { enriched } from '../support/records.ts';
import { waitFor } from '../support/wait.ts';

const WINDOW = 2;
const BATCH = 250;
const SHARD = 'shardId-000000000000';
const DAY = 86_400_000;

describe('Hot and Warm sinks through a PostgreSQL outage', () => {
  let db: TestDatabase;
  let proxy: FaultProxy;
  let warm: WarmStore;
  let reader: pg.Pool;

  beforeAll(async () => {
    db = await createTestDatabase('hotoutage');
    const url = new URL(db.url);
    proxy = await startFaultProxy(url.hostname, Number(url.port));
    url.host = `127.0.0.1:${proxy.port}`;
    // pool size and connect timeout from the store's configuration, as a worker would have them
    warm = openWarmStore(
      warmStoreConfigSchema.parse({ writeUrl: url.toString(), maxConnections: 2, connectTimeoutMs: 300 }),
    );
    reader = testPool(db.url, 1);
    await migrateWarm(pgSqlClient(new pg.Pool({ connectionString: db.url, max: 1 })));
  });
  afterAll(async () => {
    await warm?.close();
    await reader?.end();
    await proxy?.close();
    await db?.drop();
  });

  it('stops the shard with bounded buffers while PostgreSQL is away, loses nothing, and resumes by itself', async () => {
    const telemetry = new MemorySource<Enriched>();
    const aggregates = new MemorySource<WindowAggregate>();
    const b = new TopologyBuilder('outage');
    // an outage is transient: retried, never isolated, so the rejected outputs stay empty
    const rejected = () => deadLetterStoreSink(postgresDeadLetterStore(warm.write));
    b.source('telemetry', telemetry)
      .to('hot-telemetry', hotTelemetrySink(postgresHotStore(warm, { retentionDays: 10 })))
      .rejected()
      .to('hot-telemetry-rejected', rejected());
    b.source('aggregates', aggregates)
      .to('daily-aggregates', warmDailyAggregateSink(warm.write))
      .rejected()
      .to('daily-aggregates-rejected', rejected());
    const runtime = new TopologyRuntime(b.build(), {
      maxInFlightBatches: WINDOW,
      checkpointIntervalMs: 0,
      sinkRetry: { maxAttempts: 0, initialDelayMs: 50, maxDelayMs: 500 },
    });
    const done = runtime.run();
    const node = (name: string) => runtime.metrics().nodes.find((n) => n.node === name)!;
    const stored = async () =>
      Number((await reader.query('SELECT count(*) AS n FROM hot_telemetry')).rows[0].n);

    const base = Date.now() - 3_600_000;
    let sequence = 0;
    const batch = () =>
      Array.from({ length: BATCH }, () => {
        sequence++;
        return enriched(`dev-${sequence % 40}`, base + sequence, sequence, { temperature: sequence % 30 });
      });
    const daily = (revision: number): WindowAggregate => ({
      scope: 'customer-product',
      window: '1d',
      productId: 'env-h1',
      customerId: 'customer-1',
      metric: 'temperature',
      windowStart: Math.floor(base / DAY) * DAY,
      windowEnd: Math.floor(base / DAY) * DAY + DAY,
      revision,
      final: false,
      stats: {
        count: revision,
        sum: revision,
        min: 1,
        max: 1,
        mean: 1,
        m2: 0,
        first: 1,
        firstAt: base,
        last: 1,
        lastAt: base,
      },
    });

    telemetry.push(SHARD, batch());
    aggregates.push(SHARD, [daily(1)]);
    // acknowledged by both statements (telemetry and latest state), hence checkpointed
    await waitFor('the first batch checkpointed', () => telemetry.checkpoints.get(SHARD)?.length === 1);
    expect(await stored()).toBe(BATCH);

    const errorsBefore = node('hot-telemetry').errors;
    const heapBefore = process.memoryUsage().heapUsed;
    proxy.down();
    let last: Position | undefined;
    for (let i = 0; i < 40; i++) last = telemetry.push(SHARD, batch());
    aggregates.push(SHARD, [daily(2)]);
    await new Promise((r) => setTimeout(r, 10_000));

    // the sinks kept failing and retrying; the shard pulled at most its window (plus the one
    // waiting for room) and holds at most a window of records
    expect(node('hot-telemetry').errors).toBeGreaterThan(errorsBefore + 3);
    expect(node('daily-aggregates').errors).toBeGreaterThan(0);
    expect(telemetry.pulled(SHARD)).toBeLessThanOrEqual(1 + WINDOW + 1);
    const shard = runtime.metrics().shards.find((s) => s.source === 'telemetry')!;
    expect(shard.maxBufferedRecords).toBeLessThanOrEqual(WINDOW * BATCH);
    expect(await stored()).toBe(BATCH);
    expect(telemetry.checkpoints.get(SHARD)?.at(-1)).toEqual({
      sequenceNumber: String(BATCH),
      subSequenceNumber: 0,
    });
    const heapGrowthMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
    expect(heapGrowthMb).toBeLessThan(64);

    proxy.up();
    await waitFor('the backlog stored', async () => (await stored()) === 41 * BATCH, 60_000);
    await waitFor(
      'the checkpoint at the last batch',
      () => telemetry.checkpoints.get(SHARD)?.at(-1)?.sequenceNumber === last?.sequenceNumber,
    );
    await waitFor(
      'the daily aggregate at revision 2',
      async () => (await readDailyAggregates(warm.read))[0]?.revision === 2,
    );
    const { rows } = await reader.query(
      'SELECT count(DISTINCT (sequence_number)) AS n, count(*) AS total FROM hot_telemetry',
    );
    expect(Number(rows[0].n)).toBe(41 * BATCH);
    expect(Number(rows[0].total)).toBe(41 * BATCH);
    telemetry.endAll();
    aggregates.endAll();
    await runtime.stop();
    await done;
  }, 120_000);
});
