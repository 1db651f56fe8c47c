/**
 * Run (c) of `bench:formulas` (`formulaThroughput.ts`): one day's formula results upserted into
 * `formula_results` by `writeFormulaResults` on one connection (a pool of one, migrated by
 * `migrateWarm`), then the same rows again: a replay, which the forward-only upsert (a row is
 * replaced only by a higher input revision) must leave as it is. A throwaway PostgreSQL unless a URL
 * is given; then only the benchmark's own rows (its products) are deleted, before and after.
 */
import pg from 'pg';
import { startPostgres } from '../infra/local/postgres.ts';
import { resultRows } from '../sinks/formulas/days.ts';
import { type CompiledFormula, type FormulaResult, writeFormulaResults } from '../sinks/formulas/index.ts';
import { migrateWarm } from '../sinks/postgres/migrate.ts';
import { pgSqlClient, type SqlClient } from '../sinks/postgres/sql.ts';
import {
  customerIdOf,
  customerOfDay,
  DAY_START,
  dayAggregates,
  PRODUCT_PREFIX,
  productIdOf,
  productOfDay,
} from './formulaWorkload.ts';
import { cpuMsSince } from './harness/keyedRuns.ts';
import { processCpuSeconds } from './harness/machine.ts';

/** One call of `writeFormulaResults`. */
export interface WriteRun {
  readonly rows: number;
  readonly wallMs: number;
  /** This process: keys, sort, JSON. */
  readonly cpuMs: number;
  /** The connection's backend, when the benchmark started the server. */
  readonly postgresCpuMs: number | undefined;
  readonly rowsPerSecond: number;
}

/** What run (c) measured and found stored. */
export interface WriteFigures {
  readonly rows: number;
  /** Making the rows as the sink makes them (`resultRows`). */
  readonly rowsCpuMs: number;
  readonly first: WriteRun;
  readonly replay: WriteRun;
  /** The benchmark's rows in the table after the first write, and those with a value. */
  readonly stored: number;
  readonly storedWithValue: number;
  /** Rows whose `computed_at` is at or after the replay's start: rows it changed. */
  readonly replayChanged: number;
  /** `formula_results` with its indexes (the whole table: on a database given, other rows too). */
  readonly tableBytes: number;
}

/** What run (c) writes: every day of the workload, with each product's formulas in force. */
export interface WriteWorkload {
  readonly url: string | undefined;
  readonly days: number;
  readonly products: number;
  readonly inForce: readonly ReadonlyMap<string, CompiledFormula>[];
}

/** The day's rows, as the sink makes them from each target day. */
function dayRows({ days, products, inForce }: WriteWorkload): FormulaResult[] {
  const rows: FormulaResult[] = [];
  // one string per customer, shared by its rows as the sink's rows share the aggregates' ids
  const customerIds = Array.from({ length: Math.ceil(days / products) }, (_, c) => customerIdOf(c));
  for (let d = 0; d < days; d++) {
    const p = productOfDay(d, products);
    const day = {
      productId: productIdOf(p),
      target: { kind: 'customer' as const, customerId: customerIds[customerOfDay(d, products)]! },
      dayStart: DAY_START,
      aggregates: dayAggregates(d),
    };
    for (const row of resultRows(day, inForce[p]!)) rows.push(row);
  }
  return rows;
}

/** Times one `writeFormulaResults` of `rows`. */
async function timedWrite(
  client: SqlClient,
  rows: readonly FormulaResult[],
  backend: () => number | undefined,
) {
  const pg0 = backend();
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  await writeFormulaResults(client, rows);
  const wallMs = performance.now() - t0;
  const cpuMs = cpuMsSince(cpu);
  const pg1 = backend();
  return {
    rows: rows.length,
    wallMs,
    cpuMs,
    postgresCpuMs: pg0 === undefined || pg1 === undefined ? undefined : (pg1 - pg0) * 1000,
    rowsPerSecond: rows.length / (wallMs / 1000),
  };
}

/** Run (c); see the file's comment. */
export async function writeRuns(workload: WriteWorkload): Promise<WriteFigures> {
  const server = workload.url === undefined ? await startPostgres() : undefined;
  // one connection, kept while idle, so its backend (and its CPU) stays the same
  const pool = new pg.Pool({ connectionString: workload.url ?? server!.url, max: 1, idleTimeoutMillis: 0 });
  const client = pgSqlClient(pool);
  const ours = [`${PRODUCT_PREFIX}%`];
  const clear = () => client.query('DELETE FROM formula_results WHERE product_id LIKE $1', ours);
  try {
    await migrateWarm(client);
    await clear();
    const cpu = process.cpuUsage();
    const rows = dayRows(workload);
    const rowsCpuMs = cpuMsSince(cpu);
    const { rows: pids } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const pid = pids[0]!.pid;
    const backend = () => (server === undefined ? undefined : processCpuSeconds(pid));
    const first = await timedWrite(client, rows, backend);
    const { rows: stored } = await client.query<{ n: number; with_value: number }>(
      'SELECT count(*)::int AS n, count(value)::int AS with_value FROM formula_results WHERE product_id LIKE $1',
      ours,
    );
    const { rows: clock } = await client.query<{ now: Date }>('SELECT now() AS now');
    const replay = await timedWrite(client, rows, backend);
    const { rows: changed } = await client.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM formula_results WHERE product_id LIKE $1 AND computed_at >= $2',
      [...ours, clock[0]!.now],
    );
    const { rows: size } = await client.query<{ bytes: string }>(
      "SELECT pg_total_relation_size('formula_results') AS bytes",
    );
    if (server === undefined) await clear();
    return {
      rows: rows.length,
      rowsCpuMs,
      first,
      replay,
      stored: stored[0]!.n,
      storedWithValue: stored[0]!.with_value,
      replayChanged: changed[0]!.n,
      tableBytes: Number(size[0]!.bytes),
    };
  } finally {
    await client.close();
    await server?.stop();
  }
}
