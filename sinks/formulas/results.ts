/**
 * `formula_results` (migration 700): one row per formula version, target (customer × product, or
 * device) and day. Written by one multi-row upsert per chunk; a row is replaced only by a result
 * of a higher input revision, so a replay (the same aggregates, the same revisions) changes nothing,
 * not even `computed_at`, and a late reading's higher revision replaces it. The same statement keeps
 * the lineage (`formula_result_history`, migration 701): a row per input revision a result ever had.
 */
import { type SqlClient, writeJsonRows } from '../postgres/sql.ts';

/** One result row. */
export interface FormulaResult {
  readonly formulaId: string;
  readonly version: number;
  readonly productId: string;
  /** `null`: devices unknown to the master data, and device-scoped results. */
  readonly customerId: string | null;
  /** Set for device-scoped results. */
  readonly deviceId: string | null;
  readonly dayStart: number;
  /** `null` exactly when `reason` says why there is no result. */
  readonly value: number | null;
  readonly reason: string | null;
  readonly unit: string | null;
  readonly inputRevision: number;
}

/** A stored row, with when it was computed. */
export interface StoredFormulaResult extends FormulaResult {
  readonly computedAt: number;
}

/**
 * One statement: the rows into the lineage (`formula_result_history`, new input revisions only) and
 * into the current results (a row replaced only by a higher input revision).
 */
const UPSERT = `WITH u AS (
    SELECT f, v, p, coalesce(cu, '') AS ck, cu, coalesce(d, '') AS dk, d, to_timestamp(ds / 1000) AS day, val, rs, un, ir
    FROM jsonb_to_recordset($1::jsonb) AS r(f text, v int, p text, cu text, d text, ds float8, val float8, rs text,
      un text, ir bigint)
  ), lineage AS (
    INSERT INTO formula_result_history (formula_id, version, product_id, customer_key, customer_id, device_key,
      device_id, day_start, input_revision, value, reason, unit)
    SELECT f, v, p, ck, cu, dk, d, day, ir, val, rs, un FROM u
    ON CONFLICT DO NOTHING
  )
  INSERT INTO formula_results (formula_id, version, product_id, customer_key, customer_id, device_key,
    device_id, day_start, value, reason, unit, input_revision)
  SELECT f, v, p, ck, cu, dk, d, day, val, rs, un, ir FROM u
  ON CONFLICT (formula_id, version, product_id, customer_key, device_key, day_start) DO UPDATE SET
    customer_id = EXCLUDED.customer_id, device_id = EXCLUDED.device_id, value = EXCLUDED.value,
    reason = EXCLUDED.reason, unit = EXCLUDED.unit, input_revision = EXCLUDED.input_revision, computed_at = now()
  WHERE formula_results.input_revision < EXCLUDED.input_revision`;

function keyOf(r: FormulaResult): string {
  return `${r.formulaId}\u0001${r.version}\u0001${r.productId}\u0001${r.customerId ?? ''}\u0001${r.deviceId ?? ''}\u0001${r.dayStart}`;
}

/**
 * Upserts results: of two with one key the higher input revision is kept, and rows go in key order
 * (two shards' upserts of the same rows lock them in the same order).
 */
export async function writeFormulaResults(
  client: SqlClient,
  results: readonly FormulaResult[],
): Promise<void> {
  const best = new Map<string, FormulaResult>();
  for (const r of results) {
    const key = keyOf(r);
    const seen = best.get(key);
    if (seen === undefined || seen.inputRevision < r.inputRevision) best.set(key, r);
  }
  const rows = [...best.keys()].sort().map((k) => best.get(k)!);
  await writeJsonRows(client, UPSERT, rows, (r) => ({
    f: r.formulaId,
    v: r.version,
    p: r.productId,
    cu: r.customerId,
    d: r.deviceId,
    ds: r.dayStart,
    val: r.value,
    rs: r.reason,
    un: r.unit,
    ir: r.inputRevision,
  }));
}

/** Which results to read; every condition given must hold. */
export interface FormulaResultFilter {
  readonly formulaId?: string;
  readonly version?: number;
  readonly productId?: string;
  /** A customer id, or `null` for results without one. */
  readonly customerId?: string | null;
  readonly deviceId?: string;
  /** Days starting at or after this time (epoch ms). */
  readonly from?: number;
  /** Days starting before this time (epoch ms). */
  readonly to?: number;
}

interface Row {
  formula_id: string;
  version: number;
  product_id: string;
  customer_id: string | null;
  device_id: string | null;
  day_start: Date;
  value: number | null;
  reason: string | null;
  unit: string | null;
  input_revision: string | number;
  computed_at: Date;
}

/** Stored results matching `filter`, by day, formula, version, product, customer and device. */
export async function readFormulaResults(
  client: SqlClient,
  filter: FormulaResultFilter = {},
): Promise<StoredFormulaResult[]> {
  return readResults(client, 'formula_results', filter);
}

async function readResults(
  client: SqlClient,
  table: 'formula_results' | 'formula_result_history',
  filter: FormulaResultFilter,
  thenBy?: 'input_revision',
): Promise<StoredFormulaResult[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const param = (value: unknown) => `$${params.push(value)}`;
  if (filter.formulaId !== undefined) where.push(`formula_id = ${param(filter.formulaId)}`);
  if (filter.version !== undefined) where.push(`version = ${param(filter.version)}`);
  if (filter.productId !== undefined) where.push(`product_id = ${param(filter.productId)}`);
  if (filter.customerId !== undefined) where.push(`customer_key = ${param(filter.customerId ?? '')}`);
  if (filter.deviceId !== undefined) where.push(`device_key = ${param(filter.deviceId)}`);
  if (filter.from !== undefined) where.push(`day_start >= ${param(new Date(filter.from).toISOString())}`);
  if (filter.to !== undefined) where.push(`day_start < ${param(new Date(filter.to).toISOString())}`);
  const { rows } = await client.query<Row>(
    `SELECT formula_id, version, product_id, customer_id, device_id, day_start, value, reason, unit, input_revision,
       computed_at
     FROM ${table}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}
     ORDER BY day_start, formula_id, version, product_id, customer_key, device_key${thenBy ? `, ${thenBy}` : ''}`,
    params,
  );
  return rows.map((r) => ({
    formulaId: r.formula_id,
    version: Number(r.version),
    productId: r.product_id,
    customerId: r.customer_id,
    deviceId: r.device_id,
    dayStart: new Date(r.day_start).getTime(),
    value: r.value === null ? null : Number(r.value),
    reason: r.reason,
    unit: r.unit,
    inputRevision: Number(r.input_revision),
    computedAt: new Date(r.computed_at).getTime(),
  }));
}

/** A result as it was at one input revision (`formula_result_history`). */
export type FormulaResultRevision = StoredFormulaResult;

/** The lineage of results matching `filter`: every input revision each had, oldest first per target and day. */
export async function readFormulaResultHistory(
  client: SqlClient,
  filter: FormulaResultFilter = {},
): Promise<FormulaResultRevision[]> {
  return readResults(client, 'formula_result_history', filter, 'input_revision');
}
