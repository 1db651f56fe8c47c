/**
 * The data files of a table's current snapshot, resolved by shardflow's own manifest reader: what a
 * query engine would scan (entries marked deleted are left out).
 */
import { loadTable, type TableRef } from './commit.ts';
import { readManifest, readManifestList } from './manifest.ts';
import { currentSnapshot } from './metadata.ts';
import { readLocation } from './tableFiles.ts';
import { type DataFile, EntryStatus, type TableMetadata } from './types.ts';

/** The current snapshot's manifests and live data files (none when the table has no snapshot). */
export interface CurrentScan {
  readonly metadataLocation: string;
  readonly metadata: TableMetadata;
  readonly manifests: number;
  readonly dataFiles: readonly DataFile[];
}

/** Reads the current snapshot's manifest list and manifests; `undefined` when the table is unknown. */
export async function scanCurrent(ref: TableRef): Promise<CurrentScan | undefined> {
  const table = await loadTable(ref);
  if (!table) return undefined;
  const head = currentSnapshot(table.metadata);
  const { metadataLocation, metadata } = table;
  if (!head) return { metadataLocation, metadata, manifests: 0, dataFiles: [] };
  const list = await readManifestList(await readLocation(ref.files, head['manifest-list']));
  const dataFiles: DataFile[] = [];
  for (const m of list) {
    const { entries } = await readManifest(m, await readLocation(ref.files, m.manifestPath));
    for (const e of entries) if (e.status !== EntryStatus.DELETED) dataFiles.push(e.dataFile);
  }
  return { metadataLocation, metadata, manifests: list.length, dataFiles };
}
