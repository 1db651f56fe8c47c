/**
 * The Cold sink end to end on a real PostgreSQL catalog (JdbcCatalog tables, migration 400) and a
 * local-directory warehouse, read back by an independent Iceberg reader (icebird, served over a
 * loopback HTTP server because it reads only HTTP) and by DuckDB over the current snapshot's files.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { icebergRead } from 'icebird';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../sinks/cold/catalog/catalog.ts';
import { jdbcCatalog } from '../../sinks/cold/catalog/jdbcCatalog.ts';
import { type ColdSinkConfig, coldSink, coldSinkConfigSchema } from '../../sinks/cold/coldSink.ts';
import { committedPositions } from '../../sinks/cold/iceberg/checkpoints.ts';
import { loadTable, type TableRef } from '../../sinks/cold/iceberg/commit.ts';
import { expireSnapshots, mergeManifests, removeOrphans } from '../../sinks/cold/iceberg/maintain.ts';
import { readManifest, readManifestList } from '../../sinks/cold/iceberg/manifest.ts';
import { currentSnapshot } from '../../sinks/cold/iceberg/metadata.ts';
import { keyOf, readLocation, type TableFiles } from '../../sinks/cold/iceberg/tableFiles.ts';
import { writeParquet } from '../../sinks/cold/parquet/writer.ts';
import { localObjectStore } from '../../sinks/cold/storage/localObjectStore.ts';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { pgSqlClient, type SqlClient } from '../../sinks/postgres/sql.ts';
import { type Enriched, type Position, type Sink, systemClock } from '../../topology/index.ts';
import { type FileServer, serveDirectory } from '../support/fileServer.ts';
import { ancestry } from '../support/icebergReads.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 20, 8);
const TABLE = { namespace: 'iot', name: 'telemetry' };

function record(shardId: string, seq: number, product: string, t: number): Enriched {
  return {
    device_id: `dev-${seq % 7}`,
    device_timestamp: t,
    productId: product,
    metrics: { temperature: seq / 2, status: seq % 2 === 0 ? 'ok' : 'warn' },
    ingest_timestamp: t + 500,
    site_id: 'site-1',
    customer_id: null,
    rawRef: {
      protocol: 'mqtt',
      format: 'json',
      stream: 'telemetry',
      shardId,
      sequenceNumber: String(1000 + seq),
    },
  };
}

/** Batches of `size` records of one shard, numbered from `from`. */
function batches(shardId: string, from: number, count: number, size: number): Enriched[][] {
  const out: Enriched[][] = [];
  for (let b = 0; b < count; b++) {
    const batch: Enriched[] = [];
    for (let i = 0; i < size; i++) {
      const seq = from + b * size + i;
      batch.push(record(shardId, seq, seq % 3 === 0 ? 'meter' : 'thermo', T0 + (seq % 2) * DAY + seq * 1000));
    }
    out.push(batch);
  }
  return out;
}

let db: TestDatabase;
let sql: SqlClient;
let dir: string;
let server: FileServer;
let files: TableFiles;
let catalog: Catalog;

/** A sink opened on the table, with the positions it marked durable. */
async function openSink(
  writerId: string,
  over: Catalog = catalog,
  extra: Partial<ColdSinkConfig> = {},
  on: TableFiles = files,
) {
  const durable: [string, Position][] = [];
  const abort = new AbortController();
  const config = coldSinkConfigSchema.parse({
    writerId,
    commitIntervalMs: 3_600_000,
    commitBackoffMs: 10,
    ...extra,
  });
  const sink: Sink<Enriched> = coldSink(config, { catalog: over, files: on, writeDataFile: writeParquet });
  await sink.open!({
    node: 'cold',
    clock: systemClock,
    signal: abort.signal,
    markDurable: (s, p) => durable.push([s, p]),
  });
  const write = async (batch: Enriched[]) => {
    const last = batch.at(-1)!.rawRef;
    await sink.write(batch, {
      node: 'cold',
      shardId: last.shardId,
      position: { sequenceNumber: last.sequenceNumber, subSequenceNumber: 0 },
      clock: systemClock,
    });
  };
  return { sink, durable, write, close: () => abort.abort() };
}

/** The main table, or table `name` of namespace `iot` stored beside it. */
const tableFiles = (name = TABLE.name): TableFiles =>
  name === TABLE.name
    ? files
    : { store: files.store, location: files.location.replace(/[^/]+$/, name), prefix: `wh/iot/${name}` };

const ref = (name = TABLE.name): TableRef => ({
  id: { namespace: TABLE.namespace, name },
  catalog,
  files: tableFiles(name),
  clock: systemClock,
});

async function icebirdRows(name = TABLE.name): Promise<Record<string, unknown>[]> {
  const table = (await loadTable(ref(name)))!;
  const file = table.metadataLocation.slice(table.metadataLocation.lastIndexOf('/') + 1);
  return icebergRead({ tableUrl: tableFiles(name).location, metadataFileName: file });
}

async function currentDataFiles(name = TABLE.name): Promise<string[]> {
  const on = tableFiles(name);
  const table = (await loadTable(ref(name)))!;
  const snap = currentSnapshot(table.metadata)!;
  const out: string[] = [];
  for (const m of await readManifestList(await readLocation(on, snap['manifest-list']))) {
    const { entries } = await readManifest(m, await readLocation(on, m.manifestPath));
    out.push(...entries.map((e) => e.dataFile.filePath));
  }
  return out;
}

beforeAll(async () => {
  db = await createTestDatabase('iceberg');
  sql = pgSqlClient(new pg.Pool({ connectionString: db.url, max: 4 }));
  await migrateWarm(sql);
  dir = await mkdtemp(join(tmpdir(), 'iceberg-it-'));
  server = await serveDirectory(dir);
  files = {
    store: localObjectStore({ kind: 'local', directory: dir }),
    location: `${server.url}/wh/iot/telemetry`,
    prefix: 'wh/iot/telemetry',
  };
  catalog = jdbcCatalog(sql, { catalogName: 'shardflow' });
});

afterAll(async () => {
  await server?.close();
  await sql?.close();
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('Cold sink on a PostgreSQL catalog', () => {
  it('two writers racing one commit: one conflict, both appends present', async () => {
    // Holds both writers' first swap until both have loaded the same metadata: the race a real
    // deployment hits only by chance, forced here so the conflict path always runs.
    let waiting = 0;
    let release!: () => void;
    const bothLoaded = new Promise<void>((r) => {
      release = r;
    });
    const outcomes: string[] = [];
    const racing: Catalog = {
      load: (t) => catalog.load(t),
      create: (t, l) => catalog.create(t, l),
      async compareAndSwap(t, o, n) {
        if (outcomes.length < 2) {
          waiting++;
          if (waiting === 2) release();
          await bothLoaded;
        }
        const outcome = await catalog.compareAndSwap(t, o, n);
        outcomes.push(outcome);
        return outcome;
      },
    };
    const a = await openSink('writer-a', racing);
    const b = await openSink('writer-b', racing);
    for (const batch of batches('shard-a', 0, 3, 100)) await a.write(batch);
    for (const batch of batches('shard-b', 0, 2, 150)) await b.write(batch);
    expect(a.durable).toEqual([]);
    await Promise.all([a.sink.flush!(), b.sink.flush!()]);
    a.close();
    b.close();

    expect(outcomes.slice(0, 2).sort()).toEqual(['committed', 'conflict']);
    expect(outcomes[2]).toBe('committed');
    expect(a.durable).toEqual([['shard-a', { sequenceNumber: '1299', subSequenceNumber: 0 }]]);
    expect(b.durable).toEqual([['shard-b', { sequenceNumber: '1299', subSequenceNumber: 0 }]]);

    const table = (await loadTable(ref()))!;
    const chain = ancestry(table.metadata);
    expect(chain).toHaveLength(2);
    expect(chain.map((s) => s.summary['shardflow.writer']).sort()).toEqual(['writer-a', 'writer-b']);
    expect(chain[0]!['sequence-number']).toBe(2);
    expect(chain[0]!.summary['total-records']).toBe('600');

    const rows = await icebirdRows();
    expect(rows).toHaveLength(600);
    const keys = new Set(rows.map((r) => `${r.shard_id}/${r.sequence_number}`));
    expect(keys.size).toBe(600);
    const row = rows.find((r) => r.shard_id === 'shard-a' && r.sequence_number === '1004')!;
    expect(row.temperature ?? (row.metrics as Record<string, string>).temperature).toBe('2');
    expect(row.product_id).toBe('thermo');
  });

  it('replay after a restart adds no rows and marks the replayed positions durable at once', async () => {
    const again = await openSink('writer-a-restarted');
    for (const batch of batches('shard-a', 0, 3, 100)) await again.write(batch);
    await again.sink.flush!();
    again.close();
    expect(again.durable.map(([s, p]) => `${s}@${p.sequenceNumber}`)).toEqual([
      'shard-a@1099',
      'shard-a@1199',
      'shard-a@1299',
    ]);
    expect(ancestry((await loadTable(ref()))!.metadata)).toHaveLength(2);
    expect(await icebirdRows()).toHaveLength(600);
  });

  it('a crash between data write and swap leaves orphans that maintain removes; the replay commits once', async () => {
    const crashing: Catalog = {
      load: (t) => catalog.load(t),
      create: (t, l) => catalog.create(t, l),
      compareAndSwap: () => Promise.reject(new Error('worker killed before the swap')),
    };
    const doomed = await openSink('writer-c', crashing);
    for (const batch of batches('shard-c', 0, 2, 50)) await doomed.write(batch);
    await expect(doomed.sink.flush!()).rejects.toThrow(/killed/);
    doomed.close();
    expect(doomed.durable).toEqual([]);
    const before = await currentDataFiles();

    const restarted = await openSink('writer-c2');
    for (const batch of batches('shard-c', 0, 2, 50)) await restarted.write(batch);
    await restarted.sink.flush!();
    restarted.close();
    expect(await icebirdRows()).toHaveLength(700);

    const committed = new Set((await currentDataFiles()).map((l) => keyOf(files, l)));
    const swept = await removeOrphans(ref(), Date.now() + 1_000);
    const orphanData = swept.deleted.filter((k) => k.includes('/data/'));
    expect(orphanData.length).toBeGreaterThan(0);
    for (const k of swept.deleted) expect(committed.has(k)).toBe(false);
    expect(swept.deleted.some((k) => k.endsWith('.metadata.json'))).toBe(true);
    expect(before.length).toBeLessThan(committed.size);
    expect(await icebirdRows()).toHaveLength(700);
  });

  it('a swap whose answer is lost is found committed on the retry, adding nothing twice', async () => {
    // Applies the swap, then fails as a connection dropped before the answer would (a fault a real
    // server cannot be made to produce on demand).
    let lose = true;
    const lossy: Catalog = {
      load: (t) => catalog.load(t),
      create: (t, l) => catalog.create(t, l),
      async compareAndSwap(t, o, n) {
        const outcome = await catalog.compareAndSwap(t, o, n);
        if (lose) {
          lose = false;
          throw new Error('read ECONNRESET');
        }
        return outcome;
      },
    };
    const sink = await openSink('writer-e', lossy);
    for (const batch of batches('shard-e', 0, 1, 20)) await sink.write(batch);
    await expect(sink.sink.flush!()).rejects.toThrow(/ECONNRESET/);
    expect(sink.durable).toEqual([]);
    await sink.sink.flush!();
    sink.close();
    expect(sink.durable).toEqual([['shard-e', { sequenceNumber: '1019', subSequenceNumber: 0 }]]);
    const rows = await icebirdRows();
    expect(rows.filter((r) => r.shard_id === 'shard-e')).toHaveLength(20);
    expect(rows).toHaveLength(720);
  });

  it('maintain merges manifests and expires snapshots, keeping the shards’ markers', async () => {
    const merge = await mergeManifests(ref(), 8 << 20, 2);
    expect(merge.merged).toBe(4);
    const table = (await loadTable(ref()))!;
    const head = currentSnapshot(table.metadata)!;
    expect(head.summary.operation).toBe('replace');
    const list = await readManifestList(await readLocation(files, head['manifest-list']));
    expect(list).toHaveLength(1);
    const { entries } = await readManifest(list[0]!, await readLocation(files, list[0]!.manifestPath));
    expect(entries.every((e) => e.status === 0 && e.sequenceNumber !== undefined)).toBe(true);
    expect(new Set(entries.map((e) => e.sequenceNumber))).toEqual(new Set([1, 2, 3, 4]));
    expect(await icebirdRows()).toHaveLength(720);

    const later = await openSink('writer-b');
    for (const batch of batches('shard-b', 300, 1, 50)) await later.write(batch);
    await later.sink.flush!();
    later.close();

    const before = (await loadTable(ref()))!.metadata;
    const expired = await expireSnapshots(ref(), Date.now() + 1_000);
    const after = (await loadTable(ref()))!.metadata;
    // Every shard's committed position is still held by a kept snapshot; the merge, writer-b's
    // first append and others whose markers are superseded are gone.
    expect(committedPositions(after).positions).toEqual(committedPositions(before).positions);
    expect(committedPositions(after).positions.get('shard-b')?.sequenceNumber).toBe('1349');
    expect(after['current-snapshot-id']).toBe(before['current-snapshot-id']);
    expect(after.snapshots.length).toBeLessThan(before.snapshots.length);
    expect(after.snapshots.some((s) => s.summary.operation === 'replace')).toBe(false);
    expect(expired.expired).toBe(before.snapshots.length - after.snapshots.length);
    expect(expired.deletedFiles).toBeGreaterThanOrEqual(2);
    expect(await icebirdRows()).toHaveLength(770);

    const resumed = await openSink('writer-d');
    for (const batch of batches('shard-c', 0, 2, 50)) await resumed.write(batch);
    await resumed.sink.flush!();
    resumed.close();
    expect(resumed.durable).toHaveLength(2);
    expect(await icebirdRows()).toHaveLength(770);
  });

  it('DuckDB over the current snapshot’s files agrees on count and sum', async () => {
    const paths = (await currentDataFiles()).map((l) => join(dir, keyOf(files, l)));
    const duck = await DuckDBInstance.create(':memory:');
    const conn = await duck.connect();
    const list = paths.map((p) => `'${p}'`).join(', ');
    const reader = await conn.runAndReadAll(
      `SELECT count(*)::INTEGER AS n, count(DISTINCT shard_id || sequence_number)::INTEGER AS d,
              sum(CAST(metrics['temperature'] AS DOUBLE)) AS s FROM read_parquet([${list}])`,
    );
    const [n, d, s] = reader.getRows()[0]!;
    expect(n).toBe(770);
    expect(d).toBe(770);
    // shard-a 0..299, shard-b 0..349, shard-c 0..99, shard-e 0..19; temperature = seq / 2
    expect(s).toBe((299 * 300) / 4 + (349 * 350) / 4 + (99 * 100) / 4 + (19 * 20) / 4);
    conn.closeSync();
  });
});

describe('a shard moving between writers', () => {
  // Worker A buffers shard-m's records, then loses the shard's lease; worker B takes the shard,
  // resumes from its last durable position (nothing yet) and reads the same records again. Whatever
  // the order of their commits, the table must hold each record of shard-m once.
  const moving = (table: string, writerId: string, over: Catalog = catalog) =>
    openSink(writerId, over, { table }, tableFiles(table));

  async function expectEachOnce(table: string, expected: Record<string, number>) {
    const rows = await icebirdRows(table);
    const keys = rows.map((r) => `${r.shard_id}/${r.sequence_number}`);
    const want = Object.entries(expected).flatMap(([shard, n]) =>
      Array.from({ length: n }, (_, i) => `${shard}/${1000 + i}`),
    );
    expect(keys.length).toBe(want.length);
    expect(new Set(keys)).toEqual(new Set(want));
  }

  async function expectNoOrphans(table: string) {
    const swept = await removeOrphans(ref(table), Date.now() + 60_000);
    expect(swept.deleted).toEqual([]);
  }

  const summaries = async (table: string) =>
    ancestry((await loadTable(ref(table)))!.metadata)
      .reverse()
      .map((s) => `${s.summary['shardflow.writer']}:${s.summary['added-records']}`);

  it('the old owner committing after the new one drops its copies of the shard’s records', async () => {
    const a = await moving('move_late', 'a');
    for (const batch of batches('shard-m', 0, 3, 100)) await a.write(batch);
    for (const batch of batches('shard-n', 0, 1, 50)) await a.write(batch);
    const b = await moving('move_late', 'b');
    for (const batch of batches('shard-m', 0, 5, 100)) await b.write(batch);
    await b.sink.flush!();
    await a.sink.flush!();
    a.close();
    b.close();

    await expectEachOnce('move_late', { 'shard-m': 500, 'shard-n': 50 });
    expect(await summaries('move_late')).toEqual(['b:500', 'a:50']);
    // shard-m's records up to 1299 are committed (by b), so a may say so.
    expect(a.durable.map(([s, p]) => `${s}@${p.sequenceNumber}`).sort()).toEqual([
      'shard-m@1299',
      'shard-n@1049',
    ]);
    const positions = committedPositions((await loadTable(ref('move_late')))!.metadata).positions;
    expect(positions.get('shard-m')?.sequenceNumber).toBe('1499');
    await expectNoOrphans('move_late');
  });

  it('the new owner committing after the old one commits only the records beyond it', async () => {
    const a = await moving('move_early', 'a');
    for (const batch of batches('shard-m', 0, 3, 100)) await a.write(batch);
    const b = await moving('move_early', 'b');
    for (const batch of batches('shard-m', 0, 5, 100)) await b.write(batch);
    await a.sink.flush!();
    await b.sink.flush!();
    a.close();
    b.close();

    await expectEachOnce('move_early', { 'shard-m': 500 });
    expect(await summaries('move_early')).toEqual(['a:300', 'b:200']);
    expect(b.durable).toEqual([['shard-m', { sequenceNumber: '1499', subSequenceNumber: 0 }]]);
    await expectNoOrphans('move_early');
  });

  it('an old owner whose every record the new owner committed makes no commit', async () => {
    const a = await moving('move_all', 'a');
    for (const batch of batches('shard-m', 0, 2, 100)) await a.write(batch);
    const b = await moving('move_all', 'b');
    for (const batch of batches('shard-m', 0, 3, 100)) await b.write(batch);
    await b.sink.flush!();
    await a.sink.flush!();
    a.close();
    b.close();

    await expectEachOnce('move_all', { 'shard-m': 300 });
    expect(await summaries('move_all')).toEqual(['b:300']);
    expect(a.durable).toEqual([['shard-m', { sequenceNumber: '1199', subSequenceNumber: 0 }]]);
    await expectNoOrphans('move_all');
  });

  it('an append retried after losing the swap to the other owner re-checks the shard’s position', async () => {
    // Both writers load the same metadata before either swaps, so one swap fails and that writer
    // re-applies its append on top of the other's commit of the same shard.
    let waiting = 0;
    let release!: () => void;
    const bothLoaded = new Promise<void>((r) => {
      release = r;
    });
    const outcomes: string[] = [];
    const racing: Catalog = {
      load: (t) => catalog.load(t),
      create: (t, l) => catalog.create(t, l),
      async compareAndSwap(t, o, n) {
        if (outcomes.length < 2) {
          waiting++;
          if (waiting === 2) release();
          await bothLoaded;
        }
        const outcome = await catalog.compareAndSwap(t, o, n);
        outcomes.push(outcome);
        return outcome;
      },
    };
    const a = await moving('move_race', 'a', racing);
    for (const batch of batches('shard-m', 0, 3, 100)) await a.write(batch);
    for (const batch of batches('shard-n', 0, 1, 50)) await a.write(batch);
    const b = await moving('move_race', 'b', racing);
    for (const batch of batches('shard-m', 0, 5, 100)) await b.write(batch);
    await Promise.all([a.sink.flush!(), b.sink.flush!()]);
    a.close();
    b.close();

    // the two racing swaps answer in either order (the loser's conflict may come back first); the
    // loser's retry comes after its conflict
    expect([...outcomes].sort()).toEqual(['committed', 'committed', 'conflict']);
    expect(outcomes.indexOf('conflict')).toBeLessThan(2);
    await expectEachOnce('move_race', { 'shard-m': 500, 'shard-n': 50 });
    const commits = await summaries('move_race');
    // Whoever won, the loser's second commit holds only what the winner did not.
    expect([
      ['a:350', 'b:200'],
      ['b:500', 'a:50'],
    ]).toContainEqual(commits);
    await expectNoOrphans('move_race');
  });
});
