/**
 * A snapshot's entries as the write script takes them: blobs of at most `BLOB_ENTRIES` entries and
 * about `BLOB_BYTES` bytes (the layout is described in `keyedScripts.ts`). Sending a few blobs rather
 * than one argument per key and value keeps a command of 250,000 entries at a few hundred arguments
 * (older Redis versions refuse a command of more than 1,048,576 arguments) and costs the client one
 * buffer per blob instead of one write per argument.
 */
import type { StateEntry } from '../../topology/index.ts';
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
  const upsertBlobs = packBlobs(
    upserts.length,
    2,
    (i) => Buffer.from(upserts[i]!.key, 'utf8'),
    (i) => upserts[i]!.value,
  );
  const deleteBlobs = packBlobs(deletes.length, 1, (i) => Buffer.from(deletes[i]!, 'utf8'));
  let bytes = 0;
  for (const blob of upsertBlobs) bytes += blob.length;
  for (const blob of deleteBlobs) bytes += blob.length;
  return { upserts: upsertBlobs, deletes: deleteBlobs, bytes };
}

/** Items `0 … count − 1` as blobs: u32 n, the `per` lengths of each of the n items, then their parts. */
function packBlobs(
  count: number,
  per: 1 | 2,
  key: (i: number) => Uint8Array,
  value?: (i: number) => Uint8Array,
): Buffer[] {
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
    const k = key(i);
    parts.push(k);
    size += k.length;
    if (value !== undefined) {
      const v = value(i);
      parts.push(v);
      size += v.length;
    }
    if (parts.length === per * BLOB_ENTRIES || size >= BLOB_BYTES) close();
  }
  if (parts.length > 0) close();
  return blobs;
}
