/**
 * Batch aggregation: a batch's records become one partial per window (bucket) and key, built in memory
 * in the rows of `rows.ts`, so the backend gets one call per batch whatever its size. Records too late
 * for retention under the watermark the batch is classified with are set apart for the `late` output.
 */
import type { BucketPartial, Enriched } from '../../topology/index.ts';
import type { WindowAssigner } from './assign.ts';
import type { WindowSlice } from './config.ts';
import { bucketId, rowNameOf, rowNames } from './keys.ts';
import { ColumnLists, WindowRows } from './rows.ts';

/** Metrics per record assumed when sizing a batch's window rows (they grow past it when needed). */
const METRICS_HINT = 12;
/**
 * Rows a device or customer bucket is first sized for. Sizing every bucket for the whole batch
 * zero-filled a slab per late record's window (a batch's late records fall in many windows, each
 * holding a row or two): megabytes a batch of memory that was never used. The slab doubles as rows
 * come, so the batch's main windows pay at most one more copy of what they hold.
 */
const FIRST_KEY_ROWS = 64;

/** A batch aggregated: its windows' statistics, its late records and its maximum event time. */
export interface Batch {
  /** Bucket id → window end and its statistics by key (row) and metric (column). */
  readonly buckets: Map<string, { readonly end: number; readonly rows: WindowRows }>;
  readonly late: Enriched[];
  maxEventTime: number;
}

type Accumulator = Batch['buckets'] extends Map<string, infer A> ? A : never;

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Aggregates batches into the slices' windows; `aggregate(batch, watermark)` classifies with `watermark`. */
export function batchAggregator(slices: readonly WindowSlice[], assign: WindowAssigner, retentionMs: number) {
  const productRow = rowNames();
  const lists = new ColumnLists();
  return {
    aggregate: (batch: readonly Enriched[], watermark: number): Batch =>
      aggregate(batch, slices, assign, retentionMs, watermark, productRow, lists),
    /** Whether a record at event time `t` is too late under `watermark` (the rule `aggregate` applies). */
    tooLate(t: number, watermark: number): boolean {
      let firstEnd = Number.POSITIVE_INFINITY;
      for (const slice of slices) firstEnd = Math.min(firstEnd, assign(t, slice.size).end);
      return firstEnd + retentionMs <= watermark;
    },
  };
}

function aggregate(
  batch: readonly Enriched[],
  slices: readonly WindowSlice[],
  assign: WindowAssigner,
  retentionMs: number,
  watermark: number,
  productRow: (key: string) => string,
  lists: ColumnLists,
): Batch {
  const out: Batch = { buckets: new Map(), late: [], maxEventTime: Number.NEGATIVE_INFINITY };
  const n = slices.length;
  const accs = new Array<Accumulator>(n);
  // records of a batch mostly share their windows: remember each slice's last window
  const lastStart = new Array<number>(n).fill(Number.NaN);
  const lastAcc = new Array<Accumulator | undefined>(n);
  const names: string[] = [];
  const values: number[] = [];
  let columns: readonly string[] = [];
  for (const record of batch) {
    const t = record.device_timestamp;
    if (!Number.isFinite(t)) continue;
    if (t > out.maxEventTime) out.maxEventTime = t;
    let firstEnd = Number.POSITIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const slice = slices[i]!;
      const { start, end } = assign(t, slice.size);
      if (end < firstEnd) firstEnd = end;
      let acc = lastAcc[i];
      if (start !== lastStart[i] || acc === undefined) {
        const id = bucketId(slice.scope, slice.size, start);
        acc = out.buckets.get(id);
        if (acc === undefined) {
          // product rows are few; device and customer rows up to one per record
          const keys = slice.scope === 'product' ? 4 : Math.min(batch.length, FIRST_KEY_ROWS);
          const hint = keys * METRICS_HINT;
          acc = { end, rows: new WindowRows(lists, hint) };
          out.buckets.set(id, acc);
        }
        lastStart[i] = start;
        lastAcc[i] = acc;
      }
      accs[i] = acc;
    }
    // too late for the first of its windows: too late for all (one rule, so counts stay exact)
    if (firstEnd + retentionMs <= watermark) {
      out.late.push(record);
      continue;
    }
    names.length = 0;
    values.length = 0;
    for (const metric in record.metrics) {
      const value = record.metrics[metric];
      if (typeof value !== 'number' || !Number.isFinite(value)) continue;
      names.push(metric);
      values.push(value);
    }
    if (names.length === 0) continue;
    // records mostly carry the same metrics: intern the list only when it changes
    if (!sameList(columns, names)) columns = lists.of(names);
    let rowOf: WindowSlice['scope'] | undefined;
    let rowName = '';
    for (let i = 0; i < n; i++) {
      const scope = slices[i]!.scope;
      if (scope !== rowOf) {
        // the sizes of one scope share the record's row name
        rowOf = scope;
        rowName = rowNameOf(scope, record, productRow);
      }
      const rows = accs[i]!.rows;
      const row = rows.row(rowName, columns);
      if (row.columns === columns) for (let m = 0; m < names.length; m++) rows.add(row, m, values[m]!, t);
      else
        for (let m = 0; m < names.length; m++) rows.add(row, rows.column(row, names[m]!, m), values[m]!, t);
    }
  }
  return out;
}

/** A batch's partials, as the backend applies them (empty windows left out). */
export function partialsOf(batch: Batch): BucketPartial[] {
  const partials: BucketPartial[] = [];
  for (const [bucket, { end, rows }] of batch.buckets)
    if (rows.size > 0) partials.push({ bucket, windowEnd: end, fields: rows, rows });
  return partials;
}
