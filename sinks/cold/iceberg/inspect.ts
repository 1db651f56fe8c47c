/**
 * A plain description of a table for `shardflow iceberg inspect`: where it is, its schema and
 * partitioning, its snapshots with their operations and writers, the current snapshot's manifests
 * and files, and every shard's committed position.
 */
import { committedPositions } from './checkpoints.ts';
import type { TableRef } from './commit.ts';
import { currentSchema, currentSnapshot, defaultSpec } from './metadata.ts';
import { scanCurrent } from './scan.ts';

/** What `inspect` shows. */
export interface TableDescription {
  readonly metadataLocation: string;
  readonly location: string;
  readonly tableUuid: string;
  readonly schemaId: number;
  readonly columns: readonly { id: number; name: string; type: string; required: boolean }[];
  readonly partitioning: readonly string[];
  readonly currentSnapshotId?: string;
  readonly snapshots: readonly {
    id: string;
    sequenceNumber: number;
    timestamp: string;
    operation: string;
    writer?: string;
    addedRecords?: string;
    totalRecords?: string;
    current: boolean;
  }[];
  readonly manifests: number;
  readonly dataFiles: number;
  readonly records: number;
  readonly bytes: number;
  readonly checkpoints: Readonly<Record<string, string>>;
}

/** Describes the table, or `undefined` when the catalog does not know it. */
export async function inspectTable(ref: TableRef): Promise<TableDescription | undefined> {
  const scan = await scanCurrent(ref);
  if (!scan) return undefined;
  const meta = scan.metadata;
  const schema = currentSchema(meta);
  const head = currentSnapshot(meta);
  let records = 0;
  let bytes = 0;
  for (const file of scan.dataFiles) {
    records += file.stats.recordCount;
    bytes += file.stats.fileSizeInBytes;
  }
  const checkpoints: Record<string, string> = {};
  for (const [shard, p] of committedPositions(meta).positions)
    checkpoints[shard] = `${p.sequenceNumber}:${p.subSequenceNumber}`;
  return {
    metadataLocation: scan.metadataLocation,
    location: meta.location,
    tableUuid: meta['table-uuid'],
    schemaId: schema['schema-id'],
    columns: schema.fields.map((f) => ({
      id: f.id,
      name: f.name,
      required: f.required,
      type: typeof f.type === 'string' ? f.type : `map<${f.type.key}, ${f.type.value}>`,
    })),
    partitioning: defaultSpec(meta).fields.map(
      (f) => `${f.transform}(${schema.fields.find((c) => c.id === f['source-id'])?.name})`,
    ),
    currentSnapshotId: head ? String(head['snapshot-id']) : undefined,
    snapshots: meta.snapshots.map((s) => ({
      id: String(s['snapshot-id']),
      sequenceNumber: s['sequence-number'],
      timestamp: new Date(s['timestamp-ms']).toISOString(),
      operation: s.summary.operation ?? '',
      writer: s.summary['shardflow.writer'],
      addedRecords: s.summary['added-records'],
      totalRecords: s.summary['total-records'],
      current: s['snapshot-id'] === head?.['snapshot-id'],
    })),
    manifests: scan.manifests,
    dataFiles: scan.dataFiles.length,
    records,
    bytes,
    checkpoints,
  };
}
