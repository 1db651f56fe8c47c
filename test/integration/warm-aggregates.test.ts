/**
 * Daily customer x product aggregates in the Warm store on a real PostgreSQL server, written on the
 * write endpoint and read on the read endpoint (CQRS): here the read endpoint reaches the same
 * server through a proxy that can be cut, which shows which endpoint each call uses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listDeadLetters } from '../../sinks/deadletter/deadLetterQueries.ts';
import { deadLetterStoreSink } from '../../sinks/deadletter/deadLetterStore.ts';
import { postgresDeadLetterStore } from '../../sinks/deadletter/postgresDeadLetterStore.ts';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { openWarmStore, type WarmStore, warmStoreConfigSchema } from '../../sinks/postgres/store.ts';
import { warmDailyAggregateSink } from '../../sinks/warm/dailyAggregateSink.ts';
import { readDailyAggregates } from '../../sinks/warm/dailyAggregates.ts';
import { type BatchContext, ManualClock, type WindowAggregate } from '../../topology/index.ts';
import { type FaultProxy, startFaultProxy } from '../support/faultProxy.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';

const DAY = 86_400_000;
const D0 = Date.UTC(2026, 10, 20);
const ctx: BatchContext = {
  node: 'daily',
  shardId: 'shardId-000000000000',
  position: { sequenceNumber: '1', subSequenceNumber: 0 },
  clock: new ManualClock(),
};

function daily(over: Partial<WindowAggregate>): WindowAggregate {
  return {
    scope: 'customer-product',
    window: '1d',
    productId: 'env-h1',
    customerId: 'customer-1',
    metric: 'temperature',
    windowStart: D0,
    windowEnd: D0 + DAY,
    revision: 1,
    final: false,
    stats: {
      count: 4,
      sum: 80,
      min: 18,
      max: 22,
      mean: 20,
      m2: 8,
      first: 18,
      firstAt: D0 + 1,
      last: 22,
      lastAt: D0 + 9,
    },
    ...over,
  };
}

describe('Warm daily customer x product aggregates (write and read endpoints)', () => {
  let db: TestDatabase;
  let proxy: FaultProxy;
  let warm: WarmStore;

  beforeAll(async () => {
    db = await createTestDatabase('warmagg');
    const url = new URL(db.url);
    proxy = await startFaultProxy(url.hostname, Number(url.port));
    const readUrl = new URL(db.url);
    readUrl.host = `127.0.0.1:${proxy.port}`;
    warm = openWarmStore(
      warmStoreConfigSchema.parse({
        writeUrl: db.url,
        readUrl: readUrl.toString(),
        maxConnections: 2,
        connectTimeoutMs: 500,
      }),
    );
    await migrateWarm(warm.write);
  });
  afterAll(async () => {
    await warm?.close();
    await proxy?.close();
    await db?.drop();
  });

  it('upserts by (customer, product, metric, day) keeping the highest revision', async () => {
    const sink = warmDailyAggregateSink(warm.write);
    await sink.write(
      [
        daily({ revision: 1 }),
        daily({ revision: 2, final: true, stats: { ...daily({}).stats, count: 5 } }),
        daily({ customerId: null }),
        daily({ metric: 'humidity', windowStart: D0 + DAY, windowEnd: D0 + 2 * DAY }),
        // other scopes and windows are the Hot store's: passed over
        daily({ scope: 'product', customerId: undefined }),
        daily({ window: '1h', windowEnd: D0 + 3_600_000 }),
      ],
      ctx,
    );
    await sink.write([daily({ revision: 1, stats: { ...daily({}).stats, count: 99 } })], ctx);
    const rows = await readDailyAggregates(warm.read, { productId: 'env-h1' });
    expect(
      rows.map((r) => [r.customerId, r.metric, r.windowStart, r.revision, r.final, r.stats.count]),
    ).toEqual([
      [null, 'temperature', D0, 1, false, 4],
      ['customer-1', 'temperature', D0, 2, true, 5],
      ['customer-1', 'humidity', D0 + DAY, 1, false, 4],
    ]);
    expect(await readDailyAggregates(warm.read, { customerId: null })).toHaveLength(1);
    expect(await readDailyAggregates(warm.read, { from: D0 + DAY, to: D0 + 2 * DAY })).toEqual([
      daily({ metric: 'humidity', windowStart: D0 + DAY, windowEnd: D0 + 2 * DAY }),
    ]);
    await sink.write([daily({ revision: 3, stats: { ...daily({}).stats, count: 6 } })], ctx);
    expect(
      (await readDailyAggregates(warm.read, { customerId: 'customer-1', metric: 'temperature' }))[0]?.stats
        .count,
    ).toBe(6);
  });

  it('writes on the write endpoint and reads on the read endpoint', async () => {
    const deadLetters = deadLetterStoreSink(postgresDeadLetterStore(warm.write));
    proxy.down();
    try {
      // the read endpoint is cut: writes still succeed, reads fail
      await warmDailyAggregateSink(warm.write).write([daily({ productId: 'env-cqrs' })], ctx);
      await deadLetters.write(
        [
          {
            node: 'decode',
            reason: 'checksum mismatch',
            code: 'checksum-mismatch',
            stream: 'telemetry',
            shardId: 'shardId-000000000000',
            sequenceNumber: '7',
            payloadBase64: Buffer.from('frame').toString('base64'),
            failedAt: D0,
          },
        ],
        ctx,
      );
      await expect(readDailyAggregates(warm.read, { productId: 'env-cqrs' })).rejects.toThrow();
      await expect(listDeadLetters(warm.read, {})).rejects.toThrow();
    } finally {
      proxy.up();
    }
    expect(await readDailyAggregates(warm.read, { productId: 'env-cqrs' })).toHaveLength(1);
    expect((await listDeadLetters(warm.read, {})).map((d) => d.code)).toEqual(['checksum-mismatch']);
  });
});
