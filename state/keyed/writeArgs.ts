/**
 * A snapshot's entries (and what it publishes) as the write script takes them: blobs of at most `BLOB_ENTRIES` entries and
 * about `BLOB_BYTES` bytes (the layout is described in `keyedScripts.ts`). Sending a few blobs rather
 * than one argument per key and value keeps a command of 250,000 entries at a few hundred arguments
 * (older Redis versions refuse a command of more than 1,048,576 arguments) and costs the client one
 * buffer per blob instead of one write per argument.
 */
import type { PublishedWrite, StateEntry } from '../../topology/index.ts';
import { BLOB_ENTRIES } from './keyedScripts.ts';

/** A blob is closed once it holds this many bytes of keys and values (a single larger entry gets one of its own). */
export const BLOB_BYTES = 1 << 20;

/** The upserts and deletes of a write as blobs, and the bytes they take. */
export interface WriteBlobs {
  readonly upserts: Buffer[];
  readonly deletes: Buffer[];
  readonly bytes: number;
}

/** Packs `upserts` and `deletes` (see the file's comment). */
export function writeBlobs(upserts: readonly StateEntry[], deletes: readonly string[]): WriteBlobs {
  const upsertBlobs = packBlobs(upserts.length, 2, (i, parts) => {
    parts.push(upserts[i]!.key, upserts[i]!.value);
  });
  const deleteBlobs = packBlobs(deletes.length, 1, (i, parts) => {
    parts.push(deletes[i]!);
  });
  return { upserts: upsertBlobs, deletes: deleteBlobs, bytes: sizeOf(upsertBlobs, deleteBlobs) };
}

/** A snapshot's published part as blobs, and the bytes they take. */
export interface PublishedBlobs {
  /** Group, expiry in ms (decimal text) and bytes of each published entry. */
  readonly upserts: Buffer[];
  /** Groups. */
  readonly deletes: Buffer[];
  /** Node and `"<watermark> <activeAt>"` (decimal text, `-Infinity` allowed) of each watermark. */
  readonly watermarks: Buffer[];
  readonly bytes: number;
}

/** Packs what a snapshot publishes (nothing when it publishes nothing). */
export function publishedBlobs(published: PublishedWrite | undefined): PublishedBlobs {
  const { upserts = [], deletes = [], watermarks = [] } = published ?? {};
  const upsertBlobs = packBlobs(upserts.length, 3, (i, parts) => {
    const { group, ttlMs, value } = upserts[i]!;
    parts.push(group, String(ttlMs), value);
  });
  const deleteBlobs = packBlobs(deletes.length, 1, (i, parts) => {
    parts.push(deletes[i]!);
  });
  const watermarkBlobs = packBlobs(watermarks.length, 2, (i, parts) => {
    const { node, watermark, activeAt } = watermarks[i]!;
    parts.push(node, `${watermark} ${activeAt}`);
  });
  return {
    upserts: upsertBlobs,
    deletes: deleteBlobs,
    watermarks: watermarkBlobs,
    bytes: sizeOf(upsertBlobs, deleteBlobs, watermarkBlobs),
  };
}

function sizeOf(...lists: readonly Buffer[][]): number {
  let bytes = 0;
  for (const list of lists) for (const blob of list) bytes += blob.length;
  return bytes;
}

/** A part of an item: text (written as UTF-8) or bytes. */
type Part = string | Uint8Array;

const lengthOf = (part: Part): number =>
  typeof part === 'string' ? Buffer.byteLength(part, 'utf8') : part.length;

/**
 * Items `0 … count − 1` (each `per` parts, pushed by `partsOf`) as blobs: u32 n, the `per` lengths of
 * each of the n items, then their parts. Each blob is one buffer the parts are written into directly
 * (text encoded in place): one copy of the bytes, no buffer per part.
 */
function packBlobs(count: number, per: 1 | 2 | 3, partsOf: (i: number, parts: Part[]) => void): Buffer[] {
  const parts: Part[] = [];
  for (let i = 0; i < count; i++) partsOf(i, parts);
  const lengths = parts.map(lengthOf);
  const blobs: Buffer[] = [];
  let first = 0;
  while (first < parts.length) {
    // the blob's parts: up to BLOB_ENTRIES items or until BLOB_BYTES is reached
    let end = first;
    let size = 0;
    while (end < parts.length && end - first < per * BLOB_ENTRIES && size < BLOB_BYTES) {
      for (let k = 0; k < per; k++) size += lengths[end + k]!;
      end += per;
    }
    const blob = Buffer.allocUnsafe(4 + 4 * (end - first) + size);
    blob.writeUInt32LE((end - first) / per, 0);
    let at = 4;
    for (let k = first; k < end; k++) {
      blob.writeUInt32LE(lengths[k]!, at);
      at += 4;
    }
    for (let k = first; k < end; k++) {
      const part = parts[k]!;
      if (typeof part === 'string') blob.write(part, at, 'utf8');
      else blob.set(part, at);
      at += lengths[k]!;
    }
    blobs.push(blob);
    first = end;
  }
  return blobs;
}
