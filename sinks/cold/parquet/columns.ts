/**
 * Builds Arrow column buffers directly from columnar values (no row objects, no Arrow builders) and
 * collects each leaf column's Iceberg metrics in the same pass: value, null and NaN counts and the
 * minimum and maximum. The arrays go to parquet-wasm, whose Parquet writer takes the Iceberg field id
 * of every schema element from the Arrow field metadata key `PARQUET:field_id`. Here: a column of
 * any form (plain, typed, coded, map) into its leaves (`leafColumns.ts`, `dictionaryColumns.ts`).
 */
import * as arrow from 'apache-arrow';
import { buildDictionaryString, buildFromDictionary, numberTexts } from './dictionaryColumns.ts';
import {
  buildPrimitive,
  buildTyped,
  fail,
  fieldIdMetadata,
  isAbsent,
  type LeafStats,
  newStats,
  nulls,
  Validity,
} from './leafColumns.ts';
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

/** One built column: its Arrow field (with field ids) and data, and the metrics of its leaves. */
export interface BuiltColumn {
  readonly field: arrow.Field;
  readonly data: arrow.Data;
  readonly leaves: readonly LeafStats[];
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
