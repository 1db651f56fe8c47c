/**
 * Table metadata: creating a v2 table, reading and writing the metadata JSON (BigInt-safe), and the
 * pure steps of a commit (a new snapshot, a new schema), each returning new metadata.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { type JsonValue, parseJson, stringifyJson } from './json.ts';
import type { PartitionSpecJson, SchemaJson, SnapshotJson, TableMetadata } from './types.ts';

/** A random positive 63-bit snapshot id. */
export function newSnapshotId(): bigint {
  return randomBytes(8).readBigUInt64BE() & 0x7fff_ffff_ffff_ffffn;
}

/** The metadata file name of a version: `00003-<uuid>.metadata.json`, as Athena and Glue name them. */
export function metadataFileName(version: number): string {
  return `${String(version).padStart(5, '0')}-${randomUUID()}.metadata.json`;
}

/** The version number of a metadata file name (`00003-…` or `v3.metadata.json`), or -1. */
export function metadataVersion(location: string): number {
  const name = location.slice(location.lastIndexOf('/') + 1);
  const match = /^(?:v)?(\d+)[-.]/.exec(name);
  return match ? Number(match[1]) : -1;
}

/** Metadata of a new, empty table. */
export function newTableMetadata(
  location: string,
  schema: SchemaJson,
  spec: PartitionSpecJson,
  properties: Readonly<Record<string, string>>,
  nowMs: number,
): TableMetadata {
  const maxColumn = (s: SchemaJson) =>
    Math.max(
      0,
      ...s.fields.flatMap((f) =>
        typeof f.type === 'string' ? [f.id] : [f.id, f.type['key-id'], f.type['value-id']],
      ),
    );
  return {
    'format-version': 2,
    'table-uuid': randomUUID(),
    location,
    'last-sequence-number': 0,
    'last-updated-ms': nowMs,
    'last-column-id': maxColumn(schema),
    'current-schema-id': schema['schema-id'],
    schemas: [schema],
    'default-spec-id': spec['spec-id'],
    'partition-specs': [spec],
    'last-partition-id': Math.max(999, ...spec.fields.map((f) => f['field-id'])),
    'default-sort-order-id': 0,
    'sort-orders': [{ 'order-id': 0, fields: [] }],
    properties: { 'write.format.default': 'PARQUET', ...properties },
    refs: {},
    snapshots: [],
    'snapshot-log': [],
    'metadata-log': [],
  };
}

/** The table's current schema. */
export function currentSchema(meta: TableMetadata): SchemaJson {
  const schema = meta.schemas.find((s) => s['schema-id'] === meta['current-schema-id']);
  if (!schema) throw new Error(`table metadata has no schema ${meta['current-schema-id']}`);
  return schema;
}

/** The table's default partition spec. */
export function defaultSpec(meta: TableMetadata): PartitionSpecJson {
  const spec = meta['partition-specs'].find((s) => s['spec-id'] === meta['default-spec-id']);
  if (!spec) throw new Error(`table metadata has no partition spec ${meta['default-spec-id']}`);
  return spec;
}

/** The current snapshot, if any. */
export function currentSnapshot(meta: TableMetadata): SnapshotJson | undefined {
  const id = meta['current-snapshot-id'];
  return id === undefined ? undefined : meta.snapshots.find((s) => s['snapshot-id'] === id);
}

/** Metadata with `schema` added as the current schema (schema evolution). */
export function withSchema(meta: TableMetadata, schema: SchemaJson, nowMs: number): TableMetadata {
  const lastColumn = Math.max(
    meta['last-column-id'],
    ...schema.fields.flatMap((f) =>
      typeof f.type === 'string' ? [f.id] : [f.id, f.type['key-id'], f.type['value-id']],
    ),
  );
  return {
    ...meta,
    'last-updated-ms': nowMs,
    'last-column-id': lastColumn,
    schemas: [...meta.schemas, schema],
    'current-schema-id': schema['schema-id'],
  };
}

/** Metadata with `snapshot` as the new current snapshot of `main`. */
export function withSnapshot(meta: TableMetadata, snapshot: SnapshotJson): TableMetadata {
  return {
    ...meta,
    'last-sequence-number': snapshot['sequence-number'],
    'last-updated-ms': snapshot['timestamp-ms'],
    'current-snapshot-id': snapshot['snapshot-id'],
    refs: { ...meta.refs, main: { 'snapshot-id': snapshot['snapshot-id'], type: 'branch' } },
    snapshots: [...meta.snapshots, snapshot],
    'snapshot-log': [
      ...meta['snapshot-log'],
      { 'timestamp-ms': snapshot['timestamp-ms'], 'snapshot-id': snapshot['snapshot-id'] },
    ],
  };
}

/** `next` with the metadata file it replaces (`previous`, read from `previousLocation`) in its log. */
export function withMetadataLog(
  next: TableMetadata,
  previous: TableMetadata,
  previousLocation: string,
  maxLog = 100,
): TableMetadata {
  const log = [
    ...previous['metadata-log'],
    { 'timestamp-ms': previous['last-updated-ms'], 'metadata-file': previousLocation },
  ];
  return { ...next, 'metadata-log': log.slice(-maxLog) };
}

/** Writes metadata JSON (63-bit ids exact). */
export function serializeMetadata(meta: TableMetadata): string {
  return stringifyJson(meta);
}

const toBig = (v: JsonValue | undefined): bigint | undefined =>
  v === undefined || v === null ? undefined : typeof v === 'bigint' ? v : BigInt(v as number);

/** Reads metadata JSON; snapshot ids become bigints whatever their size. */
export function parseMetadata(text: string): TableMetadata {
  const raw = parseJson(text) as Record<string, JsonValue>;
  if (raw['format-version'] !== 2)
    throw new Error(`only format version 2 is supported, found ${String(raw['format-version'])}`);
  const snapshots = ((raw.snapshots ?? []) as Record<string, JsonValue>[]).map((s) => ({
    ...s,
    'snapshot-id': toBig(s['snapshot-id'])!,
    'parent-snapshot-id': toBig(s['parent-snapshot-id']),
  }));
  const refs: Record<string, JsonValue> = (raw.refs ?? {}) as Record<string, JsonValue>;
  return {
    ...raw,
    'current-snapshot-id':
      toBig(raw['current-snapshot-id']) === -1n ? undefined : toBig(raw['current-snapshot-id']),
    snapshots,
    refs: Object.fromEntries(
      Object.entries(refs).map(([k, r]) => [
        k,
        { ...(r as object), 'snapshot-id': toBig((r as Record<string, JsonValue>)['snapshot-id'])! },
      ]),
    ),
    'snapshot-log': ((raw['snapshot-log'] ?? []) as Record<string, JsonValue>[]).map((e) => ({
      ...e,
      'snapshot-id': toBig(e['snapshot-id'])!,
    })),
    'metadata-log': raw['metadata-log'] ?? [],
  } as unknown as TableMetadata;
}
