/**
 * Where a table's files live: absolute locations (what Iceberg metadata holds) mapped to keys of the
 * object store, so a table can be read from its location prefix whatever the store's own URI is.
 */

import type { ObjectStore } from '../storage/objectStore.ts';

/** The part of the object store the table format uses. */
export type TableStore = Pick<ObjectStore, 'put' | 'get' | 'list' | 'delete'>;

/** A table's files: its location URI and the store key prefix that location maps to. */
export interface TableFiles {
  readonly store: TableStore;
  /** The table location as written in metadata, e.g. `s3://bucket/warehouse/iot/telemetry`. */
  readonly location: string;
  /** The key prefix of the table in the store, e.g. `warehouse/iot/telemetry`. */
  readonly prefix: string;
}

/** The store key of an absolute location inside the table. */
export function keyOf(files: TableFiles, location: string): string {
  if (!location.startsWith(`${files.location}/`)) {
    throw new Error(`${location} is not inside the table location ${files.location}`);
  }
  return `${files.prefix}/${location.slice(files.location.length + 1)}`;
}

/** The absolute location of a path relative to the table (`metadata/…`, `data/…`). */
function locationOf(files: TableFiles, relative: string): string {
  return `${files.location}/${relative}`;
}

/** Reads a file of the table by its absolute location. */
export function readLocation(files: TableFiles, location: string): Promise<Uint8Array> {
  return files.store.get(keyOf(files, location));
}

/** Writes a file of the table at a relative path; returns its absolute location. */
export async function writeRelative(files: TableFiles, relative: string, bytes: Uint8Array): Promise<string> {
  await files.store.put(`${files.prefix}/${relative}`, bytes);
  return locationOf(files, relative);
}
