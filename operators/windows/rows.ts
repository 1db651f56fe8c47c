/**
 * A batch's statistics of one product or customer × product window, kept by row: one row per key
 * (`key US`), one column per metric, the statistics of a column in a shared `Float64Array` (the
 * layout of `topology/metricStats.ts`), updated record by record with its `addToStats`, then merged
 * into the shard's partials once per batch (`sharedWindows.ts`).
 */
import { addToStats, clearStats, STATS_STRIDE } from '../../topology/index.ts';

/** One key's statistics: column `c` starts at `data[at + STATS_STRIDE * c]`. */
export interface StatsRow {
  /** Metric names; rows with the same metrics in the same order share one (frozen) list. */
  columns: readonly string[];
  at: number;
  capacity: number;
  /** Records added to the row. */
  records: number;
}

interface ListNode {
  list: readonly string[] | undefined;
  readonly next: Map<string, ListNode>;
}

/** Interns column lists, so rows of the same metrics share one list (and a backend's cached header). */
export class ColumnLists {
  private root = new Map<string, ListNode>();
  private count = 0;

  /** The shared list equal to `columns` (after 10,000 distinct lists, fresh ones: rows still work). */
  of(columns: readonly string[]): readonly string[] {
    if (this.count > 10_000) {
      this.root = new Map();
      this.count = 0;
    }
    let level = this.root;
    let node: ListNode | undefined;
    for (const c of columns) {
      node = level.get(c);
      if (node === undefined) {
        node = { list: undefined, next: new Map() };
        level.set(c, node);
      }
      level = node.next;
    }
    if (node === undefined) return [];
    if (node.list === undefined) {
      node.list = Object.freeze([...columns]);
      this.count++;
    }
    return node.list;
  }
}

/** A window's rows for one batch (then emptied for another batch's window: `clear`). */
export class WindowRows {
  readonly byRow = new Map<string, StatsRow>();
  data: Float64Array;
  private used = 0;

  /** `columnsHint`: how many columns the batch may bring (sizes the slab once instead of growing it). */
  constructor(
    private readonly lists: ColumnLists,
    columnsHint = 64,
  ) {
    this.data = new Float64Array(STATS_STRIDE * Math.max(16, columnsHint));
  }

  /** No rows any more; the slab stays, sized for a batch like the last. */
  clear(): void {
    this.byRow.clear();
    this.used = 0;
  }

  /**
   * The row of a key prefix; a new row gets `columns` (a list from the same {@link ColumnLists}:
   * a record's metrics), all empty. Add to column `c` directly while `row.columns === columns`.
   */
  row(name: string, columns: readonly string[]): StatsRow {
    let row = this.byRow.get(name);
    if (row === undefined) {
      const n = columns.length;
      row = { columns, at: this.used, capacity: n, records: 0 };
      this.byRow.set(name, row);
      this.reserve(STATS_STRIDE * n);
      for (let c = 0; c < n; c++) clearStats(this.data, row.at + STATS_STRIDE * c);
    }
    return row;
  }

  /** The column of `metric` in `row`; `hint` is where it usually is (the record's metric order). */
  column(row: StatsRow, metric: string, hint: number): number {
    const columns = row.columns;
    if (columns[hint] === metric) return hint;
    const found = columns.indexOf(metric);
    if (found >= 0) return found;
    const c = columns.length;
    if (c === row.capacity) this.grow(row);
    row.columns = this.lists.of([...columns, metric]);
    clearStats(this.data, row.at + STATS_STRIDE * c);
    return c;
  }

  /** Adds a value observed at an event time to a column (`addToStats`). */
  add(row: StatsRow, c: number, value: number, at: number): void {
    addToStats(this.data, row.at + STATS_STRIDE * c, value, at);
  }

  /** Makes room for more columns: in place when the row ends the slab, else moved to its end. */
  private grow(row: StatsRow): void {
    const capacity = Math.max(row.columns.length + 1, row.capacity * 2);
    if (row.at + STATS_STRIDE * row.capacity === this.used) {
      this.reserve(STATS_STRIDE * (capacity - row.capacity));
    } else {
      const at = this.used;
      this.reserve(STATS_STRIDE * capacity);
      this.data.copyWithin(at, row.at, row.at + STATS_STRIDE * row.columns.length);
      row.at = at;
    }
    row.capacity = capacity;
  }

  private reserve(slots: number): void {
    this.used += slots;
    if (this.used > this.data.length) {
      const grown = new Float64Array(Math.max(this.used, this.data.length * 2));
      grown.set(this.data);
      this.data = grown;
    }
  }
}
