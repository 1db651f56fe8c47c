/**
 * Formulas on a running worker (`shardflow run`, one shard, window state in Redis, Warm in
 * PostgreSQL): versions imported while it runs reach it through NOTIFY; when a day of meter-m2
 * readings becomes final, each customer's results are in `formula_results` (well within 60 s); a
 * late reading raises the day's revision and replaces the customer's rows with a higher input
 * revision, the other customer's rows untouched; a replay of the whole stream by a second worker
 * (a new lease table and state) changes no row, not even `computed_at`, and writes again the rows
 * deleted before it, equal to what they were. The lineage keeps a row per input revision a result
 * had; the replay adds none.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerConfigInput } from '../../cli/config.ts';
import { loadDemoMasterData } from '../../cli/demoMasterData.ts';
import { kinesisProducer } from '../../gateways/kinesis/producer.ts';
import type { SimulatedDevice } from '../../gateways/simulator/fleet.ts';
import {
  importFormulas,
  readFormulaResultHistory,
  readFormulaResults,
  type StoredFormulaResult,
} from '../../sinks/formulas/index.ts';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { pgSqlClient, type SqlClient } from '../../sinks/postgres/sql.ts';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { formulaSchema } from '../../specs/formulas/schema.ts';
import { systemClock } from '../../topology/index.ts';
import { uniqueTable } from '../support/dynamodb.ts';
import { createStream, uniqueStream } from '../support/kinesis.ts';
import { createTestDatabase, type TestDatabase, testPool } from '../support/postgres.ts';
import { testEnv, waitFor } from '../support/wait.ts';
import { envelopeOf } from '../support/windowReference.ts';
import { type WorkerFleet, workerFleet } from '../support/workerProcesses.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const TIMEOUT_MS = 240_000;
// two days ago, UTC: inside the spec's 30-day contract, final as soon as the next day's reading comes
const D0 = Math.floor(Date.now() / DAY) * DAY - 2 * DAY;

const DEVICES: SimulatedDevice[] = [
  { deviceId: 'fm-1', productId: 'meter-m2', customerId: 'cust-a', siteId: 'site-a' },
  { deviceId: 'fm-2', productId: 'meter-m2', customerId: 'cust-a', siteId: 'site-a' },
  { deviceId: 'fm-3', productId: 'meter-m2', customerId: 'cust-b', siteId: 'site-b' },
  { deviceId: 'fm-4', productId: 'meter-m2', customerId: 'cust-b', siteId: 'site-b' },
];

const FORMULAS = [
  {
    id: 'energy-per-reading',
    version: 1,
    productId: 'meter-m2',
    expression: 'en / n',
    variables: { en: { metric: 'energy', stat: 'sum' }, n: { metric: 'power', stat: 'count' } },
    unit: 'kWh',
    decimals: 3,
  },
  {
    id: 'mean-kw',
    version: 1,
    productId: 'meter-m2',
    expression: 'p / 1000',
    variables: { p: { metric: 'power', stat: 'mean' } },
    unit: 'kW',
  },
  {
    id: 'wh-per-kw',
    version: 1,
    productId: 'meter-m2',
    expression: 'round(en * 1000 / k, 2)',
    variables: { en: { formula: 'energy-per-reading' }, k: { formula: 'mean-kw' } },
  },
  {
    id: 'spread-ratio',
    version: 1,
    productId: 'meter-m2',
    expression: 'en / (hi - lo)',
    variables: {
      en: { metric: 'energy', stat: 'sum' },
      hi: { metric: 'energy', stat: 'max' },
      lo: { metric: 'energy', stat: 'max' },
    },
  },
];

interface Reading {
  device: string;
  at: number;
  power: number;
  energy: number;
}

/** The results the formulas give for `customer`'s readings of day D. */
function expectedFor(readings: readonly Reading[], customer: string) {
  const own = readings.filter(
    (r) => DEVICES.find((d) => d.deviceId === r.device)!.customerId === customer && r.at < D0 + DAY,
  );
  const n = own.length;
  const energy = own.reduce((a, r) => a + r.energy, 0);
  const power = own.reduce((a, r) => a + r.power, 0) / n;
  const revision = 2 * n + 1; // a final over n readings, power and energy alike
  const perReading = Math.round((energy / n) * 1000) / 1000;
  return [
    ['energy-per-reading', perReading, null, 2 * revision],
    ['mean-kw', Number((power / 1000).toFixed(9)), null, revision],
    ['spread-ratio', null, 'the result is infinite (division by zero or overflow)', revision],
    ['wh-per-kw', Math.round(((perReading * 1000) / (power / 1000)) * 100) / 100, null, 2 * revision],
  ];
}

const rowsOf = (results: readonly StoredFormulaResult[], customer: string) =>
  results
    .filter((r) => r.customerId === customer)
    .map((r) => [
      r.formulaId,
      r.value === null ? null : Number(r.value.toFixed(9)),
      r.reason,
      r.inputRevision,
    ]);

function configOf(stream: string, warmUrl: string, name: string): WorkerConfigInput {
  return {
    topology: { name },
    source: {
      kinesis: {
        streamName: stream,
        endpoint: testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT'),
        region: 'us-east-1',
        idleTimeBetweenReadsMs: 50,
        maxIdleTimeMs: 200,
      },
      leases: {
        tableName: uniqueTable('formulas'),
        endpoint: testEnv('SHARDFLOW_TEST_DYNAMODB_ENDPOINT'),
        renewIntervalMs: 500,
        takeIntervalMs: 500,
      },
    },
    decode: { specDir: 'specs/examples' },
    windows: { allowedOutOfOrdernessMs: 0, allowedLatenessMs: 60_000, retentionMs: 3 * DAY },
    state: { backend: 'redis', redisUrl: testEnv('SHARDFLOW_TEST_REDIS_URL') },
    warm: { writeUrl: warmUrl },
    runtime: { checkpointIntervalMs: 1000 },
    log: { level: 'info' },
  };
}

describe('formulas on a running worker', () => {
  const kinesis = createKinesisClient({
    region: 'us-east-1',
    endpoint: testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT'),
  });
  const stream = uniqueStream('formulas');
  let db: TestDatabase;
  let pool: ReturnType<typeof testPool>;
  let sql: SqlClient;
  const fleets: WorkerFleet[] = [];

  beforeAll(async () => {
    await createStream(kinesis, stream, 1);
    db = await createTestDatabase('formulas_worker');
    pool = testPool(db.url, 2);
    sql = pgSqlClient(pool);
    await migrateWarm(sql);
    await loadDemoMasterData(sql, DEVICES, Date.now());
  }, 60_000);

  afterAll(async () => {
    for (const f of fleets) await f.close().catch(() => {});
    kinesis.destroy();
    await pool?.end();
    await db?.drop().catch(() => {});
  });

  it(
    'writes each customer’s results when the day is final, replaces them after a late reading, and a replay changes nothing',
    async () => {
      const first = workerFleet(configOf(stream, db.url, `formulas-${randomUUID().slice(0, 8)}`), {
        timeoutMs: TIMEOUT_MS,
      });
      fleets.push(first);
      await first.start('a').started();
      // imported while the worker runs: it learns of them through NOTIFY
      const imported = Date.now();
      await importFormulas(
        sql,
        FORMULAS.map((definition) => ({ formula: formulaSchema.parse(definition), definition })),
      );
      const inForce = () =>
        first.workers[0]!.logs().some(
          (l) => l.msg === 'formulas: in force' && l.versions === FORMULAS.length,
        );
      await waitFor('the worker’s reload of the imported formulas', async () => inForce(), 10_000);
      const importToInForce = Date.now() - imported;

      const producer = kinesisProducer({ client: kinesis, clock: systemClock, streamName: stream });
      const put = (readings: readonly Reading[]) =>
        producer.put(
          readings.map((r) =>
            envelopeOf(r.device, 'meter-m2', r.at, Date.now(), { power: r.power, energy: r.energy }),
          ),
        );
      const readings: Reading[] = [];
      for (const [i, d] of DEVICES.entries())
        for (let h = 1; h <= 3; h++)
          readings.push({
            device: d.deviceId,
            at: D0 + h * HOUR + i * 60_000,
            power: 1000 * (i + 1) + 10 * h,
            energy: 5 + h + i,
          });
      await put(readings);
      // the next day's reading moves the watermark past day D's end and its lateness: D is final
      const next: Reading = { device: 'fm-1', at: D0 + DAY + 2 * HOUR, power: 500, energy: 1 };
      await put([next]);
      const final = Date.now();
      const dayResults = () => readFormulaResults(sql, { productId: 'meter-m2', from: D0, to: D0 + DAY });
      await waitFor(
        'the results of day D for both customers',
        async () => (await dayResults()).length === 8,
        60_000,
      ).catch(async (error: unknown) => {
        const days = await pool.query(
          'SELECT customer_key, metric, day_start, revision, final FROM customer_product_daily_aggregates ORDER BY 1, 3, 2',
        );
        const logs = first.workers[0]!.logs().filter((l) => (l.level ?? 30) >= 40 || /formula/.test(l.msg));
        throw new Error(
          `${(error as Error).message}\ndaily: ${JSON.stringify(days.rows)}\nlogs: ${JSON.stringify(logs)}`,
        );
      });
      const finalToResults = Date.now() - final;
      const before = await dayResults();
      expect(rowsOf(before, 'cust-a')).toEqual(expectedFor(readings, 'cust-a'));
      expect(rowsOf(before, 'cust-b')).toEqual(expectedFor(readings, 'cust-b'));
      expect(before.every((r) => r.version === 1 && r.deviceId === null && r.dayStart === D0)).toBe(true);
      expect(before.find((r) => r.formulaId === 'energy-per-reading')!.unit).toBe('kWh');

      // a late reading of cust-a's day: a higher revision, new rows for cust-a only
      const late: Reading = { device: 'fm-2', at: D0 + 20 * HOUR, power: 7000, energy: 9 };
      await put([late]);
      const withLate = [...readings, late];
      await waitFor(
        'cust-a’s results from the late reading',
        async () =>
          JSON.stringify(rowsOf(await dayResults(), 'cust-a')) ===
          JSON.stringify(expectedFor(withLate, 'cust-a')),
        60_000,
      ).catch(async (error: unknown) => {
        const days = await pool.query(
          'SELECT customer_key, metric, day_start, revision, final FROM customer_product_daily_aggregates ORDER BY 1, 3, 2',
        );
        throw new Error(
          `${(error as Error).message}\nrows: ${JSON.stringify(rowsOf(await dayResults(), 'cust-a'))}\nexpected: ${JSON.stringify(expectedFor(withLate, 'cust-a'))}\ndaily: ${JSON.stringify(days.rows)}`,
        );
      });
      const afterLate = await dayResults();
      const b = (rows: readonly StoredFormulaResult[]) => rows.filter((r) => r.customerId === 'cust-b');
      expect(b(afterLate)).toEqual(b(before)); // computed_at included
      for (const r of afterLate.filter((x) => x.customerId === 'cust-a'))
        expect(r.inputRevision).toBeGreaterThan(
          before.find((x) => x.formulaId === r.formulaId && x.customerId === 'cust-a')!.inputRevision,
        );
      // the lineage: cust-a's results at both input revisions, cust-b's at its one
      const history = () => readFormulaResultHistory(sql, { productId: 'meter-m2', from: D0, to: D0 + DAY });
      const lineage = await history();
      const cust = (rows: readonly StoredFormulaResult[], c: string) =>
        rows.filter((r) => r.customerId === c);
      expect(cust(lineage, 'cust-a').map((r) => [r.formulaId, r.inputRevision])).toEqual(
        cust(before, 'cust-a').flatMap((r) => [
          [r.formulaId, r.inputRevision],
          [r.formulaId, cust(afterLate, 'cust-a').find((x) => x.formulaId === r.formulaId)!.inputRevision],
        ]),
      );
      expect(cust(lineage, 'cust-b')).toHaveLength(4);
      await first.close();

      // replay: a second worker reads the whole stream again with fresh state; cust-b's rows deleted first
      await pool.query(`DELETE FROM formula_results WHERE customer_id = 'cust-b'`);
      const replay = workerFleet(configOf(stream, db.url, `formulas-replay-${randomUUID().slice(0, 8)}`), {
        timeoutMs: TIMEOUT_MS,
      });
      fleets.push(replay);
      await replay.start('b').started();
      await waitFor(
        'cust-b’s rows written again by the replay',
        async () => b(await dayResults()).length === 4,
        90_000,
      );
      // the replay reads on to the late reading: give it the time to (not) change cust-a's rows
      const ends = new Map([
        [(await replay.leases())[0]!.leaseKey, (await first.checkpoints()).values().next().value!],
      ]);
      await replay.waitForCheckpoints(ends, 90_000);
      const afterReplay = await dayResults();
      const a = (rows: readonly StoredFormulaResult[]) => rows.filter((r) => r.customerId === 'cust-a');
      expect(a(afterReplay)).toEqual(a(afterLate));
      const strip = (rows: readonly StoredFormulaResult[]) => rows.map(({ computedAt: _c, ...rest }) => rest);
      expect(strip(b(afterReplay))).toEqual(strip(b(afterLate)));
      expect(await history()).toEqual(lineage); // the replay added no revision
      console.log(JSON.stringify({ importToInForceMs: importToInForce, finalToResultsMs: finalToResults }));
    },
    TIMEOUT_MS,
  );
});
