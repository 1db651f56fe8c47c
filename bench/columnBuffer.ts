/**
 * The benchmarks' generic input to the Parquet writer (the Cold sink has its own, telemetry-specific
 * buffer, `TelemetryBuffer`). Collects records column by column as they arrive, so that a data file's rows never exist as row
 * objects twice: numeric columns go straight into growing typed arrays (no boxed numbers for the
 * garbage collector), the others into plain arrays. `rows()` hands the result to `writeParquet`.
 */
import type {
  ColdField,
  ColdMapValue,
  ColdValue,
  ColumnarRows,
  ColumnValues,
} from '../sinks/cold/parquet/types.ts';

/** Sets one column's value in the row being built; a column not set in a row is null there. */
export interface ColumnSlot {
  set(value: ColdValue | ColdMapValue): void;
}

const NUMERIC = {
  double: Float64Array,
  timestamptz: Float64Array,
  long: Float64Array,
  int: Int32Array,
  date: Int32Array,
};

interface Column {
  readonly slot: ColumnSlot;
  grow(capacity: number): void;
  values(): ColumnValues;
  reset(): void;
}

/** Builds the rows of one data file, one `endRow()` at a time. */
export class ColumnBuffer {
  #length = 0;
  #capacity: number;
  readonly #columns = new Map<number, Column>();

  constructor(fields: readonly ColdField[], capacity = 4096) {
    this.#capacity = Math.max(1, capacity);
    for (const field of fields) this.#columns.set(field.id, this.#column(field));
  }

  /** Rows ended so far. */
  get length(): number {
    return this.#length;
  }

  /** The slot of field `id`, to set its value in each row. */
  column(id: number): ColumnSlot {
    const column = this.#columns.get(id);
    if (!column) throw new Error(`no column with field id ${id}`);
    return column.slot;
  }

  /** Ends the current row; the next `set` calls fill the next one. */
  endRow(): void {
    this.#length++;
    if (this.#length === this.#capacity) {
      this.#capacity *= 2;
      for (const column of this.#columns.values()) column.grow(this.#capacity);
    }
  }

  /** The rows ended so far, as `writeParquet` takes them (views: valid until `clear`). */
  rows(): ColumnarRows {
    const columns = new Map<number, ColumnValues>();
    for (const [id, column] of this.#columns) columns.set(id, column.values());
    return { length: this.#length, columns };
  }

  /** Forgets all rows, keeping the allocated capacity. */
  clear(): void {
    this.#length = 0;
    for (const column of this.#columns.values()) column.reset();
  }

  #column(field: ColdField): Column {
    const type = typeof field.type === 'string' ? field.type : 'map';
    const buffer = this;
    if (type in NUMERIC) {
      const Typed = NUMERIC[type as keyof typeof NUMERIC];
      let values: Float64Array | Int32Array = new Typed(this.#capacity);
      let present = new Uint8Array(this.#capacity);
      return {
        slot: {
          set(value) {
            if (value === null || value === undefined) return;
            if (typeof value !== 'number') {
              throw new Error(
                `column "${field.name}", row ${buffer.#length}: expected a number, got ${typeof value}`,
              );
            }
            values[buffer.#length] = value;
            present[buffer.#length] = 1;
          },
        },
        grow(capacity) {
          const v = new Typed(capacity);
          v.set(values);
          values = v;
          const p = new Uint8Array(capacity);
          p.set(present);
          present = p;
        },
        values: () => ({ values, present }),
        reset: () => present.fill(0),
      };
    }
    let values: (ColdValue | ColdMapValue)[] = [];
    return {
      slot: {
        set(value) {
          values[buffer.#length] = value;
        },
      },
      grow() {},
      values: () => {
        // Rows that never set this column are holes; writeParquet reads them as null.
        if (values.length < buffer.#length) values.length = buffer.#length;
        const rows = values.length === buffer.#length ? values : values.slice(0, buffer.#length);
        return rows as ColumnValues;
      },
      reset: () => {
        values = [];
      },
    };
  }
}
