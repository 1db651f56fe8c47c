/**
 * Where the Cold layer's files live: Parquet data files, manifests, manifest lists and table metadata
 * are objects under keys relative to the warehouse root (a local directory or an S3 bucket and prefix).
 * Iceberg metadata refers to files by absolute URI, so every store also maps keys to URIs and back.
 */

/** One stored object, as listed. */
export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
  readonly lastModified: Date;
}

/** A flat namespace of immutable objects under `/`-separated keys. */
export interface ObjectStore {
  /** Writes an object whole; readers never see a partial object. Replaces an existing one. */
  put(key: string, bytes: Uint8Array): Promise<void>;
  /** Reads an object whole; throws {@link ObjectNotFoundError} when it does not exist. */
  get(key: string): Promise<Uint8Array>;
  /** The object's size in bytes, or `undefined` when it does not exist. */
  head(key: string): Promise<number | undefined>;
  /** Every object whose key starts with `prefix` (a plain string prefix), in no promised order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** Removes the objects; keys that do not exist are ignored. */
  delete(keys: readonly string[]): Promise<void>;
  /** The absolute URI of a key: `file:///…` or `s3://bucket/…`. */
  uri(key: string): string;
  /** The key of an absolute URI of this store, or `undefined` when the URI lies elsewhere. */
  keyOf(uri: string): string | undefined;
  /** Releases connections. */
  close(): Promise<void>;
}

/** A `get` of a key that holds no object. */
export class ObjectNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`no object at key "${key}"`);
    this.name = 'ObjectNotFoundError';
  }
}

/** Rejects keys that could escape the warehouse root or that no store can hold. */
export function checkKey(key: string): string {
  if (key === '' || key.startsWith('/') || key.endsWith('/')) throw new Error(`invalid object key "${key}"`);
  for (const segment of key.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') throw new Error(`invalid object key "${key}"`);
  }
  if (key.includes('\\') || key.includes('\0')) throw new Error(`invalid object key "${key}"`);
  return key;
}
