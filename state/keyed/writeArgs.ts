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
  const upsertBlobs = packBlobs(upserts.length, 2, (i) => [utf8(upserts[i]!.key), upserts[i]!.value]);
  const deleteBlobs = packBlobs(deletes.length, 1, (i) => [utf8(deletes[i]!)]);
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
  const upsertBlobs = packBlobs(upserts.length, 3, (i) => {
    const { group, ttlMs, value } = upserts[i]!;
    return [utf8(group), utf8(String(ttlMs)), value];
  });
  const deleteBlobs = packBlobs(deletes.length, 1, (i) => [utf8(deletes[i]!)]);
  const watermarkBlobs = packBlobs(watermarks.length, 2, (i) => {
    const { node, watermark, activeAt } = watermarks[i]!;
    return [utf8(node), utf8(`${watermark} ${activeAt}`)];
  });
  return {
    upserts: upsertBlobs,
    deletes: deleteBlobs,
    watermarks: watermarkBlobs,
    bytes: sizeOf(upsertBlobs, deleteBlobs, watermarkBlobs),
  };
}

const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8');

function sizeOf(...lists: readonly Buffer[][]): number {
  let bytes = 0;
  for (const list of lists) for (const blob of list) bytes += blob.length;
  return bytes;
}

/** Items `0 … count − 1` as blobs: u32 n, the `per` lengths of each of the n items, then their parts. */
function packBlobs(count: number, per: 1 | 2 | 3, partsOf: (i: number) => Uint8Array[]): Buffer[] {
  const blobs: Buffer[] = [];
  let parts: Uint8Array[] = [];
  let size = 0;
  const close = () => {
    const n = parts.length / per;
    const head = Buffer.allocUnsafe(4 + 4 * parts.length);
    head.writeUInt32LE(n, 0);
    for (let i = 0; i < parts.length; i++) head.writeUInt32LE(parts[i]!.length, 4 + 4 * i);
    blobs.push(Buffer.concat([head, ...parts], head.length + size));
    parts = [];
    size = 0;
  };
  for (let i = 0; i < count; i++) {
    for (const part of partsOf(i)) {
      parts.push(part);
      size += part.length;
    }
    if (parts.length === per * BLOB_ENTRIES || size >= BLOB_BYTES) close();
  }
  if (parts.length > 0) close();
  return blobs;
}
