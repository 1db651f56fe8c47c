/**
 * The Cold layer's Parquet writer: columnar rows → Arrow buffers (built directly) → parquet-wasm
 * (arrow-rs's Parquet writer compiled to WebAssembly), with Iceberg field ids on every schema element,
 * `timestamptz` as INT64 TIMESTAMP(MICROS, UTC), strings as STRING, and the file's Iceberg metrics.
 * Chosen over hyparquet-writer and parquetjs-lite by `bench/parquetWriters.ts` (see bench/RESULTS.md).
 */
import * as arrow from 'apache-arrow';
import { parquetMetadata } from 'hyparquet';
import * as parquetWasm from 'parquet-wasm/node';
import { encodeBound } from './bounds.ts';
import { type BuiltColumn, buildColumn } from './columns.ts';
import type { LeafStats } from './leafColumns.ts';
import {
  type ColdField,
  type ColumnarRows,
  type DataFileStats,
  type ParquetOptions,
  parquetOptionsSchema,
} from './types.ts';

/** Writes one Parquet data file and returns its bytes and Iceberg `data_file` metrics. */
export function writeParquet(
  fields: readonly ColdField[],
  rows: ColumnarRows,
  options: ParquetOptions,
): { bytes: Uint8Array; stats: DataFileStats } {
  const { compression, rowGroupRows, keyValueMetadata } = parquetOptionsSchema.parse(options);
  checkFields(fields);
  for (const id of rows.columns.keys()) {
    if (!fields.some((f) => f.id === id)) throw new Error(`rows hold a column with unknown field id ${id}`);
  }
  const columns = fields.map((f) => buildColumn(f, rows.columns.get(f.id), rows.length));
  const bytes = encode(columns, rows.length, compression, rowGroupRows, keyValueMetadata);
  return { bytes, stats: dataFileStats(fields, columns, bytes, rows.length) };
}

function checkFields(fields: readonly ColdField[]): void {
  const ids = new Set<number>();
  const names = new Set<string>();
  for (const f of fields) {
    const own = typeof f.type === 'string' ? [f.id] : [f.id, f.type.keyId, f.type.valueId];
    for (const id of own) {
      if (!Number.isInteger(id) || id < 0) throw new Error(`field "${f.name}": invalid field id ${id}`);
      if (ids.has(id)) throw new Error(`field "${f.name}": field id ${id} is used twice`);
      ids.add(id);
    }
    if (names.has(f.name)) throw new Error(`field "${f.name}" is named twice`);
    names.add(f.name);
  }
}

function encode(
  columns: readonly BuiltColumn[],
  length: number,
  compression: 'zstd' | 'snappy',
  rowGroupRows: number,
  keyValueMetadata: Readonly<Record<string, string>> | undefined,
): Uint8Array {
  const schema = new arrow.Schema(columns.map((c) => c.field));
  const struct = arrow.makeData({
    type: new arrow.Struct(schema.fields),
    length,
    nullCount: 0,
    children: columns.map((c) => c.data),
  });
  const table = new arrow.Table(schema, [new arrow.RecordBatch(schema, struct)]);
  let builder = new parquetWasm.WriterPropertiesBuilder()
    .setCompression(compression === 'zstd' ? parquetWasm.Compression.ZSTD : parquetWasm.Compression.SNAPPY)
    .setMaxRowGroupSize(rowGroupRows)
    .setCreatedBy('shardflow (parquet-rs via parquet-wasm)');
  // Measurements, doubles and timestamps rarely repeat: trying a dictionary first made zstd writes
  // several times slower and the files larger (bench/RESULTS.md).
  // Strings too varied for the Arrow dictionary (sequence numbers) are as varied for Parquet's:
  // building its dictionary only to overflow it and fall back to plain pages is wasted work, and the
  // plain pages compress better. (parquet-wasm takes a column name, not a nested path: map values
  // keep the default.)
  for (const c of columns) {
    const type = c.leaves.length === 1 ? c.leaves[0]!.type : undefined;
    if (
      type === 'double' ||
      type === 'timestamptz' ||
      type === 'long' ||
      (type === 'string' && !arrow.DataType.isDictionary(c.data.type))
    ) {
      builder = builder.setColumnDictionaryEnabled(c.field.name, false);
    }
  }
  if (keyValueMetadata) builder = builder.setKeyValueMetadata(new Map(Object.entries(keyValueMetadata)));
  const properties = builder.build();
  // writeParquet takes ownership of (and frees) both the table and the properties.
  return parquetWasm.writeParquet(
    parquetWasm.Table.fromIPCStream(arrow.tableToIPC(table, 'stream')),
    properties,
  );
}

/** Field id of each leaf column path, as the Parquet footer names it (`metrics.entries.key`). */
function leafIds(fields: readonly ColdField[]): (path: readonly string[]) => number | undefined {
  const top = new Map(fields.map((f) => [f.name, f]));
  return (path) => {
    const f = top.get(path[0] ?? '');
    if (!f) return undefined;
    if (typeof f.type === 'string') return path.length === 1 ? f.id : undefined;
    const leaf = path[path.length - 1];
    return leaf === 'key' ? f.type.keyId : leaf === 'value' ? f.type.valueId : undefined;
  };
}

function dataFileStats(
  fields: readonly ColdField[],
  columns: readonly BuiltColumn[],
  bytes: Uint8Array,
  recordCount: number,
): DataFileStats {
  const footer = parquetMetadata(bytes);
  const idOf = leafIds(fields);
  const columnSizes = new Map<number, number>();
  const splitOffsets: number[] = [];
  for (const group of footer.row_groups) {
    let start = Number.POSITIVE_INFINITY;
    for (const chunk of group.columns) {
      const meta = chunk.meta_data;
      if (!meta) continue;
      const id = idOf(meta.path_in_schema);
      if (id === undefined)
        throw new Error(`Parquet column ${meta.path_in_schema.join('.')} has no field id`);
      columnSizes.set(id, (columnSizes.get(id) ?? 0) + Number(meta.total_compressed_size));
      const first = Number(meta.dictionary_page_offset ?? meta.data_page_offset);
      if (first < start) start = first;
    }
    if (Number.isFinite(start)) splitOffsets.push(start);
  }
  const leaves: LeafStats[] = columns.flatMap((c) => c.leaves);
  const valueCounts = new Map<number, number>();
  const nullValueCounts = new Map<number, number>();
  const nanValueCounts = new Map<number, number>();
  const lowerBounds = new Map<number, Uint8Array>();
  const upperBounds = new Map<number, Uint8Array>();
  for (const leaf of leaves) {
    valueCounts.set(leaf.id, leaf.valueCount);
    nullValueCounts.set(leaf.id, leaf.nullCount);
    if (leaf.type === 'double') nanValueCounts.set(leaf.id, leaf.nanCount);
    if (leaf.bounded && leaf.min !== undefined && leaf.max !== undefined) {
      lowerBounds.set(leaf.id, encodeBound(leaf.type, leaf.min));
      upperBounds.set(leaf.id, encodeBound(leaf.type, leaf.max));
    }
  }
  return {
    recordCount,
    fileSizeInBytes: bytes.byteLength,
    columnSizes,
    valueCounts,
    nullValueCounts,
    nanValueCounts,
    lowerBounds,
    upperBounds,
    splitOffsets,
  };
}
