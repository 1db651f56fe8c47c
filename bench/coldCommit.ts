/**
 * Commit latency of the Cold table: the time to append one data file (`appendFiles`, as the Cold sink
 * calls it: exactly-once markers in the summary and the per-shard position check) to a table that
 * already holds N data files, on a local-directory warehouse and the JDBC catalog in PostgreSQL. Two
 * shapes per N: `appends` (N one-file commits, what the sink leaves before maintenance: N snapshots,
 * N manifests) and `merged` (one manifest of N files, one snapshot: the table after `iceberg maintain`).
 * After each timed commit the catalog pointer is swapped back to the N-file metadata, so every commit
 * appends to the same table; that swap back is itself timed as the baseline (a bare catalog
 * compare-and-swap, one UPDATE), and a bare 1 KiB `put` of the store is timed beside it. Storage reads
 * and writes and catalog calls are counted per commit. Data files are not written (the commit never
 * reads them); their manifest entries carry a real file's statistics. Starts a throwaway PostgreSQL
 * cluster unless `--url` is given.
 *
 *   npx tsx bench/coldCommit.ts [--sizes 10,100,1000] [--commits N] [--warmup N] [--url URL]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startPostgres } from '../infra/local/postgres.ts';
import type { Catalog } from '../sinks/cold/catalog/catalog.ts';
import { jdbcCatalog } from '../sinks/cold/catalog/jdbcCatalog.ts';
import { checkpointSummary, checkStartsBeyond } from '../sinks/cold/iceberg/checkpoints.ts';
import { appendFiles, loadOrCreateTable, loadTable, type TableRef } from '../sinks/cold/iceberg/commit.ts';
import { dayOf } from '../sinks/cold/iceberg/partition.ts';
import type { TableFiles, TableStore } from '../sinks/cold/iceberg/tableFiles.ts';
import { coldFields, TELEMETRY_SPEC, telemetrySchema } from '../sinks/cold/iceberg/telemetryTable.ts';
import type { DataFile } from '../sinks/cold/iceberg/types.ts';
import { writeParquet } from '../sinks/cold/parquet/writer.ts';
import { localObjectStore } from '../sinks/cold/storage/localObjectStore.ts';
import { migrateWarm } from '../sinks/postgres/migrate.ts';
import { pgSqlClient } from '../sinks/postgres/sql.ts';
import { type Enriched, type Position, systemClock } from '../topology/index.ts';
import { writeLatestFigures } from './results.ts';
import { telemetryColumns } from './telemetryColumns.ts';

const { values } = parseArgs({
  options: {
    results: { type: 'boolean', default: false },
    sizes: { type: 'string', default: '10,100,1000' },
    commits: { type: 'string', default: '40' },
    warmup: { type: 'string', default: '5' },
    url: { type: 'string' },
  },
});
const SIZES = values.sizes.split(',').map(Number);
const COMMITS = Number(values.commits);
const WARMUP = Number(values.warmup);
const T0 = Date.UTC(2026, 10, 20, 8);
const SHARDS = 4;

/** Counts what passes through a store. */
function countingStore(inner: TableStore) {
  const c = { reads: 0, writes: 0, lists: 0, deletes: 0, bytesRead: 0, bytesWritten: 0 };
  const store: TableStore = {
    async put(key, bytes) {
      c.writes++;
      c.bytesWritten += bytes.byteLength;
      await inner.put(key, bytes);
    },
    async get(key) {
      c.reads++;
      const bytes = await inner.get(key);
      c.bytesRead += bytes.byteLength;
      return bytes;
    },
    list(prefix) {
      c.lists++;
      return inner.list(prefix);
    },
    async delete(keys) {
      c.deletes += keys.length;
      await inner.delete(keys);
    },
  };
  const reset = () => {
    for (const k of Object.keys(c) as (keyof typeof c)[]) c[k] = 0;
  };
  return { store, counts: c, reset };
}

/** Counts catalog calls. */
function countingCatalog(inner: Catalog) {
  const c = { calls: 0 };
  const counted =
    <A extends unknown[], R>(f: (...a: A) => R) =>
    (...a: A): R => {
      c.calls++;
      return f(...a);
    };
  const catalog: Catalog = {
    load: counted(inner.load),
    create: counted(inner.create),
    compareAndSwap: counted(inner.compareAndSwap),
  };
  return { catalog, counts: c };
}

function telemetry(n: number): Enriched[] {
  return Array.from({ length: n }, (_, i) => ({
    device_id: `dev-${i % 50}`,
    device_timestamp: T0 + i * 1000,
    productId: 'meter',
    metrics: { temperature: 20 + (i % 10), humidity: 40 + (i % 7), status: 'ok' },
    ingest_timestamp: T0 + i * 1000 + 300,
    site_id: 'site-1',
    customer_id: 'cust-1',
    rawRef: {
      protocol: 'mqtt',
      format: 'json',
      stream: 'telemetry',
      shardId: `shardId-00000000000${i % SHARDS}`,
      sequenceNumber: String(49_600_000_000_000_000_000n + BigInt(i)),
    },
  }));
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p95 = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)]!;
const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

interface Row {
  readonly shape: string;
  readonly files: number;
  readonly manifests: number;
  readonly snapshots: number;
  readonly metadataKiB: number;
  readonly commit: number[];
  readonly swap: number[];
  readonly put: number[];
  readonly perCommit: { reads: number; writes: number; kibRead: number; kibWritten: number; catalog: number };
}

async function main(): Promise<void> {
  const server = values.url === undefined ? await startPostgres() : undefined;
  const url = values.url ?? server!.url;
  const sql = pgSqlClient(new pg.Pool({ connectionString: url, max: 2 }));
  await migrateWarm(sql);
  const dir = mkdtempSync(join(tmpdir(), 'cold-commit-bench-'));
  const local = localObjectStore({ kind: 'local', directory: dir });
  const counting = countingStore(local);
  const cat = countingCatalog(jdbcCatalog(sql, { catalogName: `bench_${process.pid}` }));
  const schema = telemetrySchema([{ name: 'temperature', type: 'double' }]);
  const sample = telemetry(1000);
  const { stats } = writeParquet(coldFields(schema), telemetryColumns(sample, schema), {
    compression: 'zstd',
  });
  const partition = { device_timestamp_day: dayOf(T0), product_id: 'meter' };
  let fileNo = 0;
  const dataFile = (files: TableFiles): DataFile => ({
    filePath: `${files.location}/data/device_timestamp_day=${partition.device_timestamp_day}/product_id=meter/f${fileNo++}.parquet`,
    partition,
    stats,
  });
  const positions = new Map<string, Position>();
  let seq = 49_700_000_000_000_000_000n;
  /** One append as the sink makes it: markers for every shard, each shard's first position checked. */
  const sinkAppend = (ref: TableRef, files: DataFile[]) => {
    const firsts = new Map<string, Position>();
    for (let s = 0; s < SHARDS; s++) {
      const shard = `shardId-00000000000${s}`;
      firsts.set(shard, { sequenceNumber: String(++seq), subSequenceNumber: 0 });
      seq += 1000n;
      positions.set(shard, { sequenceNumber: String(seq), subSequenceNumber: 0 });
    }
    return appendFiles(ref, files, {
      summary: checkpointSummary('bench-writer', positions),
      precondition: (current) => checkStartsBeyond(current, firsts),
    });
  };

  const rows: Row[] = [];
  for (const size of SIZES) {
    for (const shape of ['appends', 'merged'] as const) {
      const name = `t_${shape}_${size}`;
      const files: TableFiles = {
        store: counting.store,
        prefix: `wh/${name}`,
        location: local.uri(`wh/${name}`),
      };
      const ref: TableRef = {
        id: { namespace: 'bench', name },
        catalog: cat.catalog,
        files,
        clock: systemClock,
      };
      await loadOrCreateTable(ref, schema, TELEMETRY_SPEC);
      const building = process.hrtime.bigint();
      if (shape === 'appends') for (let i = 0; i < size; i++) await sinkAppend(ref, [dataFile(files)]);
      else
        await sinkAppend(
          ref,
          Array.from({ length: size }, () => dataFile(files)),
        );
      const base = (await loadTable(ref))!;
      const metadataBytes = (
        await local.get(`${files.prefix}/${base.metadataLocation.slice(files.location.length + 1)}`)
      ).byteLength;
      console.error(`${name}: built in ${Math.round(ms(building))} ms`);

      const commit: number[] = [];
      const swap: number[] = [];
      const put: number[] = [];
      const totals = { reads: 0, writes: 0, bytesRead: 0, bytesWritten: 0, catalog: 0 };
      for (let i = 0; i < WARMUP + COMMITS; i++) {
        counting.reset();
        cat.counts.calls = 0;
        let start = process.hrtime.bigint();
        const result = await sinkAppend(ref, [dataFile(files)]);
        const commitMs = ms(start);
        const c = { ...counting.counts, catalog: cat.counts.calls };
        start = process.hrtime.bigint();
        const back = await cat.catalog.compareAndSwap(ref.id, result.metadataLocation, base.metadataLocation);
        const swapMs = ms(start);
        if (back !== 'committed') throw new Error('the swap back to the N-file table lost a race');
        start = process.hrtime.bigint();
        await local.put(`${files.prefix}/scratch/put-${i}`, new Uint8Array(1024));
        const putMs = ms(start);
        if (i < WARMUP) continue;
        commit.push(commitMs);
        swap.push(swapMs);
        put.push(putMs);
        totals.reads += c.reads;
        totals.writes += c.writes;
        totals.bytesRead += c.bytesRead;
        totals.bytesWritten += c.bytesWritten;
        totals.catalog += c.catalog;
      }
      rows.push({
        shape,
        files: size,
        manifests: shape === 'appends' ? size : 1,
        snapshots: shape === 'appends' ? size : 1,
        metadataKiB: metadataBytes / 1024,
        commit,
        swap,
        put,
        perCommit: {
          reads: totals.reads / COMMITS,
          writes: totals.writes / COMMITS,
          kibRead: totals.bytesRead / 1024 / COMMITS,
          kibWritten: totals.bytesWritten / 1024 / COMMITS,
          catalog: totals.catalog / COMMITS,
        },
      });
    }
  }

  const f1 = (x: number) => x.toFixed(1);
  console.log(
    `\nCold commit latency: one data file appended to a table of N files, local directory + JDBC catalog (PostgreSQL), ${cpus().length} cores (load average ${loadavg()[0]!.toFixed(1)}), ${COMMITS} commits per row after ${WARMUP} warm-up, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}`,
  );
  const table = [
    '| shape | data files | manifests / snapshots | metadata KiB | commit ms median | p95 | bare swap ms median | commit / swap | bare 1 KiB put ms median | storage reads / writes per commit | KiB read / written | catalog calls |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const pc = r.perCommit;
    table.push(
      `| ${r.shape} | ${r.files.toLocaleString('en')} | ${r.manifests} / ${r.snapshots} | ${f1(r.metadataKiB)} | ${f1(median(r.commit))} | ${f1(p95(r.commit))} | ${median(r.swap).toFixed(2)} | ${f1(median(r.commit) / median(r.swap))}× | ${median(r.put).toFixed(2)} | ${f1(pc.reads)} / ${f1(pc.writes)} | ${f1(pc.kibRead)} / ${f1(pc.kibWritten)} | ${f1(pc.catalog)} |`,
    );
  }
  console.log(`\n${table.join('\n')}`);
  if (values.results) {
    writeLatestFigures({
      name: 'cold-commit',
      heading: '## Cold commit latency (`npx tsx bench/coldCommit.ts`)',
      command: `npx tsx bench/coldCommit.ts --sizes ${values.sizes} --commits ${COMMITS} --warmup ${WARMUP} --results`,
      lines: [
        `One data file appended to a table of N files, local directory + JDBC catalog (PostgreSQL), ${COMMITS} commits per row after ${WARMUP} warm-up; baselines: a bare catalog swap and a bare 1 KiB put, interleaved.`,
        '',
        ...table,
      ],
    });
  }
  await sql.close();
  await local.close();
  rmSync(dir, { recursive: true, force: true });
  await server?.stop();
}

await main();
