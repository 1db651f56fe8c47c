/**
 * Table maintenance, run by `shardflow iceberg maintain`: merge small manifests (entries re-emitted as
 * EXISTING with their sequence numbers written out), expire old snapshots (keeping the ones whose
 * summaries hold a shard's committed position) and remove orphan files (written, never committed).
 * Data files are never rewritten here; compacting them is the query engine's job (Athena `OPTIMIZE`).
 */
import { randomUUID } from 'node:crypto';
import { committedPositions } from './checkpoints.ts';
import { commitChange, loadTable, type TableRef } from './commit.ts';
import { readManifest, readManifestList, writeManifest, writeManifestList } from './manifest.ts';
import { currentSchema, currentSnapshot, newSnapshotId, withSnapshot } from './metadata.ts';
import { summarisePartitions } from './partition.ts';
import { keyOf, readLocation, writeRelative } from './tableFiles.ts';
import type { ManifestEntry, ManifestFile, SnapshotJson, TableMetadata } from './types.ts';

/** What a merge did. */
export interface MergeResult {
  readonly merged: number;
  readonly snapshotId?: bigint;
}

/**
 * Rewrites the current snapshot's manifests smaller than `smallBytes` into one, when there are at
 * least `minCount` of them, as a `replace` snapshot.
 */
export async function mergeManifests(
  ref: TableRef,
  smallBytes = 8 << 20,
  minCount = 2,
): Promise<MergeResult> {
  let merged = 0;
  let snapshotId: bigint | undefined;
  const loaded = await loadTable(ref);
  const head = loaded && currentSnapshot(loaded.metadata);
  if (!head) return { merged };
  const before = await readManifestList(await readLocation(ref.files, head['manifest-list']));
  if (before.filter((m) => m.manifestLength < smallBytes).length < minCount) return { merged };
  await commitChange(ref, async ({ metadata }, attempt) => {
    const parent = currentSnapshot(metadata)!;
    const manifests = await readManifestList(await readLocation(ref.files, parent['manifest-list']));
    const small = manifests.filter(
      (m) => m.manifestLength < smallBytes && m.partitionSpecId === metadata['default-spec-id'],
    );
    const kept = manifests.filter((m) => !small.includes(m));
    const entries: ManifestEntry[] = [];
    for (const m of small) {
      const { entries: es } = await readManifest(m, await readLocation(ref.files, m.manifestPath));
      for (const e of es) if (e.status !== 2) entries.push({ ...e, status: 0 });
    }
    const id = newSnapshotId();
    const sequenceNumber = metadata['last-sequence-number'] + 1;
    const schema = currentSchema(metadata);
    const spec = metadata['partition-specs'].find((s) => s['spec-id'] === metadata['default-spec-id'])!;
    const bytes = writeManifest(schema, spec, entries);
    const manifestLocation = await writeRelative(ref.files, `metadata/${randomUUID()}-m0.avro`, bytes);
    const rewritten: ManifestFile = {
      manifestPath: manifestLocation,
      manifestLength: bytes.byteLength,
      partitionSpecId: spec['spec-id'],
      content: 0,
      sequenceNumber,
      minSequenceNumber: Math.min(...entries.map((e) => e.sequenceNumber ?? sequenceNumber)),
      addedSnapshotId: id,
      addedFilesCount: 0,
      existingFilesCount: entries.length,
      deletedFilesCount: 0,
      addedRowsCount: 0,
      existingRowsCount: entries.reduce((a, e) => a + e.dataFile.stats.recordCount, 0),
      deletedRowsCount: 0,
      partitions: summarisePartitions(
        spec,
        schema,
        entries.map((e) => e.dataFile),
      ),
    };
    const list = writeManifestList(id, parent['snapshot-id'], sequenceNumber, [rewritten, ...kept]);
    const listLocation = await writeRelative(
      ref.files,
      `metadata/snap-${id}-${attempt}-${randomUUID()}.avro`,
      list,
    );
    const totals = Object.fromEntries(Object.entries(parent.summary).filter(([k]) => k.startsWith('total-')));
    const snapshot: SnapshotJson = {
      'snapshot-id': id,
      'parent-snapshot-id': parent['snapshot-id'],
      'sequence-number': sequenceNumber,
      'timestamp-ms': Math.max(ref.clock.now(), metadata['last-updated-ms']),
      'manifest-list': listLocation,
      summary: {
        operation: 'replace',
        'manifests-created': '1',
        'manifests-replaced': String(small.length),
        'manifests-kept': String(kept.length),
        'entries-processed': String(entries.length),
        ...totals,
      },
      'schema-id': schema['schema-id'],
    };
    merged = small.length;
    snapshotId = id;
    return { metadata: withSnapshot(metadata, snapshot), written: [manifestLocation, listLocation] };
  });
  return { merged, snapshotId };
}

/** Every file a set of snapshots reaches: manifest lists, manifests, data files (absolute locations). */
async function reachable(ref: TableRef, snapshots: readonly SnapshotJson[]): Promise<Set<string>> {
  const out = new Set<string>();
  const seenManifests = new Set<string>();
  for (const s of snapshots) {
    out.add(s['manifest-list']);
    for (const m of await readManifestList(await readLocation(ref.files, s['manifest-list']))) {
      out.add(m.manifestPath);
      if (seenManifests.has(m.manifestPath)) continue;
      seenManifests.add(m.manifestPath);
      const { entries } = await readManifest(m, await readLocation(ref.files, m.manifestPath));
      for (const e of entries) out.add(e.dataFile.filePath);
    }
  }
  return out;
}

/** What an expiry did. */
export interface ExpireResult {
  readonly expired: number;
  readonly deletedFiles: number;
}

/**
 * Removes snapshots older than `olderThanMs` (epoch ms), except the current one and those holding a
 * shard's highest committed position, then deletes the files only they reached.
 */
export async function expireSnapshots(ref: TableRef, olderThanMs: number): Promise<ExpireResult> {
  let expiredSnapshots: SnapshotJson[] = [];
  let kept: SnapshotJson[] = [];
  const result = await commitChange(ref, async ({ metadata }) => {
    const keep = new Set<bigint>(committedPositions(metadata).holders);
    for (const r of Object.values(metadata.refs)) keep.add(r['snapshot-id']);
    expiredSnapshots = metadata.snapshots.filter(
      (s) => s['timestamp-ms'] < olderThanMs && !keep.has(s['snapshot-id']),
    );
    const gone = new Set(expiredSnapshots.map((s) => s['snapshot-id']));
    kept = metadata.snapshots.filter((s) => !gone.has(s['snapshot-id']));
    const next: TableMetadata = {
      ...metadata,
      'last-updated-ms': Math.max(ref.clock.now(), metadata['last-updated-ms']),
      snapshots: kept,
      'snapshot-log': metadata['snapshot-log'].filter((e) => !gone.has(e['snapshot-id'])),
    };
    return { metadata: next, written: [] };
  });
  if (expiredSnapshots.length === 0) return { expired: 0, deletedFiles: 0 };
  const live = await reachable(ref, result.metadata.snapshots);
  const dead = [...(await reachable(ref, expiredSnapshots))].filter((l) => !live.has(l));
  await ref.files.store.delete(dead.map((l) => keyOf(ref.files, l)));
  return { expired: expiredSnapshots.length, deletedFiles: dead.length };
}

/** What an orphan sweep did. */
export interface OrphanResult {
  readonly deleted: readonly string[];
}

/**
 * Deletes files under the table's `data/` and `metadata/` that no snapshot or metadata file reaches
 * and that are older than `olderThanMs` (so files of a commit in flight are left alone).
 */
export async function removeOrphans(ref: TableRef, olderThanMs: number): Promise<OrphanResult> {
  const table = await loadTable(ref);
  if (!table) return { deleted: [] };
  const live = await reachable(ref, table.metadata.snapshots);
  live.add(table.metadataLocation);
  for (const e of table.metadata['metadata-log']) live.add(e['metadata-file']);
  const liveKeys = new Set([...live].map((l) => keyOf(ref.files, l)));
  const orphans: string[] = [];
  for (const dir of ['data/', 'metadata/']) {
    for await (const object of ref.files.store.list(`${ref.files.prefix}/${dir}`)) {
      if (!liveKeys.has(object.key) && object.lastModified.getTime() < olderThanMs) orphans.push(object.key);
    }
  }
  await ref.files.store.delete(orphans);
  return { deleted: orphans };
}
