/**
 * A batch's records into the windows: each record's device pane (`panes.ts`) is updated in place
 * among its partition key's slots (keyed state `devices`, or `closed` for a late record), and its product and customer × product windows are
 * pre-aggregated for the whole batch in the rows of `rows.ts` (a batch touches few of them), merged
 * into the shard's partials afterwards (`partials.ts`). Records too late for retention under the
 * global watermark are set apart for the `late` output.
 */
import type { Enriched, MapState, ValueState } from '../../topology/index.ts';
import { addToStats, STATS_STRIDE } from '../../topology/index.ts';
import type { WindowAssigner } from './assign.ts';
import type { WindowSlice } from './config.ts';
import { bucketId, rowNameOf, rowNames, US } from './keys.ts';
import type { PaneGeometry, PaneWindows } from './panes.ts';
import { ColumnLists, WindowRows } from './rows.ts';
import { columnOf, newSlot, type Slot } from './slots.ts';

/** Metrics per record assumed when sizing a batch's rows (they grow past it when needed). */
const METRICS_HINT = 12;
/** Rows a customer bucket is first sized for (the slab doubles as rows come). */
const FIRST_KEY_ROWS = 64;
/** Batch rows kept for the next batches' windows (a batch touches a few windows of each scope). */
const SPARE_ROWS = 16;

/** The product and customer × product windows of a batch: bucket id → window end and rows. */
export type SharedBuckets = Map<string, { readonly end: number; readonly rows: WindowRows }>;

/** A batch applied: its shared windows to merge, its late records and what it changed. */
export interface AppliedBatch {
  readonly shared: SharedBuckets;
  readonly late: Enriched[];
  maxEventTime: number;
  /** Partition keys whose open device panes changed. */
  readonly keys: Set<string>;
  /** Partition keys whose closed device panes changed (late records). */
  readonly lateKeys: Set<string>;
  /** Device panes created by the batch: partition key and pane, for the finals index. */
  readonly created: { key: string; pane: PaneWindows }[];
}

/** Whether `a` is the first `n` names of `b`. */
function sameList(a: readonly string[], b: readonly string[], n: number): boolean {
  if (a.length !== n) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A device's windows under one partition key: its open panes in one value, each closed pane in a field. */
export interface DeviceState {
  readonly open: ValueState<Slot[]>;
  readonly closed: MapState<Slot>;
  /**
   * The latest end of a closed pane's smallest window (kept by `deviceWindows.ts`): a pane whose
   * window ends later is not closed, so a record's new pane is looked for among the closed ones only
   * when it is late enough to be there.
   */
  closedUntil: number;
}

/** The field of a device's pane once closed (`closed`). */
export function closedField(pane: Pick<Slot, 'product' | 'device' | 'start'>): string {
  return `${pane.product}${US}${pane.device}${US}${pane.start}`;
}

/** The open pane starting at `start` of the record's device among its key's open panes, if any. */
function openPane(panes: Slot[], record: Enriched, start: number): Slot | undefined {
  const device = record.device_id;
  for (let i = 0; i < panes.length; i++) {
    const p = panes[i]!;
    if (p.start === start && p.device === device && p.product === record.productId) return p;
  }
  return undefined;
}

/**
 * Applies batches to the slices' windows (device windows as their panes, `panes`);
 * `apply(batch, devices, watermark)` classifies with `watermark`.
 */
export function batchApplier(
  slices: readonly WindowSlice[],
  assign: WindowAssigner,
  panes: PaneGeometry,
  retentionMs: number,
) {
  const productRow = rowNames();
  const lists = new ColumnLists();
  const deviceSlices = slices.filter((s) => s.scope === 'device');
  const sharedSlices = slices.filter((s) => s.scope !== 'device');
  const paneSize = panes.sizes[0];
  // the rows of merged batches, emptied for the next: their slabs are sized for a batch already
  const spare: WindowRows[] = [];
  const rowsFor = (keys: number): WindowRows => {
    const rows = spare.pop();
    if (rows === undefined) return new WindowRows(lists, keys * METRICS_HINT);
    rows.clear();
    return rows;
  };
  return {
    lists,
    /** The batch's shared windows were merged (`applied.shared` is not read again): their rows serve the next batches. */
    merged(applied: AppliedBatch): void {
      for (const { rows } of applied.shared.values()) if (spare.length < SPARE_ROWS) spare.push(rows);
      applied.shared.clear();
    },
    /** Whether a record at event time `t` is too late under `watermark` (the rule `apply` applies). */
    tooLate(t: number, watermark: number): boolean {
      let firstEnd = Number.POSITIVE_INFINITY;
      for (const slice of slices) firstEnd = Math.min(firstEnd, assign(t, slice.size).end);
      return firstEnd + retentionMs <= watermark;
    },
    apply(batch: readonly Enriched[], devices: DeviceState, watermark: number): AppliedBatch {
      const out: AppliedBatch = {
        shared: new Map(),
        late: [],
        maxEventTime: Number.NEGATIVE_INFINITY,
        keys: new Set(),
        lateKeys: new Set(),
        created: [],
      };
      const nd = deviceSlices.length;
      const ns = sharedSlices.length;
      const accs = new Array<WindowRows>(ns);
      // records of a batch mostly share their windows: remember each shared slice's last window
      const lastStart = new Array<number>(ns).fill(Number.NaN);
      const lastAcc = new Array<WindowRows | undefined>(ns);
      const names: string[] = [];
      const values: number[] = [];
      let columns: readonly string[] = [];
      for (const record of batch) {
        const t = record.device_timestamp;
        if (!Number.isFinite(t)) continue;
        if (t > out.maxEventTime) out.maxEventTime = t;
        let firstEnd = Number.POSITIVE_INFINITY;
        const pane = nd > 0 ? panes.paneOf(t) : undefined;
        if (pane !== undefined) firstEnd = pane.windows[0]!.end;
        for (let i = 0; i < ns; i++) {
          const slice = sharedSlices[i]!;
          const { start, end } = assign(t, slice.size);
          if (end < firstEnd) firstEnd = end;
          let acc = lastAcc[i];
          if (start !== lastStart[i] || acc === undefined) {
            const id = bucketId(slice.scope, slice.size, start);
            let bucket = out.shared.get(id);
            if (bucket === undefined) {
              const keys = slice.scope === 'product' ? 4 : Math.min(batch.length, FIRST_KEY_ROWS);
              bucket = { end, rows: rowsFor(keys) };
              out.shared.set(id, bucket);
            }
            acc = bucket.rows;
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
        // the record's metrics are the first `n` of `names` and `values`, written over the last
        // record's (emptying an array gives its room back: the next record's pushes would allocate it again)
        let n = 0;
        for (const metric in record.metrics) {
          const value = record.metrics[metric];
          if (typeof value !== 'number' || !Number.isFinite(value)) continue;
          names[n] = metric;
          values[n] = value;
          n++;
        }
        if (n === 0) continue;
        // records mostly carry the same metrics: intern the list only when it changes
        if (!sameList(columns, names, n)) columns = lists.of(names.slice(0, n));
        if (pane !== undefined) {
          const key = record.rawRef.partitionKey ?? record.device_id;
          let open = devices.open.get(key);
          if (open === undefined) open = [];
          let slot = openPane(open, record, pane.start);
          let field: string | undefined;
          if (slot === undefined) {
            // a pane already closed (a late record), or a new one
            if (pane.windows[0]!.end <= devices.closedUntil) {
              field = closedField({ product: record.productId, device: record.device_id, start: pane.start });
              slot = devices.closed.get(key, field);
            }
            if (slot === undefined) {
              field = undefined;
              slot = newSlot(record.productId, record.device_id, paneSize!, pane.start, pane.end, columns);
              open.push(slot);
              out.created.push({ key, pane });
            }
          }
          if (slot.columns === columns)
            for (let m = 0; m < n; m++) addToStats(slot.data, STATS_STRIDE * m, values[m]!, t);
          else
            for (let m = 0; m < n; m++) {
              const c = columnOf(slot, names[m]!, m, lists);
              addToStats(slot.data, STATS_STRIDE * c, values[m]!, t);
            }
          slot.records++;
          // no final holds this record yet
          slot.flags = 0;
          if (field === undefined) {
            devices.open.set(key, open);
            out.keys.add(key);
          } else {
            devices.closed.set(key, field, slot);
            out.lateKeys.add(key);
          }
        }
        let rowOf: WindowSlice['scope'] | undefined;
        let rowName = '';
        for (let i = 0; i < ns; i++) {
          const scope = sharedSlices[i]!.scope;
          if (scope !== rowOf) {
            rowOf = scope;
            rowName = rowNameOf(scope, record, productRow);
          }
          const rows = accs[i]!;
          const row = rows.row(rowName, columns);
          if (row.columns === columns) for (let m = 0; m < n; m++) rows.add(row, m, values[m]!, t);
          else for (let m = 0; m < n; m++) rows.add(row, rows.column(row, names[m]!, m), values[m]!, t);
          row.records++;
        }
      }
      return out;
    },
  };
}

/** See {@link batchApplier}. */
export type BatchApplier = ReturnType<typeof batchApplier>;
