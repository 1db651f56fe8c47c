/**
 * The growing columns `TelemetryBuffer` collects rows into: strings as codes into their distinct
 * values, typed metric columns in the form the Parquet writer takes.
 */
import type { ColumnValues, DictionaryColumn } from '../parquet/types.ts';
import type { ColdType } from './types.ts';

export function fits(type: ColdType, v: unknown): boolean {
  switch (type) {
    case 'double':
      return typeof v === 'number';
    case 'long':
    case 'int':
      return typeof v === 'number' && Number.isInteger(v);
    case 'boolean':
      return typeof v === 'boolean';
    default:
      return typeof v === 'string';
  }
}

export function grown<T extends Float64Array | Int32Array | Uint8Array>(array: T, capacity: number): T {
  const next = new (array.constructor as new (n: number) => T)(capacity);
  next.set(array);
  return next;
}

/** A string column being collected: a code per row (−1: null) into a list of its distinct values. */
export class StringCodes {
  codes: Int32Array;
  readonly dictionary: string[] = [];
  readonly #index = new Map<string, number>();
  // rows in a row often repeat the value (a shard, a KPL aggregate's sequence number)
  #last: string | undefined;
  #lastCode = -1;

  constructor(capacity: number) {
    this.codes = new Int32Array(capacity);
  }

  set(row: number, value: string | null | undefined): void {
    if (value === null || value === undefined) {
      this.codes[row] = -1;
      return;
    }
    if (value !== this.#last) {
      let code = this.#index.get(value);
      if (code === undefined) {
        code = this.dictionary.length;
        this.dictionary.push(value);
        this.#index.set(value, code);
      }
      this.#last = value;
      this.#lastCode = code;
    }
    this.codes[row] = this.#lastCode;
  }

  value(row: number): string | null {
    const code = this.codes[row]!;
    return code < 0 ? null : this.dictionary[code]!;
  }

  grow(capacity: number): void {
    this.codes = grown(this.codes, capacity);
  }

  /**
   * Rows `from` to `to` (codes copied; the dictionary shared: a buffer being committed takes no more
   * rows, and the encoding thread gets a copy of the message).
   */
  slice(from: number, to: number): DictionaryColumn {
    return { kind: 'dictionary', codes: this.codes.slice(from, to), dictionary: this.dictionary };
  }
}

/** A typed metric column: its row values, in the column form the Parquet writer takes. */
export interface MetricColumnBuffer {
  readonly name: string;
  readonly type: ColdType;
  /** Sets row `row` to `value`, which fits the type; rows not set are null. */
  set(row: number, value: unknown): void;
  get(row: number): unknown;
  grow(capacity: number): void;
  slice(from: number, to: number): ColumnValues;
}

export function metricColumnBuffer(name: string, type: ColdType, capacity: number): MetricColumnBuffer {
  if (type === 'string') {
    const strings = new StringCodes(capacity);
    strings.codes.fill(-1);
    return {
      name,
      type,
      set: (row, value) => strings.set(row, value as string),
      get: (row) => strings.value(row),
      grow(n) {
        const from = strings.codes.length;
        strings.grow(n);
        strings.codes.fill(-1, from);
      },
      slice: (from, to) => strings.slice(from, to),
    };
  }
  if (type === 'boolean') {
    // 0 null, 1 false, 2 true
    let flags = new Uint8Array(capacity);
    return {
      name,
      type,
      set: (row, value) => {
        flags[row] = value ? 2 : 1;
      },
      get: (row) => (flags[row] === 0 ? null : flags[row] === 2),
      grow(n) {
        flags = grown(flags, n);
      },
      slice: (from, to) => Array.from(flags.subarray(from, to), (f) => (f === 0 ? null : f === 2)),
    };
  }
  let values: Float64Array | Int32Array =
    type === 'int' ? new Int32Array(capacity) : new Float64Array(capacity);
  let present = new Uint8Array(capacity);
  return {
    name,
    type,
    set: (row, value) => {
      values[row] = value as number;
      present[row] = 1;
    },
    get: (row) => (present[row] === 0 ? null : values[row]),
    grow(n) {
      values = grown(values, n);
      present = grown(present, n);
    },
    slice: (from, to) => ({ values: values.slice(from, to), present: present.slice(from, to) }),
  };
}
