/**
 * The formula sink against real PostgreSQL (Warm, and the Hot store on PostgreSQL), fed batches of
 * window aggregates directly: a day's metrics gathered from the batch and the stores (the batch may
 * hold one metric's final, the other stored), the version in force per target (a customer's
 * override, a device-scoped version on a device's 1-day window), no result without a final, and a
 * batch written twice changing nothing; the lineage keeps one row per input revision.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FormulasInForce,
  formulaSink,
  importFormulas,
  readFormulaResultHistory,
  readFormulaResults,
} from '../../sinks/formulas/index.ts';
import type { HotStore } from '../../sinks/hot/hotStore.ts';
import { postgresHotStore } from '../../sinks/hot/postgresHotStore.ts';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { pgSqlClient, type SqlClient } from '../../sinks/postgres/sql.ts';
import { warmDailyAggregateSink } from '../../sinks/warm/dailyAggregateSink.ts';
import { formulaSchema } from '../../specs/formulas/schema.ts';
import {
  type BatchContext,
  type MetricStats,
  type WindowAggregate,
  windowRevision,
} from '../../topology/index.ts';
import { createTestDatabase, type TestDatabase, testPool } from '../support/postgres.ts';

const DAY = 86_400_000;
const D0 = Date.parse('2026-11-20T00:00:00Z');
const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent } as never;
const ctx = {} as BatchContext;

const stats = (count: number, sum: number): MetricStats => ({
  count,
  sum,
  min: 0,
  max: sum,
  mean: sum / count,
  m2: 0,
  first: 0,
  firstAt: D0,
  last: 0,
  lastAt: D0 + 1,
});

function day(
  over: Partial<WindowAggregate> & Pick<WindowAggregate, 'metric' | 'scope'>,
  count: number,
  sum: number,
  final = true,
): WindowAggregate {
  return {
    window: '1d',
    productId: 'meter-m2',
    windowStart: D0,
    windowEnd: D0 + DAY,
    revision: windowRevision(count, final),
    final,
    stats: stats(count, sum),
    ...over,
  };
}

const FORMULAS = [
  {
    id: 'per-reading',
    version: 1,
    productId: 'meter-m2',
    expression: 'en / n',
    variables: { en: { metric: 'energy', stat: 'sum' }, n: { metric: 'power', stat: 'count' } },
  },
  {
    id: 'per-reading',
    version: 2,
    productId: 'meter-m2',
    scope: 'customer',
    targets: ['cust-a'],
    expression: '10 * en / n',
    variables: { en: { metric: 'energy', stat: 'sum' }, n: { metric: 'power', stat: 'count' } },
  },
  {
    id: 'per-reading',
    version: 3,
    productId: 'meter-m2',
    status: 'draft',
    expression: '0 * en',
    variables: { en: { metric: 'energy', stat: 'sum' } },
  },
  {
    id: 'device-energy',
    version: 1,
    productId: 'meter-m2',
    scope: 'device',
    targets: ['m-1'],
    expression: 'en + p',
    variables: { en: { metric: 'energy', stat: 'sum' }, p: { metric: 'power', stat: 'sum' } },
  },
];

describe('the formula sink', () => {
  let db: TestDatabase;
  let warm: SqlClient;
  let hot: HotStore;
  let formulas: FormulasInForce;

  beforeAll(async () => {
    db = await createTestDatabase('formulas_sink');
    warm = pgSqlClient(testPool(db.url, 2));
    await migrateWarm(warm);
    hot = postgresHotStore({ write: warm, read: warm }, { retentionDays: 10_000, ownsEndpoints: false });
    await importFormulas(
      warm,
      FORMULAS.map((definition) => ({ formula: formulaSchema.parse(definition), definition })),
    );
    formulas = new FormulasInForce(warm, silent);
    await formulas.loadAll();
  }, 60_000);

  afterAll(async () => {
    await warm?.close();
    await db?.drop();
  });

  it('gathers a day from the batch and the stores, applies the version in force, and changes nothing the second time', async () => {
    const sink = formulaSink({ warm, hot, formulas });
    const daily = warmDailyAggregateSink(warm);
    // stored before: each customer's power of the day (final), m-1's power day in the Hot store
    const stored = [
      day({ scope: 'customer-product', customerId: 'cust-a', metric: 'power' }, 4, 400),
      day({ scope: 'customer-product', customerId: 'cust-b', metric: 'power' }, 5, 500),
    ];
    await daily.write(stored, ctx);
    await hot.writeAggregates([day({ scope: 'device', deviceId: 'm-1', metric: 'power' }, 2, 30)]);

    // a running value alone is no trigger
    const running = [day({ scope: 'customer-product', customerId: 'cust-a', metric: 'energy' }, 3, 9, false)];
    await sink.write(running, ctx);
    expect(await readFormulaResults(warm)).toEqual([]);

    const batch = [
      day({ scope: 'customer-product', customerId: 'cust-a', metric: 'energy' }, 4, 12),
      day({ scope: 'customer-product', customerId: 'cust-b', metric: 'energy' }, 5, 20),
      day({ scope: 'customer-product', customerId: null, metric: 'energy' }, 1, 7),
      day({ scope: 'device', deviceId: 'm-1', metric: 'energy' }, 2, 5),
      day({ scope: 'device', deviceId: 'm-2', metric: 'energy' }, 2, 5),
    ];
    await sink.write(batch, ctx);
    const rows = (await readFormulaResults(warm)).map((r) => [
      r.formulaId,
      r.version,
      r.customerId,
      r.deviceId,
      r.value,
      r.reason,
      r.inputRevision,
    ]);
    expect(rows).toEqual([
      ['device-energy', 1, null, 'm-1', 35, null, 10],
      ['per-reading', 1, null, null, null, 'no aggregate of metric "power" for the day', 3],
      ['per-reading', 1, 'cust-b', null, 4, null, 22],
      ['per-reading', 2, 'cust-a', null, 30, null, 18],
    ]);

    const first = await readFormulaResults(warm);
    await sink.write(batch, ctx);
    await sink.write([...batch].reverse(), ctx);
    expect(await readFormulaResults(warm)).toEqual(first);

    // a later revision of cust-b's energy replaces its row only
    await sink.write(
      [day({ scope: 'customer-product', customerId: 'cust-b', metric: 'energy' }, 6, 30)],
      ctx,
    );
    const after = await readFormulaResults(warm);
    expect(after.filter((r) => r.customerId !== 'cust-b')).toEqual(
      first.filter((r) => r.customerId !== 'cust-b'),
    );
    expect(after.find((r) => r.customerId === 'cust-b')).toMatchObject({ value: 6, inputRevision: 24 });
    // and a lower revision (a replay's earlier final) does not bring the old value back
    await sink.write(
      [day({ scope: 'customer-product', customerId: 'cust-b', metric: 'energy' }, 5, 20)],
      ctx,
    );
    expect(await readFormulaResults(warm)).toEqual(after);
    // the lineage: each input revision a result had, once, whatever was written again
    const lineage = (await readFormulaResultHistory(warm)).map((r) => [
      r.customerId ?? r.deviceId,
      r.value,
      r.inputRevision,
    ]);
    expect(lineage).toEqual([
      ['m-1', 35, 10],
      [null, null, 3],
      ['cust-b', 4, 22],
      ['cust-b', 6, 24],
      ['cust-a', 30, 18],
    ]);
  });
});
