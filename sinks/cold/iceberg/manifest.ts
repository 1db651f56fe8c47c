/**
 * Manifests (`manifest_entry`) and manifest lists (`manifest_file`) in Avro, with every field id,
 * element id and record name as Iceberg Java writes them (see the golden tables), and the spec's
 * file metadata keys. Reading applies v2 sequence-number inheritance.
 */
import { readAvroFile, writeAvroFile } from './avro.ts';
import { stringifyJson } from './json.ts';
import { partitionResultType } from './partition.ts';
import type {
  DataFileStats,
  ManifestEntry,
  ManifestFile,
  PartitionSpecJson,
  PartitionSummary,
  PartitionValues,
  SchemaJson,
} from './types.ts';

const opt = (type: unknown) => ['null', type];

function mapField(name: string, id: number, keyId: number, valueId: number, value: 'long' | 'bytes') {
  return {
    name,
    type: opt({
      type: 'array',
      items: {
        type: 'record',
        name: `k${keyId}_v${valueId}`,
        fields: [
          { name: 'key', type: 'int', 'field-id': keyId },
          { name: 'value', type: value, 'field-id': valueId },
        ],
      },
      logicalType: 'map',
    }),
    default: null,
    'field-id': id,
  };
}

const AVRO_PRIMITIVE: Record<string, unknown> = {
  string: 'string',
  long: 'long',
  int: 'int',
  double: 'double',
  boolean: 'boolean',
  date: { type: 'int', logicalType: 'date' },
  timestamptz: { type: 'long', logicalType: 'timestamp-micros', 'adjust-to-utc': true },
};

/** The Avro schema of a manifest for a partition spec. */
export function manifestAvroSchema(spec: PartitionSpecJson, schema: SchemaJson): unknown {
  const partitionFields = spec.fields.map((f) => ({
    name: f.name,
    type: opt(AVRO_PRIMITIVE[partitionResultType(f, schema)]),
    default: null,
    'field-id': f['field-id'],
  }));
  return {
    type: 'record',
    name: 'manifest_entry',
    fields: [
      { name: 'status', type: 'int', 'field-id': 0 },
      { name: 'snapshot_id', type: opt('long'), default: null, 'field-id': 1 },
      { name: 'sequence_number', type: opt('long'), default: null, 'field-id': 3 },
      { name: 'file_sequence_number', type: opt('long'), default: null, 'field-id': 4 },
      {
        name: 'data_file',
        type: {
          type: 'record',
          name: 'r2',
          fields: [
            { name: 'content', type: 'int', 'field-id': 134 },
            { name: 'file_path', type: 'string', 'field-id': 100 },
            { name: 'file_format', type: 'string', 'field-id': 101 },
            {
              name: 'partition',
              type: { type: 'record', name: 'r102', fields: partitionFields },
              'field-id': 102,
            },
            { name: 'record_count', type: 'long', 'field-id': 103 },
            { name: 'file_size_in_bytes', type: 'long', 'field-id': 104 },
            mapField('column_sizes', 108, 117, 118, 'long'),
            mapField('value_counts', 109, 119, 120, 'long'),
            mapField('null_value_counts', 110, 121, 122, 'long'),
            mapField('nan_value_counts', 137, 138, 139, 'long'),
            mapField('lower_bounds', 125, 126, 127, 'bytes'),
            mapField('upper_bounds', 128, 129, 130, 'bytes'),
            { name: 'key_metadata', type: opt('bytes'), default: null, 'field-id': 131 },
            {
              name: 'split_offsets',
              type: opt({ type: 'array', items: 'long', 'element-id': 133 }),
              default: null,
              'field-id': 132,
            },
            {
              name: 'equality_ids',
              type: opt({ type: 'array', items: 'int', 'element-id': 136 }),
              default: null,
              'field-id': 135,
            },
            { name: 'sort_order_id', type: opt('int'), default: null, 'field-id': 140 },
          ],
        },
        'field-id': 2,
      },
    ],
  };
}

/** The Avro schema of a manifest list (v2). */
export const MANIFEST_LIST_SCHEMA = {
  type: 'record',
  name: 'manifest_file',
  fields: [
    { name: 'manifest_path', type: 'string', 'field-id': 500 },
    { name: 'manifest_length', type: 'long', 'field-id': 501 },
    { name: 'partition_spec_id', type: 'int', 'field-id': 502 },
    { name: 'content', type: 'int', 'field-id': 517 },
    { name: 'sequence_number', type: 'long', 'field-id': 515 },
    { name: 'min_sequence_number', type: 'long', 'field-id': 516 },
    { name: 'added_snapshot_id', type: 'long', 'field-id': 503 },
    { name: 'added_files_count', type: 'int', 'field-id': 504 },
    { name: 'existing_files_count', type: 'int', 'field-id': 505 },
    { name: 'deleted_files_count', type: 'int', 'field-id': 506 },
    { name: 'added_rows_count', type: 'long', 'field-id': 512 },
    { name: 'existing_rows_count', type: 'long', 'field-id': 513 },
    { name: 'deleted_rows_count', type: 'long', 'field-id': 514 },
    {
      name: 'partitions',
      type: opt({
        type: 'array',
        items: {
          type: 'record',
          name: 'r508',
          fields: [
            { name: 'contains_null', type: 'boolean', 'field-id': 509 },
            { name: 'contains_nan', type: opt('boolean'), default: null, 'field-id': 518 },
            { name: 'lower_bound', type: opt('bytes'), default: null, 'field-id': 510 },
            { name: 'upper_bound', type: opt('bytes'), default: null, 'field-id': 511 },
          ],
        },
        'element-id': 508,
      }),
      default: null,
      'field-id': 507,
    },
    { name: 'key_metadata', type: opt('bytes'), default: null, 'field-id': 519 },
  ],
};

const toPairs = <V>(m: ReadonlyMap<number, V>, f: (v: V) => unknown) =>
  [...m].sort((a, b) => a[0] - b[0]).map(([key, value]) => ({ key, value: f(value) }));
const buf = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
const big = (n: number | undefined) => (n === undefined ? null : BigInt(n));

function entryRecord(e: ManifestEntry): unknown {
  const s = e.dataFile.stats;
  return {
    status: e.status,
    snapshot_id: e.snapshotId ?? null,
    sequence_number: big(e.sequenceNumber),
    file_sequence_number: big(e.fileSequenceNumber),
    data_file: {
      content: 0,
      file_path: e.dataFile.filePath,
      file_format: 'PARQUET',
      partition: { ...e.dataFile.partition },
      record_count: BigInt(s.recordCount),
      file_size_in_bytes: BigInt(s.fileSizeInBytes),
      column_sizes: toPairs(s.columnSizes, BigInt),
      value_counts: toPairs(s.valueCounts, BigInt),
      null_value_counts: toPairs(s.nullValueCounts, BigInt),
      nan_value_counts: toPairs(s.nanValueCounts, BigInt),
      lower_bounds: toPairs(s.lowerBounds, buf),
      upper_bounds: toPairs(s.upperBounds, buf),
      key_metadata: null,
      split_offsets: s.splitOffsets.length > 0 ? s.splitOffsets.map(BigInt) : null,
      equality_ids: null,
      sort_order_id: 0,
    },
  };
}

/** Encodes a manifest of data files with the spec's file metadata. */
export function writeManifest(
  schema: SchemaJson,
  spec: PartitionSpecJson,
  entries: readonly ManifestEntry[],
): Uint8Array {
  return writeAvroFile(
    manifestAvroSchema(spec, schema),
    {
      schema: stringifyJson(schema, ''),
      'schema-id': String(schema['schema-id']),
      'partition-spec': stringifyJson(spec.fields, ''),
      'partition-spec-id': String(spec['spec-id']),
      'format-version': '2',
      content: 'data',
    },
    entries.map(entryRecord),
  );
}

/** Encodes a manifest list with the spec's file metadata. */
export function writeManifestList(
  snapshotId: bigint,
  parentSnapshotId: bigint | undefined,
  sequenceNumber: number,
  manifests: readonly ManifestFile[],
): Uint8Array {
  return writeAvroFile(
    MANIFEST_LIST_SCHEMA,
    {
      'snapshot-id': snapshotId.toString(),
      'parent-snapshot-id': parentSnapshotId === undefined ? 'null' : parentSnapshotId.toString(),
      'sequence-number': String(sequenceNumber),
      'format-version': '2',
    },
    manifests.map((m) => ({
      manifest_path: m.manifestPath,
      manifest_length: BigInt(m.manifestLength),
      partition_spec_id: m.partitionSpecId,
      content: m.content,
      sequence_number: BigInt(m.sequenceNumber),
      min_sequence_number: BigInt(m.minSequenceNumber),
      added_snapshot_id: m.addedSnapshotId,
      added_files_count: m.addedFilesCount,
      existing_files_count: m.existingFilesCount,
      deleted_files_count: m.deletedFilesCount,
      added_rows_count: BigInt(m.addedRowsCount),
      existing_rows_count: BigInt(m.existingRowsCount),
      deleted_rows_count: BigInt(m.deletedRowsCount),
      partitions: m.partitions.map((p) => ({
        contains_null: p.containsNull,
        contains_nan: p.containsNan ?? null,
        lower_bound: p.lowerBound ? buf(p.lowerBound) : null,
        upper_bound: p.upperBound ? buf(p.upperBound) : null,
      })),
      key_metadata: null,
    })),
  );
}

interface RawManifestFile {
  manifest_path: string;
  manifest_length: bigint;
  partition_spec_id: number;
  content?: number;
  sequence_number?: bigint;
  min_sequence_number?: bigint;
  added_snapshot_id: bigint;
  added_files_count?: number;
  added_data_files_count?: number;
  existing_files_count?: number;
  existing_data_files_count?: number;
  deleted_files_count?: number;
  deleted_data_files_count?: number;
  added_rows_count: bigint;
  existing_rows_count: bigint;
  deleted_rows_count: bigint;
  partitions?:
    | {
        contains_null: boolean;
        contains_nan?: boolean | null;
        lower_bound: Buffer | null;
        upper_bound: Buffer | null;
      }[]
    | null;
}

/** Decodes a manifest list (also the older `added_data_files_count` names Athena and Spark write). */
export async function readManifestList(bytes: Uint8Array): Promise<ManifestFile[]> {
  const file = await readAvroFile<RawManifestFile>(bytes);
  return file.records.map((r) => ({
    manifestPath: r.manifest_path,
    manifestLength: Number(r.manifest_length),
    partitionSpecId: r.partition_spec_id,
    content: (r.content ?? 0) as 0,
    sequenceNumber: Number(r.sequence_number ?? 0n),
    minSequenceNumber: Number(r.min_sequence_number ?? 0n),
    addedSnapshotId: r.added_snapshot_id,
    addedFilesCount: r.added_files_count ?? r.added_data_files_count ?? 0,
    existingFilesCount: r.existing_files_count ?? r.existing_data_files_count ?? 0,
    deletedFilesCount: r.deleted_files_count ?? r.deleted_data_files_count ?? 0,
    addedRowsCount: Number(r.added_rows_count),
    existingRowsCount: Number(r.existing_rows_count),
    deletedRowsCount: Number(r.deleted_rows_count),
    partitions: (r.partitions ?? []).map(
      (p): PartitionSummary => ({
        containsNull: p.contains_null,
        containsNan: p.contains_nan ?? undefined,
        lowerBound: p.lower_bound ?? undefined,
        upperBound: p.upper_bound ?? undefined,
      }),
    ),
  }));
}

type Pairs<V> = { key: number; value: V }[] | null;

interface RawEntry {
  status: 0 | 1 | 2;
  snapshot_id: bigint | null;
  sequence_number: bigint | null;
  file_sequence_number: bigint | null;
  data_file: {
    content?: number;
    file_path: string;
    partition: Record<string, unknown>;
    record_count: bigint;
    file_size_in_bytes: bigint;
    column_sizes: Pairs<bigint>;
    value_counts: Pairs<bigint>;
    null_value_counts: Pairs<bigint>;
    nan_value_counts?: Pairs<bigint>;
    lower_bounds: Pairs<Buffer>;
    upper_bounds: Pairs<Buffer>;
    split_offsets: bigint[] | null;
  };
}

/** A decoded manifest: its entries (sequence numbers inherited) and the content it declares. */
export interface ManifestContents {
  readonly content: 'data' | 'deletes';
  readonly entries: ManifestEntry[];
}

const numberMap = (p: Pairs<bigint> | undefined) => new Map((p ?? []).map((e) => [e.key, Number(e.value)]));
const bytesMap = (p: Pairs<Buffer>) => new Map<number, Uint8Array>((p ?? []).map((e) => [e.key, e.value]));

/** Decodes a manifest listed by `file`, filling inherited snapshot ids and sequence numbers. */
export async function readManifest(file: ManifestFile, bytes: Uint8Array): Promise<ManifestContents> {
  const avro = await readAvroFile<RawEntry>(bytes);
  const entries = avro.records.map((r): ManifestEntry => {
    const d = r.data_file;
    const inherit = r.status === 1;
    const stats: DataFileStats = {
      recordCount: Number(d.record_count),
      fileSizeInBytes: Number(d.file_size_in_bytes),
      columnSizes: numberMap(d.column_sizes),
      valueCounts: numberMap(d.value_counts),
      nullValueCounts: numberMap(d.null_value_counts),
      nanValueCounts: numberMap(d.nan_value_counts),
      lowerBounds: bytesMap(d.lower_bounds),
      upperBounds: bytesMap(d.upper_bounds),
      splitOffsets: (d.split_offsets ?? []).map(Number),
    };
    const partition: Record<string, string | number | null> = {};
    for (const [k, v] of Object.entries(d.partition))
      partition[k] = typeof v === 'bigint' ? Number(v) : (v as string | number | null);
    const seq = r.sequence_number ?? (inherit ? BigInt(file.sequenceNumber) : null);
    const fileSeq = r.file_sequence_number ?? (inherit ? BigInt(file.sequenceNumber) : null);
    return {
      status: r.status,
      snapshotId: r.snapshot_id ?? file.addedSnapshotId,
      sequenceNumber: seq === null ? undefined : Number(seq),
      fileSequenceNumber: fileSeq === null ? undefined : Number(fileSeq),
      dataFile: { filePath: d.file_path, partition: partition as PartitionValues, stats },
    };
  });
  return { content: avro.metadata.content === 'deletes' ? 'deletes' : 'data', entries };
}
