/**
 * Committing to a table through its catalog: create, evolve the schema, append data files. Every
 * change writes a new metadata file and swaps the catalog pointer; a lost race reloads, re-parents on
 * the new current snapshot and swaps again with backoff (appends never conflict logically), and an
 * unknown swap outcome is resolved by looking for the new file in the pointer or the metadata log.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../../topology/index.ts';
import {
  type Catalog,
  CommitStateUnknownError,
  type TableIdentifier,
  tableName,
} from '../catalog/catalog.ts';
import { faultPoint } from './faultPoint.ts';
import { readManifestList, writeManifest, writeManifestList } from './manifest.ts';
import {
  currentSchema,
  currentSnapshot,
  defaultSpec,
  metadataFileName,
  metadataVersion,
  newSnapshotId,
  newTableMetadata,
  parseMetadata,
  serializeMetadata,
  withMetadataLog,
  withSchema,
  withSnapshot,
} from './metadata.ts';
import { summarisePartitions } from './partition.ts';
import { keyOf, readLocation, type TableFiles, writeRelative } from './tableFiles.ts';
import type {
  DataFile,
  ManifestFile,
  PartitionSpecJson,
  SchemaJson,
  SnapshotJson,
  TableMetadata,
} from './types.ts';

/** Everything needed to commit to one table. */
export interface TableRef {
  readonly id: TableIdentifier;
  readonly catalog: Catalog;
  readonly files: TableFiles;
  readonly clock: Clock;
  /** Swap attempts before giving up (each after a reload). */
  readonly maxAttempts?: number;
  /** First backoff after a conflict (ms); doubles up to 5 s, with jitter. */
  readonly backoffMs?: number;
}

/** A table's metadata and the location it was read from. */
export interface LoadedTable {
  readonly metadataLocation: string;
  readonly metadata: TableMetadata;
}

/** Loads the table's current metadata, or `undefined` when the catalog does not know it. */
export async function loadTable(ref: TableRef): Promise<LoadedTable | undefined> {
  const location = await ref.catalog.load(ref.id);
  if (location === undefined) return undefined;
  const text = Buffer.from(await readLocation(ref.files, location)).toString('utf8');
  return { metadataLocation: location, metadata: parseMetadata(text) };
}

async function writeMetadata(
  ref: TableRef,
  meta: TableMetadata,
  previous: string | undefined,
): Promise<string> {
  const version = previous === undefined ? 0 : metadataVersion(previous) + 1;
  return writeRelative(
    ref.files,
    `metadata/${metadataFileName(version)}`,
    Buffer.from(serializeMetadata(meta)),
  );
}

/** Loads the table, creating it (empty) with `schema` and `spec` when it does not exist yet. */
export async function loadOrCreateTable(
  ref: TableRef,
  schema: SchemaJson,
  spec: PartitionSpecJson,
  properties: Readonly<Record<string, string>> = {},
): Promise<LoadedTable> {
  const existing = await loadTable(ref);
  if (existing) return existing;
  const meta = newTableMetadata(ref.files.location, schema, spec, properties, ref.clock.now());
  const location = await writeMetadata(ref, meta, undefined);
  if ((await ref.catalog.create(ref.id, location)) === 'conflict') {
    await ref.files.store.delete([`${ref.files.prefix}/${location.slice(ref.files.location.length + 1)}`]);
    const raced = await loadTable(ref);
    if (!raced) throw new Error(`table ${tableName(ref.id)} exists in the catalog but could not be loaded`);
    return raced;
  }
  return { metadataLocation: location, metadata: meta };
}

async function swapWasApplied(ref: TableRef, newLocation: string): Promise<boolean> {
  const now = await loadTable(ref);
  if (!now) return false;
  if (now.metadataLocation === newLocation) return true;
  return now.metadata['metadata-log'].some((e) => e['metadata-file'] === newLocation);
}

/**
 * Applies `change` to the current metadata and swaps it in, retrying on conflicts; `change` runs again
 * on every attempt against freshly loaded metadata and returns the files it wrote for that attempt
 * (removed when the attempt loses). Returns the committed table.
 */
export async function commitChange(
  ref: TableRef,
  change: (
    current: LoadedTable,
    attempt: number,
  ) => Promise<{ metadata: TableMetadata; written: readonly string[] }>,
): Promise<LoadedTable & { attempts: number }> {
  const maxAttempts = ref.maxAttempts ?? 12;
  let backoff = ref.backoffMs ?? 100;
  for (let attempt = 1; ; attempt++) {
    const current = await loadTable(ref);
    if (!current) throw new Error(`table ${tableName(ref.id)} does not exist in the catalog`);
    const { metadata, written } = await change(current, attempt);
    const next = withMetadataLog(metadata, current.metadata, current.metadataLocation);
    const location = await writeMetadata(ref, next, current.metadataLocation);
    faultPoint('iceberg-commit-after-metadata');
    let committed: boolean;
    try {
      committed =
        (await ref.catalog.compareAndSwap(ref.id, current.metadataLocation, location)) === 'committed';
    } catch (error) {
      if (!(error instanceof CommitStateUnknownError)) throw error;
      committed = await swapWasApplied(ref, location);
    }
    if (committed) faultPoint('iceberg-commit-after-swap');
    if (committed) return { metadataLocation: location, metadata: next, attempts: attempt };
    const keys = [...written, location].map(
      (l) => `${ref.files.prefix}/${l.slice(ref.files.location.length + 1)}`,
    );
    await ref.files.store.delete(keys).catch(() => {});
    if (attempt >= maxAttempts) {
      throw new Error(`commit to ${tableName(ref.id)} lost ${attempt} races in a row; giving up`);
    }
    await ref.clock.sleep(backoff * (0.5 + Math.random()));
    backoff = Math.min(backoff * 2, 5_000);
  }
}

/** Makes `schema` the table's current schema (adds columns), unless it already is. */
export async function evolveSchema(
  ref: TableRef,
  schema: (current: TableMetadata) => SchemaJson | undefined,
) {
  return commitChange(ref, async ({ metadata }) => {
    const next = schema(metadata);
    return { metadata: next ? withSchema(metadata, next, ref.clock.now()) : metadata, written: [] };
  });
}

const n = (s: Readonly<Record<string, string>> | undefined, key: string) => Number(s?.[key] ?? 0);

function appendSummary(
  parent: SnapshotJson | undefined,
  files: readonly DataFile[],
  extra: Readonly<Record<string, string>>,
) {
  const records = files.reduce((a, f) => a + f.stats.recordCount, 0);
  const bytes = files.reduce((a, f) => a + f.stats.fileSizeInBytes, 0);
  const partitions = new Set(files.map((f) => JSON.stringify(f.partition))).size;
  const p = parent?.summary;
  return {
    operation: 'append',
    'added-data-files': String(files.length),
    'added-records': String(records),
    'added-files-size': String(bytes),
    'changed-partition-count': String(partitions),
    'total-records': String(n(p, 'total-records') + records),
    'total-files-size': String(n(p, 'total-files-size') + bytes),
    'total-data-files': String(n(p, 'total-data-files') + files.length),
    'total-delete-files': String(n(p, 'total-delete-files')),
    'total-position-deletes': String(n(p, 'total-position-deletes')),
    'total-equality-deletes': String(n(p, 'total-equality-deletes')),
    ...extra,
  };
}

/** What an append committed. */
export interface AppendResult extends LoadedTable {
  readonly snapshotId: bigint;
  readonly attempts: number;
}

/** Options of {@link appendFiles}. */
export interface AppendOptions {
  /** Extra snapshot summary entries (the exactly-once markers). */
  readonly summary?: Readonly<Record<string, string>>;
  /**
   * Runs on every attempt against the freshly loaded metadata, before anything of the attempt is
   * written; throwing abandons the append (nothing is committed and its manifest is removed).
   */
  readonly precondition?: (current: TableMetadata) => void;
}

/**
 * Appends data files as one snapshot: one new manifest (written once, its entries inheriting the
 * sequence number), a manifest list of the parent's manifests plus it, new metadata, one swap.
 */
export async function appendFiles(
  ref: TableRef,
  files: readonly DataFile[],
  options: AppendOptions = {},
): Promise<AppendResult> {
  if (files.length === 0) throw new Error('an append needs at least one data file');
  const snapshotId = newSnapshotId();
  let manifest: { location: string; length: number; schemaId: number; specId: number } | undefined;
  const result = await commitChange(ref, async ({ metadata }, attempt) => {
    try {
      options.precondition?.(metadata);
    } catch (error) {
      if (manifest) await ref.files.store.delete([keyOf(ref.files, manifest.location)]).catch(() => {});
      throw error;
    }
    const schema = currentSchema(metadata);
    const spec = defaultSpec(metadata);
    if (!manifest || manifest.schemaId !== schema['schema-id'] || manifest.specId !== spec['spec-id']) {
      if (manifest) await ref.files.store.delete([keyOf(ref.files, manifest.location)]).catch(() => {});
      const bytes = writeManifest(
        schema,
        spec,
        files.map((dataFile) => ({ status: 1, snapshotId, dataFile })),
      );
      const location = await writeRelative(ref.files, `metadata/${randomUUID()}-m0.avro`, bytes);
      manifest = {
        location,
        length: bytes.byteLength,
        schemaId: schema['schema-id'],
        specId: spec['spec-id'],
      };
    }
    const parent = currentSnapshot(metadata);
    const sequenceNumber = metadata['last-sequence-number'] + 1;
    const inherited = parent
      ? await readManifestList(await readLocation(ref.files, parent['manifest-list']))
      : [];
    const added: ManifestFile = {
      manifestPath: manifest.location,
      manifestLength: manifest.length,
      partitionSpecId: spec['spec-id'],
      content: 0,
      sequenceNumber,
      minSequenceNumber: sequenceNumber,
      addedSnapshotId: snapshotId,
      addedFilesCount: files.length,
      existingFilesCount: 0,
      deletedFilesCount: 0,
      addedRowsCount: files.reduce((a, f) => a + f.stats.recordCount, 0),
      existingRowsCount: 0,
      deletedRowsCount: 0,
      partitions: summarisePartitions(spec, schema, files),
    };
    const listBytes = writeManifestList(snapshotId, parent?.['snapshot-id'], sequenceNumber, [
      added,
      ...inherited,
    ]);
    const listLocation = await writeRelative(
      ref.files,
      `metadata/snap-${snapshotId}-${attempt}-${randomUUID()}.avro`,
      listBytes,
    );
    const snapshot: SnapshotJson = {
      'snapshot-id': snapshotId,
      'parent-snapshot-id': parent?.['snapshot-id'],
      'sequence-number': sequenceNumber,
      'timestamp-ms': Math.max(ref.clock.now(), metadata['last-updated-ms']),
      'manifest-list': listLocation,
      summary: appendSummary(parent, files, options.summary ?? {}),
      'schema-id': schema['schema-id'],
    };
    return { metadata: withSnapshot(metadata, snapshot), written: [listLocation] };
  });
  return { ...result, snapshotId };
}
