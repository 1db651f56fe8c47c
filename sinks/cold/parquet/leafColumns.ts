/**
 * The leaves of a Parquet column built straight into Arrow buffers: strings, 64-bit and 32-bit
 * integers, doubles, booleans, from plain values or typed arrays, each leaf's Iceberg metrics
 * (value, null and NaN counts, minimum and maximum) gathered in the same pass. `columns.ts` puts them
 * together into columns; `dictionaryColumns.ts` builds the dictionary-encoded strings.
 */
import * as arrow from 'apache-arrow';
import { compareCodePoints } from './bounds.ts';
import type { ColdMapValue, ColdType, ColdValue, TypedColumn } from './types.ts';

/** Metrics of one leaf column, before bounds are encoded. */
export interface LeafStats {
  readonly id: number;
  readonly type: ColdType;
  valueCount: number;
  nullCount: number;
  nanCount: number;
  /** Minimum and maximum non-null, non-NaN value; `long`/`timestamptz` in the written unit (µs). */
  min: string | number | bigint | boolean | undefined;
  max: string | number | bigint | boolean | undefined;
  /** Whether min/max become Iceberg bounds (not for values inside maps). */
  readonly bounded: boolean;
}

const FIELD_ID = 'PARQUET:field_id';
const TWO_32 = 4294967296;

export const fieldIdMetadata = (id: number) => new Map([[FIELD_ID, String(id)]]);

export function arrowType(type: ColdType): arrow.DataType {
  switch (type) {
    case 'string':
      return new arrow.Utf8();
    case 'long':
      return new arrow.Int64();
    case 'int':
      return new arrow.Int32();
    case 'double':
      return new arrow.Float64();
    case 'boolean':
      return new arrow.Bool();
    case 'timestamptz':
      return new arrow.TimestampMicrosecond('UTC');
    case 'date':
      return new arrow.DateDay();
  }
}

export function newStats(id: number, type: ColdType, bounded: boolean): LeafStats {
  return { id, type, valueCount: 0, nullCount: 0, nanCount: 0, min: undefined, max: undefined, bounded };
}

/** Validity bitmap (bit set = present), allocated only once a null is seen. */
export class Validity {
  bitmap: Uint8Array | undefined;
  nulls = 0;
  constructor(readonly length: number) {}
  setNull(i: number): void {
    if (!this.bitmap) {
      this.bitmap = new Uint8Array((this.length + 7) >> 3).fill(0xff);
    }
    this.bitmap[i >> 3]! &= ~(1 << (i & 7));
    this.nulls++;
  }
}

export function fail(name: string, row: number, problem: string): never {
  throw new Error(`column "${name}", row ${row}: ${problem}`);
}

export function buildUtf8(name: string, values: ArrayLike<ColdValue>, n: number, v: Validity, s: LeafStats) {
  const offsets = new Int32Array(n + 1);
  let bytes = new Uint8Array(Math.max(64, n * 16));
  let at = 0;
  let min: string | undefined;
  let max: string | undefined;
  // While the bounds and the value are ASCII, the engine's `<` (UTF-16 order) is code point order.
  let minAscii = true;
  let maxAscii = true;
  for (let i = 0; i < n; i++) {
    const value = values[i];
    if (value === null || value === undefined) {
      v.setNull(i);
    } else {
      if (typeof value !== 'string') fail(name, i, `expected a string, got ${typeof value}`);
      const len = value.length;
      if (at + len * 3 > bytes.length) {
        const grown = new Uint8Array(Math.max(bytes.length * 2, at + len * 3));
        grown.set(bytes.subarray(0, at));
        bytes = grown;
      }
      // ASCII byte by byte is faster than TextEncoder for short identifiers; anything else falls back.
      let j = 0;
      for (; j < len; j++) {
        const c = value.charCodeAt(j);
        if (c >= 0x80) break;
        bytes[at + j] = c;
      }
      const ascii = j === len;
      if (ascii) at += len;
      else at += utf8.encodeInto(value, bytes.subarray(at)).written;
      // Map keys and values get no bounds.
      if (!s.bounded) {
        offsets[i + 1] = at;
        continue;
      }
      if (min === undefined || max === undefined) {
        min = max = value;
        minAscii = maxAscii = ascii;
      } else {
        if (ascii && minAscii ? value < min : compareCodePoints(value, min) < 0) {
          min = value;
          minAscii = ascii;
        }
        if (ascii && maxAscii ? value > max : compareCodePoints(value, max) > 0) {
          max = value;
          maxAscii = ascii;
        }
      }
    }
    offsets[i + 1] = at;
  }
  s.min = min;
  s.max = max;
  return { valueOffsets: offsets, data: bytes.subarray(0, at) };
}

const utf8 = new TextEncoder();

function buildInt64(
  name: string,
  type: ColdType,
  values: ArrayLike<ColdValue>,
  n: number,
  v: Validity,
  s: LeafStats,
) {
  const data = new BigInt64Array(n);
  const words = new Int32Array(data.buffer);
  const micros = type === 'timestamptz';
  let min: number | bigint | undefined;
  let max: number | bigint | undefined;
  for (let i = 0; i < n; i++) {
    const value = values[i];
    if (value === null || value === undefined) {
      v.setNull(i);
      continue;
    }
    let x: number | bigint;
    if (typeof value === 'number') {
      x = micros ? Math.round(value * 1000) : value;
      if (!Number.isSafeInteger(x)) fail(name, i, `${value} is not a safe integer ${micros ? 'ms' : ''}`);
      // Two 32-bit words instead of a BigInt per value: numbers stay numbers.
      const hi = Math.floor(x / TWO_32);
      words[2 * i] = (x - hi * TWO_32) | 0;
      words[2 * i + 1] = hi;
    } else if (typeof value === 'bigint') {
      x = micros ? value * 1000n : value;
      data[i] = x;
    } else {
      fail(name, i, `expected a number, got ${typeof value}`);
    }
    if (min === undefined || x < min) min = x;
    if (max === undefined || x > max) max = x;
  }
  s.min = min;
  s.max = max;
  return data;
}

function buildNumbers(
  name: string,
  type: 'int' | 'date' | 'double',
  values: ArrayLike<ColdValue>,
  n: number,
  v: Validity,
  s: LeafStats,
) {
  const data = type === 'double' ? new Float64Array(n) : new Int32Array(n);
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let nans = 0;
  for (let i = 0; i < n; i++) {
    const value = values[i];
    if (value === null || value === undefined) {
      v.setNull(i);
      continue;
    }
    if (typeof value !== 'number') fail(name, i, `expected a number, got ${typeof value}`);
    if (type !== 'double' && (value | 0) !== value) fail(name, i, `${value} is not a 32-bit integer`);
    data[i] = value;
    if (Number.isNaN(value)) {
      nans++;
      continue;
    }
    // Iceberg orders -0 before 0, so a column holding both has bounds -0 and 0.
    if (value < min || (value === 0 && min === 0 && 1 / value < 0)) min = value;
    if (value > max || (value === 0 && max === 0 && 1 / value > 0)) max = value;
  }
  s.nanCount = nans;
  if (min <= max) {
    s.min = min;
    s.max = max;
  }
  return data;
}

function buildBooleans(name: string, values: ArrayLike<ColdValue>, n: number, v: Validity, s: LeafStats) {
  const data = new Uint8Array((n + 7) >> 3);
  let trues = 0;
  let falses = 0;
  for (let i = 0; i < n; i++) {
    const value = values[i];
    if (value === null || value === undefined) {
      v.setNull(i);
    } else if (value === true) {
      data[i >> 3]! |= 1 << (i & 7);
      trues++;
    } else if (value === false) {
      falses++;
    } else {
      fail(name, i, `expected a boolean, got ${typeof value}`);
    }
  }
  if (trues + falses > 0) {
    s.min = falses === 0;
    s.max = trues > 0;
  }
  return data;
}

/** Builds the Arrow data of one primitive column of `n` values. */
export function buildPrimitive(
  name: string,
  type: ColdType,
  values: ArrayLike<ColdValue>,
  n: number,
  s: LeafStats,
): arrow.Data {
  const v = new Validity(n);
  const t = arrowType(type);
  let data: arrow.Data;
  switch (type) {
    case 'string': {
      const { valueOffsets, data: bytes } = buildUtf8(name, values, n, v, s);
      data = arrow.makeData({ type: t as arrow.Utf8, length: n, valueOffsets, data: bytes, ...nulls(v) });
      break;
    }
    case 'long':
    case 'timestamptz':
      data = arrow.makeData({
        type: t as arrow.Int64,
        length: n,
        data: buildInt64(name, type, values, n, v, s),
        ...nulls(v),
      });
      break;
    case 'int':
    case 'date':
    case 'double':
      data = arrow.makeData({
        type: t as arrow.Int32,
        length: n,
        data: buildNumbers(name, type, values, n, v, s) as Int32Array,
        ...nulls(v),
      });
      break;
    case 'boolean':
      data = arrow.makeData({
        type: t as arrow.Bool,
        length: n,
        data: buildBooleans(name, values, n, v, s),
        ...nulls(v),
      });
      break;
  }
  s.valueCount += n;
  s.nullCount += v.nulls;
  return data;
}

export function nulls(v: Validity): { nullCount: number; nullBitmap?: Uint8Array } {
  return v.bitmap ? { nullCount: v.nulls, nullBitmap: v.bitmap } : { nullCount: 0 };
}

export function isAbsent(value: ColdValue | ColdMapValue): value is null | undefined {
  return value === null || value === undefined;
}

/** Builds a numeric column from a typed array: no boxed numbers, and `double`/`int`/`date` copy nothing. */
export function buildTyped(
  name: string,
  type: ColdType,
  column: TypedColumn,
  n: number,
  s: LeafStats,
): arrow.Data {
  const { values, present } = column;
  const int64 = type === 'long' || type === 'timestamptz';
  const wanted = type === 'int' || type === 'date' ? Int32Array : Float64Array;
  if (type === 'string' || type === 'boolean' || !(values instanceof wanted)) {
    throw new Error(`column "${name}": a ${values.constructor.name} cannot hold ${type} values`);
  }
  if (values.length < n || (present && present.length < n)) {
    throw new Error(`column "${name}": typed array shorter than ${n} rows`);
  }
  const v = new Validity(n);
  const data = int64 ? new BigInt64Array(n) : values.subarray(0, n);
  const words = int64 ? new Int32Array(data.buffer) : undefined;
  const micros = type === 'timestamptz';
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let nans = 0;
  for (let i = 0; i < n; i++) {
    if (present && present[i] === 0) {
      v.setNull(i);
      continue;
    }
    let x = values[i]!;
    if (words) {
      x = micros ? Math.round(x * 1000) : x;
      if (!Number.isSafeInteger(x))
        fail(name, i, `${values[i]} is not a safe integer${micros ? ' of ms' : ''}`);
      const hi = Math.floor(x / TWO_32);
      words[2 * i] = (x - hi * TWO_32) | 0;
      words[2 * i + 1] = hi;
    } else if (Number.isNaN(x)) {
      nans++;
      continue;
    }
    if (x < min || (x === 0 && min === 0 && 1 / x < 0)) min = x;
    if (x > max || (x === 0 && max === 0 && 1 / x > 0)) max = x;
  }
  s.nanCount = nans;
  if (min <= max) {
    s.min = min;
    s.max = max;
  }
  s.valueCount += n;
  s.nullCount += v.nulls;
  return arrow.makeData({
    type: arrowType(type) as arrow.Int32,
    length: n,
    data: data as Int32Array,
    ...nulls(v),
  });
}
