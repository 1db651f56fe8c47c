/**
 * Builds Arrow column buffers directly from columnar values (no row objects, no Arrow builders) and
 * collects each leaf column's Iceberg metrics in the same pass: value, null and NaN counts and the
 * minimum and maximum. The arrays go to parquet-wasm, whose Parquet writer takes the Iceberg field id
 * of every schema element from the Arrow field metadata key `PARQUET:field_id`.
 */
import * as arrow from 'apache-arrow';
import { compareCodePoints } from './bounds.ts';
import type {
  ColdField,
  ColdMapValue,
  ColdType,
  ColdValue,
  ColumnValues,
  DictionaryColumn,
  MapEntriesColumn,
  NumberTextColumn,
  TypedColumn,
} from './types.ts';

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

/** One built column: its Arrow field (with field ids) and data, and the metrics of its leaves. */
export interface BuiltColumn {
  readonly field: arrow.Field;
  readonly data: arrow.Data;
  readonly leaves: readonly LeafStats[];
}

const FIELD_ID = 'PARQUET:field_id';
const TWO_32 = 4294967296;

const fieldIdMetadata = (id: number) => new Map([[FIELD_ID, String(id)]]);

function arrowType(type: ColdType): arrow.DataType {
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

function newStats(id: number, type: ColdType, bounded: boolean): LeafStats {
  return { id, type, valueCount: 0, nullCount: 0, nanCount: 0, min: undefined, max: undefined, bounded };
}

/** Validity bitmap (bit set = present), allocated only once a null is seen. */
class Validity {
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

function fail(name: string, row: number, problem: string): never {
  throw new Error(`column "${name}", row ${row}: ${problem}`);
}

function buildUtf8(name: string, values: ArrayLike<ColdValue>, n: number, v: Validity, s: LeafStats) {
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

/**
 * A string column as dictionary indices into its distinct values, or `undefined` when more than an
 * eighth of the values are distinct (then the plain form is as cheap, and giving up early costs less). Telemetry's strings repeat
 * (device, product, site, customer): encoding and ordering each distinct value once, not each row,
 * makes the column several times cheaper, and Parquet dictionary-encodes the column either way.
 */
function buildUtf8Dictionary(name: string, values: ArrayLike<ColdValue>, n: number, v: Validity) {
  const limit = Math.max(16, n >> 3);
  const indices = new Int32Array(n);
  const codes = new Map<string, number>();
  const distinct: string[] = [];
  let last: string | undefined;
  let lastCode = 0;
  for (let i = 0; i < n; i++) {
    const value = values[i];
    if (value === null || value === undefined) {
      v.setNull(i);
      continue;
    }
    if (value === last) {
      indices[i] = lastCode;
      continue;
    }
    if (typeof value !== 'string') fail(name, i, `expected a string, got ${typeof value}`);
    let code = codes.get(value);
    if (code === undefined) {
      code = distinct.length;
      if (code >= limit) return undefined;
      codes.set(value, code);
      distinct.push(value);
    }
    indices[i] = code;
    last = value;
    lastCode = code;
  }
  return { indices, distinct };
}

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

/** A dictionary-encoded string column, or `undefined` when its values are too varied. */
function buildDictionaryString(
  name: string,
  values: ArrayLike<ColdValue>,
  n: number,
  s: LeafStats,
): arrow.Data | undefined {
  const v = new Validity(n);
  const dict = buildUtf8Dictionary(name, values, n, v);
  if (!dict) return undefined;
  return dictionaryData(name, dict.indices, dict.distinct, v, n, s);
}

/** Arrow dictionary data of `n` rows: `indices` into `distinct` (nulls marked in `v`). */
function dictionaryData(
  name: string,
  indices: Int32Array,
  distinct: readonly string[],
  v: Validity,
  n: number,
  s: LeafStats,
): arrow.Data {
  // The distinct values are plain strings; their bounds and bytes come from the plain builder.
  const words = buildUtf8(name, distinct, distinct.length, new Validity(distinct.length), s);
  const dictionary = arrow.makeVector(
    arrow.makeData({
      type: new arrow.Utf8(),
      length: distinct.length,
      valueOffsets: words.valueOffsets,
      data: words.data,
      nullCount: 0,
    }),
  );
  s.valueCount += n;
  s.nullCount += v.nulls;
  return arrow.makeData({
    type: new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32()),
    length: n,
    data: indices,
    dictionary,
    ...nulls(v),
  });
}

/**
 * A {@link DictionaryColumn} renumbered to the values its rows use (a buffer's dictionary may hold
 * values of other files), so the file's dictionary and bounds are its own; plain when those values
 * are too varied for a dictionary, as {@link buildDictionaryString} decides.
 */
function buildFromDictionary(name: string, column: DictionaryColumn, n: number, s: LeafStats): arrow.Data {
  const { codes, dictionary } = column;
  if (codes.length !== n) throw new Error(`column "${name}": ${codes.length} codes for ${n} rows`);
  const v = new Validity(n);
  const renumbered = new Int32Array(dictionary.length).fill(-1);
  const used: string[] = [];
  const indices = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const code = codes[i]!;
    if (code < 0) {
      v.setNull(i);
      continue;
    }
    let r = renumbered[code];
    if (r === undefined) fail(name, i, `code ${code} is outside the dictionary`);
    if (r < 0) {
      const value = dictionary[code];
      if (typeof value !== 'string') fail(name, i, `expected a string, got ${typeof value}`);
      r = used.length;
      renumbered[code] = r;
      used.push(value);
    }
    indices[i] = r;
  }
  if (used.length <= Math.max(16, n >> 3)) return dictionaryData(name, indices, used, v, n, s);
  const plain = new Array<string | null>(n);
  for (let i = 0; i < n; i++) plain[i] = codes[i]! < 0 ? null : dictionary[codes[i]!]!;
  return buildPrimitive(name, 'string', plain, n, s);
}

/** A {@link NumberTextColumn} as the strings it stands for. */
function numberTexts(name: string, column: NumberTextColumn, n: number): (string | null)[] {
  const { numbers, text } = column;
  if (numbers.length !== n) throw new Error(`column "${name}": ${numbers.length} numbers for ${n} rows`);
  const values = new Array<string | null>(n);
  for (let i = 0; i < n; i++) values[i] = String(numbers[i]);
  if (text) for (const [i, value] of text) if (i >= 0 && i < n) values[i] = value;
  return values;
}

/** Builds the Arrow data of one primitive column of `n` values. */
function buildPrimitive(
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

function nulls(v: Validity): { nullCount: number; nullBitmap?: Uint8Array } {
  return v.bitmap ? { nullCount: v.nulls, nullBitmap: v.bitmap } : { nullCount: 0 };
}

function isAbsent(value: ColdValue | ColdMapValue): value is null | undefined {
  return value === null || value === undefined;
}

/** Builds a numeric column from a typed array: no boxed numbers, and `double`/`int`/`date` copy nothing. */
function buildTyped(name: string, type: ColdType, column: TypedColumn, n: number, s: LeafStats): arrow.Data {
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

function isTyped(values: ColumnValues): values is TypedColumn {
  return 'values' in values && ArrayBuffer.isView((values as TypedColumn).values);
}

type Compact = DictionaryColumn | NumberTextColumn | MapEntriesColumn;

function isCompact(values: ColumnValues): values is Compact {
  const kind = (values as { kind?: unknown }).kind;
  return kind === 'dictionary' || kind === 'number-text' || kind === 'map-entries';
}

/**
 * The Arrow data of a primitive leaf of `n` values in any of the column forms; plain strings try a
 * dictionary first when `dictionaryFirst`.
 */
function buildLeaf(
  name: string,
  type: ColdType,
  column: ColumnValues,
  n: number,
  s: LeafStats,
  dictionaryFirst: boolean,
): arrow.Data {
  if (isCompact(column)) {
    if (column.kind === 'map-entries') throw new Error(`column "${name}": map entries for a ${type} column`);
    if (type !== 'string') throw new Error(`column "${name}": ${column.kind} values for a ${type} column`);
    return column.kind === 'dictionary'
      ? buildFromDictionary(name, column, n, s)
      : buildPrimitive(name, type, numberTexts(name, column, n), n, s);
  }
  if (isTyped(column)) return buildTyped(name, type, column, n, s);
  if (column.length !== n) throw new Error(`column "${name}": ${column.length} values for ${n} rows`);
  const plain = column as ArrayLike<ColdValue>;
  return (
    (dictionaryFirst && type === 'string' ? buildDictionaryString(name, plain, n, s) : undefined) ??
    buildPrimitive(name, type, plain, n, s)
  );
}

/** Whether row `i` of a column is null, for the column's form (chosen once, not per row). */
function nullTest(column: ColumnValues): (i: number) => boolean {
  if (isCompact(column)) {
    switch (column.kind) {
      case 'dictionary':
        return (i) => column.codes[i]! < 0;
      case 'number-text':
        return (i) => column.text?.get(i) === null;
      case 'map-entries':
        return (i) => column.present?.[i] === 0;
    }
  }
  if (isTyped(column)) return (i) => column.present?.[i] === 0;
  const values = column as ArrayLike<ColdValue>;
  return (i) => isAbsent(values[i]);
}

/** The first null row of a column in any form (for the error of a required column). */
function firstNull(column: ColumnValues, n: number): number {
  const isNull = nullTest(column);
  for (let i = 0; i < n; i++) if (isNull(i)) return i;
  return 0;
}

/** Builds one column of `n` rows; `values` undefined means all null. */
export function buildColumn(field: ColdField, values: ColumnValues | undefined, n: number): BuiltColumn {
  const column = values ?? { length: n };
  if (typeof field.type === 'string') {
    const stats = newStats(field.id, field.type, true);
    const data = buildLeaf(field.name, field.type, column, n, stats, true);
    if (field.required && stats.nullCount > 0)
      fail(field.name, firstNull(column, n), 'null in a required column');
    const arrowField = new arrow.Field(field.name, data.type, !field.required, fieldIdMetadata(field.id));
    return { field: arrowField, data, leaves: [stats] };
  }
  if (isCompact(column)) {
    if (column.kind !== 'map-entries')
      throw new Error(`column "${field.name}": ${column.kind} values for a map column`);
    return buildMapEntries(field, column, n);
  }
  if (isTyped(column)) throw new Error(`column "${field.name}": a map column cannot be a typed array`);
  if (column.length !== n) throw new Error(`column "${field.name}": ${column.length} values for ${n} rows`);
  return buildMap(field, column as ArrayLike<ColdMapValue>, n);
}

type MapType = Exclude<ColdField['type'], ColdType>;

function buildMap(field: ColdField, values: ArrayLike<ColdMapValue>, n: number): BuiltColumn {
  const type = field.type as MapType;
  const keys: string[] = [];
  const items: ColdValue[] = [];
  const offsets = new Int32Array(n + 1);
  const v = new Validity(n);
  // Parquet keeps one slot per null or empty map in each leaf; Iceberg counts those as values and nulls.
  let emptySlots = 0;
  for (let i = 0; i < n; i++) {
    const value = values[i];
    if (isAbsent(value)) {
      if (field.required) fail(field.name, i, 'null in a required column');
      v.setNull(i);
      emptySlots++;
    } else {
      const before = keys.length;
      if (value instanceof Map) {
        for (const [key, item] of value) {
          keys.push(key);
          items.push(item);
        }
      } else {
        // for…in with an own-property check: Object.entries' keys without an array per row.
        const record = value as Readonly<Record<string, ColdValue>>;
        for (const key in record) {
          if (!Object.hasOwn(record, key)) continue;
          keys.push(key);
          items.push(record[key]);
        }
      }
      if (keys.length === before) emptySlots++;
    }
    offsets[i + 1] = keys.length;
  }
  const keyStats = newStats(type.keyId, 'string', false);
  const keyData =
    buildDictionaryString(`${field.name}.key`, keys, keys.length, keyStats) ??
    buildPrimitive(`${field.name}.key`, 'string', keys, keys.length, keyStats);
  return mapColumn(field, offsets, v, emptySlots, keyData, keyStats, items);
}

function buildMapEntries(field: ColdField, column: MapEntriesColumn, n: number): BuiltColumn {
  const type = field.type as MapType;
  const { offsets, present } = column;
  if (offsets.length !== n + 1 || offsets[0] !== 0) {
    throw new Error(`column "${field.name}": map entries need ${n + 1} offsets starting at 0`);
  }
  const v = new Validity(n);
  let emptySlots = 0;
  for (let i = 0; i < n; i++) {
    const entries = offsets[i + 1]! - offsets[i]!;
    if (entries < 0) fail(field.name, i, 'map offsets go backwards');
    if (present?.[i] === 0) {
      if (field.required) fail(field.name, i, 'null in a required column');
      if (entries > 0) fail(field.name, i, 'a null map has entries');
      v.setNull(i);
      emptySlots++;
    } else if (entries === 0) emptySlots++;
  }
  const keyStats = newStats(type.keyId, 'string', false);
  const keyData = buildFromDictionary(`${field.name}.key`, column.keys, offsets[n]!, keyStats);
  return mapColumn(field, offsets, v, emptySlots, keyData, keyStats, column.values);
}

/** A map column from its offsets, validity, keys and values (one per entry). */
function mapColumn(
  field: ColdField,
  offsets: Int32Array,
  v: Validity,
  emptySlots: number,
  keyData: arrow.Data,
  keyStats: LeafStats,
  values: ColumnValues,
): BuiltColumn {
  const type = field.type as MapType;
  const entries = keyData.length;
  if (keyStats.nullCount > 0) fail(field.name, 0, 'a map key is null');
  const valueStats = newStats(type.valueId, type.value, false);
  const valueData = buildLeaf(`${field.name}.value`, type.value, values, entries, valueStats, false);
  for (const s of [keyStats, valueStats]) {
    s.valueCount += emptySlots;
    s.nullCount += emptySlots;
  }
  const keyField = new arrow.Field('key', keyData.type, false, fieldIdMetadata(type.keyId));
  const valueField = new arrow.Field('value', valueData.type, true, fieldIdMetadata(type.valueId));
  const entryType = new arrow.Struct([keyField, valueField]);
  const entriesData = arrow.makeData({
    type: entryType,
    length: entries,
    nullCount: 0,
    children: [keyData, valueData],
  });
  const mapType = new arrow.Map_(new arrow.Field('key_value', entryType, false));
  const data = arrow.makeData({
    type: mapType,
    length: offsets.length - 1,
    valueOffsets: offsets,
    child: entriesData,
    ...nulls(v),
  });
  const arrowField = new arrow.Field(field.name, mapType, !field.required, fieldIdMetadata(field.id));
  return { field: arrowField, data, leaves: [keyStats, valueStats] };
}
