import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localObjectStore } from '../../sinks/cold/storage/localObjectStore.ts';
import { ObjectNotFoundError, type ObjectStore } from '../../sinks/cold/storage/objectStore.ts';
import { objectStoreConfigSchema, openObjectStore } from '../../sinks/cold/storage/openObjectStore.ts';
import { s3ObjectStore, s3ObjectStoreConfigSchema } from '../../sinks/cold/storage/s3ObjectStore.ts';
import { type RunningS3rver, S3RVER_CREDENTIALS, startS3rver } from '../support/s3rver.ts';

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

interface Subject {
  readonly store: ObjectStore;
  /** How the store spells a URI, to check `uri()`. */
  readonly uriPattern: RegExp;
  readonly pageSize?: number;
  /** Whether the server itself replaces objects atomically (S3 does; s3rver rewrites files in place). */
  readonly atomicPuts: boolean;
}

function conformance(name: string, open: () => Promise<Subject>): void {
  describe(`${name} object store`, () => {
    let subject: Subject;
    let store: ObjectStore;
    beforeAll(async () => {
      subject = await open();
      store = subject.store;
    });
    afterAll(async () => store.close());

    it('puts, gets, heads and replaces whole objects', async () => {
      const big = randomBytes(3 * 1024 * 1024 + 17);
      await store.put('data/day=2026-11-22/productId=p1/a.parquet', big);
      expect(Buffer.from(await store.get('data/day=2026-11-22/productId=p1/a.parquet')).equals(big)).toBe(
        true,
      );
      expect(await store.head('data/day=2026-11-22/productId=p1/a.parquet')).toBe(big.byteLength);
      await store.put('metadata/v1.metadata.json', bytes('{"v":1}'));
      await store.put('metadata/v1.metadata.json', bytes('{"v":2}'));
      expect(text(await store.get('metadata/v1.metadata.json'))).toBe('{"v":2}');
      await store.put('empty', new Uint8Array(0));
      expect(await store.head('empty')).toBe(0);
      expect((await store.get('empty')).byteLength).toBe(0);
    });

    it('reports a missing object', async () => {
      await expect(store.get('nothing/here.avro')).rejects.toBeInstanceOf(ObjectNotFoundError);
      await expect(store.get('nothing/here.avro')).rejects.toMatchObject({ key: 'nothing/here.avro' });
      expect(await store.head('nothing/here.avro')).toBeUndefined();
      expect(await store.head('data')).toBeUndefined();
    });

    it('lists by plain key prefix', async () => {
      const keys = ['list/b/2', 'list/a-1', 'list/a/1', 'list/a/0', 'list/ab', 'lists/x', 'list/a/sub/deep'];
      for (const key of keys) await store.put(key, bytes(key));
      const since = Date.now() - 60_000;
      // S3 lists in key order, s3rver in its directory walk's order: the contract promises no order.
      const listed = (await all(store.list('list/a'))).sort((a, b) => (a.key < b.key ? -1 : 1));
      expect(listed.map((o) => o.key)).toEqual([
        'list/a-1',
        'list/a/0',
        'list/a/1',
        'list/a/sub/deep',
        'list/ab',
      ]);
      expect(listed.map((o) => o.size)).toEqual([8, 8, 8, 15, 7]);
      for (const o of listed) expect(o.lastModified.getTime()).toBeGreaterThan(since);
      expect((await all(store.list('list/'))).map((o) => o.key).sort()).toEqual([
        'list/a-1',
        'list/a/0',
        'list/a/1',
        'list/a/sub/deep',
        'list/ab',
        'list/b/2',
      ]);
      expect(await all(store.list('missing/'))).toEqual([]);
      expect((await all(store.list(''))).map((o) => o.key)).toContain('lists/x');
    });

    it('lists across pages', async () => {
      const keys = Array.from({ length: 23 }, (_, i) => `paged/${String(i).padStart(3, '0')}.avro`);
      await Promise.all(keys.map((key) => store.put(key, bytes(key))));
      expect((await all(store.list('paged/'))).map((o) => o.key).sort()).toEqual(keys);
      if (subject.pageSize) expect(keys.length).toBeGreaterThan(2 * subject.pageSize);
    });

    it('deletes objects and ignores missing keys', async () => {
      await store.put('orphans/a', bytes('a'));
      await store.put('orphans/b', bytes('b'));
      await store.put('orphans/c', bytes('c'));
      await store.delete(['orphans/a', 'orphans/c', 'orphans/never']);
      expect((await all(store.list('orphans/'))).map((o) => o.key)).toEqual(['orphans/b']);
      await store.delete([]);
      expect(await store.head('orphans/b')).toBe(1);
    });

    it('maps keys to absolute URIs and back', async () => {
      const key = 'data/day=2026-11-22/productId=p 1/00000-0-ab.parquet';
      await store.put(key, bytes('x'));
      const uri = store.uri(key);
      expect(uri).toMatch(subject.uriPattern);
      expect(store.keyOf(uri)).toBe(key);
      expect(store.keyOf('s3://elsewhere/data/x')).toBeUndefined();
      expect(store.keyOf('file:///elsewhere/data/x')).toBeUndefined();
    });

    it('rejects keys that could escape the warehouse', async () => {
      for (const key of ['', '/abs', 'a//b', '../up', 'a/../../b', 'dir/', 'a/./b']) {
        await expect(store.put(key, bytes('x')), key).rejects.toThrow('invalid object key');
      }
      expect(() => store.uri('../x')).toThrow('invalid object key');
    });

    it('never shows a partial object to a concurrent reader', async (context) => {
      if (!subject.atomicPuts) context.skip();
      const a = new Uint8Array(2 * 1024 * 1024).fill(1);
      const b = new Uint8Array(2 * 1024 * 1024).fill(2);
      await store.put('race', a);
      const reads: Promise<Uint8Array>[] = [];
      const write = store.put('race', b);
      for (let i = 0; i < 5; i++) reads.push(store.get('race'));
      await write;
      for (const r of await Promise.all(reads)) {
        expect(r.byteLength).toBe(a.byteLength);
        expect(r[0] === r[r.byteLength - 1] && (r[0] === 1 || r[0] === 2)).toBe(true);
      }
    });
  });
}

const tempRoots: string[] = [];
afterAll(() => {
  for (const dir of tempRoots) rmSync(dir, { recursive: true, force: true });
});

conformance('local directory', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'cold-local-'));
  tempRoots.push(directory);
  return {
    store: localObjectStore({ kind: 'local', directory: join(directory, 'warehouse') }),
    atomicPuts: true,
    uriPattern: /^file:\/\/\/.*\/warehouse\/data\/day=2026-11-22\/productId=p%201\/00000-0-ab\.parquet$/,
  };
});

let s3rver: RunningS3rver | undefined;
afterAll(() => {
  s3rver?.stop();
});

conformance('S3 (s3rver)', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'cold-s3rver-'));
  tempRoots.push(directory);
  s3rver = await startS3rver(directory, ['lake']);
  const endpoint = s3rver.endpoint;
  const config = s3ObjectStoreConfigSchema.parse({
    kind: 's3',
    bucket: 'lake',
    prefix: 'warehouse/',
    endpoint,
    forcePathStyle: true,
    checksums: 'when-required',
    listPageSize: 10,
  });
  return {
    store: s3ObjectStore(config, { credentials: S3RVER_CREDENTIALS }),
    uriPattern: /^s3:\/\/lake\/warehouse\/data\/day=2026-11-22\/productId=p 1\/00000-0-ab\.parquet$/,
    pageSize: 10,
    atomicPuts: false,
  };
});

describe('local object store', () => {
  it('keeps temp files out of listings and leaves none behind', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'cold-local-tmp-'));
    tempRoots.push(directory);
    const store = localObjectStore({ kind: 'local', directory });
    await store.put('a/b.parquet', bytes('x'));
    expect(readdirSync(join(directory, '.shardflow-tmp'))).toEqual([]);
    // a temp file left by a crash mid-put
    mkdirSync(join(directory, '.shardflow-tmp'), { recursive: true });
    writeFileSync(join(directory, '.shardflow-tmp', 'stale'), 'partial');
    expect((await all(store.list(''))).map((o) => o.key)).toEqual(['a/b.parquet']);
    expect(existsSync(join(directory, 'a', 'b.parquet'))).toBe(true);
    await expect(store.put('.shardflow-tmp/x', bytes('x'))).rejects.toThrow('invalid object key');
  });
});

describe('object store configuration', () => {
  it('names the key and the problem', () => {
    const bad = objectStoreConfigSchema.safeParse({ kind: 's3', bucket: 'lake', prefix: '/warehouse' });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['prefix']);
    expect(bad.error?.issues[0]?.message).toMatch(/ends with "\/"/);
    const unknown = objectStoreConfigSchema.safeParse({ kind: 'local', directory: '/x', bucket: 'y' });
    expect(unknown.success).toBe(false);
    expect(objectStoreConfigSchema.safeParse({ kind: 'gcs' }).success).toBe(false);
  });

  it('opens the configured kind with defaults', async () => {
    const config = objectStoreConfigSchema.parse({ kind: 's3', bucket: 'lake' });
    expect(config).toMatchObject({
      prefix: '',
      region: 'us-east-1',
      forcePathStyle: false,
      listPageSize: 1000,
    });
    const store = openObjectStore(config);
    expect(store.uri('a/b')).toBe('s3://lake/a/b');
    await store.close();
  });
});
