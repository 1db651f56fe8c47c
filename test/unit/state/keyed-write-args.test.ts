import { describe, expect, it } from 'vitest';
import { BLOB_ENTRIES } from '../../../state/keyed/keyedScripts.ts';
import { BLOB_BYTES, writeBlobs } from '../../../state/keyed/writeArgs.ts';

/** A blob read back as the write script reads it: u32 n, the lengths, then the parts. */
function unpack(blob: Buffer, per: 1 | 2): string[][] {
  const n = blob.readUInt32LE(0);
  const lengths = Array.from({ length: per * n }, (_, i) => blob.readUInt32LE(4 + 4 * i));
  let at = 4 + 4 * per * n;
  const parts = lengths.map((length) => {
    const part = blob.subarray(at, at + length).toString('latin1');
    at += length;
    return part;
  });
  expect(at).toBe(blob.length);
  return Array.from({ length: n }, (_, i) => parts.slice(per * i, per * i + per));
}

describe('keyed state write blobs', () => {
  it('carry every upsert and delete in order, at most BLOB_ENTRIES per blob', () => {
    const upserts = Array.from({ length: 2 * BLOB_ENTRIES + 1 }, (_, i) => ({
      key: `k${i}`,
      value: Buffer.from(`v${i}`, 'latin1'),
    }));
    const deletes = Array.from({ length: BLOB_ENTRIES + 1 }, (_, i) => `d${i}`);
    const blobs = writeBlobs(upserts, deletes);
    expect(blobs.upserts.map((b) => b.readUInt32LE(0))).toEqual([BLOB_ENTRIES, BLOB_ENTRIES, 1]);
    expect(blobs.deletes.map((b) => b.readUInt32LE(0))).toEqual([BLOB_ENTRIES, 1]);
    expect(blobs.upserts.flatMap((b) => unpack(b, 2))).toEqual(upserts.map((e, i) => [e.key, `v${i}`]));
    expect(blobs.deletes.flatMap((b) => unpack(b, 1))).toEqual(deletes.map((d) => [d]));
    expect(blobs.bytes).toBe([...blobs.upserts, ...blobs.deletes].reduce((n, b) => n + b.length, 0));
  });

  it('close a blob at about BLOB_BYTES, and give a larger value a blob of its own', () => {
    const big = Buffer.alloc(BLOB_BYTES + 1, 0xff);
    const half = Buffer.alloc(BLOB_BYTES / 2, 0x00);
    const blobs = writeBlobs(
      [
        { key: 'a', value: half },
        { key: 'b', value: half },
        { key: 'c', value: big },
        { key: 'd', value: new Uint8Array(0) },
      ],
      [],
    );
    expect(blobs.upserts.map((b) => unpack(b, 2).map(([k]) => k))).toEqual([['a', 'b'], ['c'], ['d']]);
  });

  it('are none for a snapshot that only moves the position', () => {
    expect(writeBlobs([], [])).toEqual({ upserts: [], deletes: [], bytes: 0 });
  });

  it('carry keys as UTF-8', () => {
    const [blob] = writeBlobs([], ['ümlaut · 計']).deletes;
    expect(blob!.subarray(8).toString('utf8')).toBe('ümlaut · 計');
  });
});
