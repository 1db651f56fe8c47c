/**
 * A batch's statistics of one window, kept by row: one row per key (its field prefix, `key US`), one
 * column per metric, the ten statistics of a column in a shared `Float64Array` (the `MetricStats`
 * order), updated record by record with `RunningStats`'s arithmetic. A batch of the 100,000-device
 * workload then builds one row per key and window instead of an object and a string per key × metric.
 * Read as a `ReadonlyMap` of field (`row + metric`) → statistics it is a backend partial's `fields`;
 * a backend that knows rows reads `byRow` and `data` instead (see `backend.ts`).
 */
import type { MetricStats } from '../../topology/index.ts';

/** Slots of one column: the ten statistics in `MetricStats` order. */
export const COLUMN_SLOTS = 10;

/** One key's statistics: column `c` starts at `data[at + COLUMN_SLOTS * c]`. */
export interface StatsRow {
  /** Metric names; rows with the same metrics in the same order share one (frozen) list. */
  columns: readonly string[];
  at: number;
  capacity: number;
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

function statsAt(d: Float64Array, o: number): MetricStats {
  return {
    count: d[o]!,
    sum: d[o + 1]!,
    min: d[o + 2]!,
    max: d[o + 3]!,
    mean: d[o + 4]!,
    m2: d[o + 5]!,
    first: d[o + 6]!,
    firstAt: d[o + 7]!,
    last: d[o + 8]!,
    lastAt: d[o + 9]!,
  };
}

/** A window's rows for one batch; also the `ReadonlyMap` of fields the backend interface names. */
export class WindowRows implements ReadonlyMap<string, MetricStats> {
  readonly byRow = new Map<string, StatsRow>();
  data: Float64Array;
  private used = 0;
  private fieldCount = 0;
  private fields: Map<string, MetricStats> | undefined;

  /** `columnsHint`: how many columns the batch may bring (sizes the slab once instead of growing it). */
  constructor(
    private readonly lists: ColumnLists,
    columnsHint = 64,
  ) {
    this.data = new Float64Array(COLUMN_SLOTS * Math.max(16, columnsHint));
  }

  /**
   * The row of a key prefix; a new row gets `columns` (a list from the same {@link ColumnLists}:
   * a record's metrics), all empty. Add to column `c` directly while `row.columns === columns`.
   */
  row(name: string, columns: readonly string[]): StatsRow {
    let row = this.byRow.get(name);
    if (row === undefined) {
      const n = columns.length;
      row = { columns, at: this.used, capacity: n };
      this.byRow.set(name, row);
      this.reserve(COLUMN_SLOTS * n);
      for (let c = 0; c < n; c++) this.clear(row.at + COLUMN_SLOTS * c);
      this.fieldCount += n;
      this.fields = undefined;
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
    this.clear(row.at + COLUMN_SLOTS * c);
    this.fieldCount++;
    this.fields = undefined;
    return c;
  }

  /** Empty statistics at slot `o`: what `new RunningStats()` starts from. */
  private clear(o: number): void {
    const d = this.data;
    d[o] = 0;
    d[o + 1] = 0;
    d[o + 2] = Number.POSITIVE_INFINITY;
    d[o + 3] = Number.NEGATIVE_INFINITY;
    d[o + 4] = 0;
    d[o + 5] = 0;
    d[o + 6] = 0;
    d[o + 7] = Number.POSITIVE_INFINITY;
    d[o + 8] = 0;
    d[o + 9] = Number.NEGATIVE_INFINITY;
  }

  /** Adds a value observed at an event time to a column (`RunningStats.add`'s arithmetic, in its order). */
  add(row: StatsRow, c: number, value: number, at: number): void {
    const d = this.data;
    const o = row.at + COLUMN_SLOTS * c;
    const count = ++d[o]!;
    d[o + 1]! += value;
    if (value < d[o + 2]!) d[o + 2] = value;
    if (value > d[o + 3]!) d[o + 3] = value;
    const delta = value - d[o + 4]!;
    d[o + 4]! += delta / count;
    d[o + 5]! += delta * (value - d[o + 4]!);
    if (at < d[o + 7]! || (at === d[o + 7]! && value < d[o + 6]!)) {
      d[o + 6] = value;
      d[o + 7] = at;
    }
    if (at > d[o + 9]! || (at === d[o + 9]! && value > d[o + 8]!)) {
      d[o + 8] = value;
      d[o + 9] = at;
    }
  }

  /** Makes room for more columns: in place when the row ends the slab, else moved to its end. */
  private grow(row: StatsRow): void {
    const capacity = Math.max(row.columns.length + 1, row.capacity * 2);
    if (row.at + COLUMN_SLOTS * row.capacity === this.used) {
      this.reserve(COLUMN_SLOTS * (capacity - row.capacity));
    } else {
      const at = this.used;
      this.reserve(COLUMN_SLOTS * capacity);
      this.data.copyWithin(at, row.at, row.at + COLUMN_SLOTS * row.columns.length);
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

  private map(): Map<string, MetricStats> {
    if (this.fields === undefined) {
      const fields = new Map<string, MetricStats>();
      for (const [name, row] of this.byRow)
        for (let c = 0; c < row.columns.length; c++)
          fields.set(name + row.columns[c], statsAt(this.data, row.at + COLUMN_SLOTS * c));
      this.fields = fields;
    }
    return this.fields;
  }

  get size(): number {
    return this.fieldCount;
  }
  get(field: string): MetricStats | undefined {
    return this.map().get(field);
  }
  has(field: string): boolean {
    return this.map().has(field);
  }
  forEach(
    callback: (value: MetricStats, key: string, map: ReadonlyMap<string, MetricStats>) => void,
    thisArg?: unknown,
  ): void {
    for (const [k, v] of this.map()) callback.call(thisArg, v, k, this);
  }
  entries() {
    return this.map().entries();
  }
  keys() {
    return this.map().keys();
  }
  values() {
    return this.map().values();
  }
  [Symbol.iterator]() {
    return this.map()[Symbol.iterator]();
  }
}
