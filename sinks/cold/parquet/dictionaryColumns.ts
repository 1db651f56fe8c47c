/**
 * Dictionary-encoded string leaves: plain strings that repeat (device, product, site, customer), and
 * the coded columns a telemetry buffer hands over (`DictionaryColumn`, `NumberTextColumn`), each
 * renumbered to the values its rows use, so a file's dictionary and bounds are its own.
 */
import * as arrow from 'apache-arrow';
import { buildPrimitive, buildUtf8, fail, type LeafStats, nulls, Validity } from './leafColumns.ts';
import type { ColdValue, DictionaryColumn, NumberTextColumn } from './types.ts';

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

/** A dictionary-encoded string column, or `undefined` when its values are too varied. */
export function buildDictionaryString(
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
export function buildFromDictionary(
  name: string,
  column: DictionaryColumn,
  n: number,
  s: LeafStats,
): arrow.Data {
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
export function numberTexts(name: string, column: NumberTextColumn, n: number): (string | null)[] {
  const { numbers, text } = column;
  if (numbers.length !== n) throw new Error(`column "${name}": ${numbers.length} numbers for ${n} rows`);
  const values = new Array<string | null>(n);
  for (let i = 0; i < n; i++) values[i] = String(numbers[i]);
  if (text) for (const [i, value] of text) if (i >= 0 && i < n) values[i] = value;
  return values;
}
