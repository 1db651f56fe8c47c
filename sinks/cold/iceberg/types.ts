/**
 * The shapes of an Iceberg v2 table as shardflow reads and writes them. Table metadata keeps the
 * spec's JSON member names, so it is written and read without a mapping layer; snapshot ids are
 * bigints throughout (they are 63-bit).
 * Column types and data-file metrics are the Parquet writer's (`sinks/cold/parquet/types.ts`).
 */

import type { DataFileStats } from '../parquet/types.ts';

export type { ColdField, ColdMapType, ColdType, DataFileStats } from '../parquet/types.ts';

/** A schema as in the metadata JSON (`type: struct`). */
export interface SchemaJson {
  readonly type: 'struct';
  readonly 'schema-id': number;
  readonly fields: readonly SchemaFieldJson[];
}

/** A top-level field as in the metadata JSON. */
export interface SchemaFieldJson {
  readonly id: number;
  readonly name: string;
  readonly required: boolean;
  readonly type: string | MapTypeJson;
  readonly doc?: string;
}

/** A map type as in the metadata JSON. */
export interface MapTypeJson {
  readonly type: 'map';
  readonly 'key-id': number;
  readonly key: string;
  readonly 'value-id': number;
  readonly value: string;
  readonly 'value-required': boolean;
}

/** The partition transforms shardflow writes. */
export type Transform = 'identity' | 'day';

/** One field of a partition spec. */
export interface PartitionFieldJson {
  readonly 'source-id': number;
  readonly 'field-id': number;
  readonly name: string;
  readonly transform: Transform;
}

/** A partition spec as in the metadata JSON. */
export interface PartitionSpecJson {
  readonly 'spec-id': number;
  readonly fields: readonly PartitionFieldJson[];
}

/** One snapshot as in the metadata JSON. */
export interface SnapshotJson {
  readonly 'snapshot-id': bigint;
  readonly 'parent-snapshot-id'?: bigint;
  readonly 'sequence-number': number;
  readonly 'timestamp-ms': number;
  readonly 'manifest-list': string;
  readonly summary: Readonly<Record<string, string>>;
  readonly 'schema-id': number;
}

/** Table metadata (format version 2). */
export interface TableMetadata {
  readonly 'format-version': 2;
  readonly 'table-uuid': string;
  readonly location: string;
  readonly 'last-sequence-number': number;
  readonly 'last-updated-ms': number;
  readonly 'last-column-id': number;
  readonly 'current-schema-id': number;
  readonly schemas: readonly SchemaJson[];
  readonly 'default-spec-id': number;
  readonly 'partition-specs': readonly PartitionSpecJson[];
  readonly 'last-partition-id': number;
  readonly 'default-sort-order-id': number;
  readonly 'sort-orders': readonly { readonly 'order-id': number; readonly fields: readonly unknown[] }[];
  readonly properties: Readonly<Record<string, string>>;
  readonly 'current-snapshot-id'?: bigint;
  readonly refs: Readonly<
    Record<string, { readonly 'snapshot-id': bigint; readonly type: 'branch' | 'tag' }>
  >;
  readonly snapshots: readonly SnapshotJson[];
  readonly 'snapshot-log': readonly { readonly 'timestamp-ms': number; readonly 'snapshot-id': bigint }[];
  readonly 'metadata-log': readonly { readonly 'timestamp-ms': number; readonly 'metadata-file': string }[];
}

/** A partition tuple: partition field name → value (days since epoch for `day`, the value for identity). */
export type PartitionValues = Readonly<Record<string, string | number | null>>;

/** A data file as listed in a manifest (`data_file`, content 0). */
export interface DataFile {
  readonly filePath: string;
  readonly partition: PartitionValues;
  readonly stats: DataFileStats;
}

/** Manifest entry status. */
export const EntryStatus = { EXISTING: 0, ADDED: 1, DELETED: 2 } as const;

/** One `manifest_entry`; sequence numbers are `undefined` when inherited from the manifest. */
export interface ManifestEntry {
  readonly status: 0 | 1 | 2;
  readonly snapshotId?: bigint;
  readonly sequenceNumber?: number;
  readonly fileSequenceNumber?: number;
  readonly dataFile: DataFile;
}

/** A partition field summary of a manifest (`r508`). */
export interface PartitionSummary {
  readonly containsNull: boolean;
  readonly containsNan?: boolean;
  readonly lowerBound?: Uint8Array;
  readonly upperBound?: Uint8Array;
}

/** One `manifest_file` row of a manifest list. */
export interface ManifestFile {
  readonly manifestPath: string;
  readonly manifestLength: number;
  readonly partitionSpecId: number;
  readonly content: 0;
  readonly sequenceNumber: number;
  readonly minSequenceNumber: number;
  readonly addedSnapshotId: bigint;
  readonly addedFilesCount: number;
  readonly existingFilesCount: number;
  readonly deletedFilesCount: number;
  readonly addedRowsCount: number;
  readonly existingRowsCount: number;
  readonly deletedRowsCount: number;
  readonly partitions: readonly PartitionSummary[];
}
