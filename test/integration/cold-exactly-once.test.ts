/**
 * Issue 8's acceptance test: a million readings through `shardflow run` (child processes, leased
 * Kinesis source on kinesalite and dynalite, window state in Redis, Warm and Hot in PostgreSQL, the
 * Cold table in a local directory with its JDBC catalog in PostgreSQL), with the worker killed twice
 * in the middle of a Cold commit, then run to the end of the stream. The table must hold every
 * reading exactly once: DuckDB over the current snapshot's files and icebird (served over loopback
 * HTTP) agree with the generator on the count, a sum over a metric and a sum over the event times,
 * and no record key appears twice. `shardflow iceberg maintain` then lists and removes the files the
 * first killed commit left, and the table reads the same afterwards.
 *
 * The kills come from the commit path's test-only fault points (`SHARDFLOW_FAULT`, see
 * `sinks/cold/iceberg/faultPoint.ts`): a real process cannot otherwise be made to die between two
 * steps of a commit. The first run dies after writing a metadata file the catalog never points to;
 * the second dies after a swap, before the worker marked the shards durable, so Kinesis is replayed
 * from checkpoints behind what the table holds and the sink must skip what is already committed.
 *
 * Size: `SHARDFLOW_TEST_COLD_READINGS` (default 1,000,000; a multiple of 1,000).
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KinesisClient, PutRecordsCommandOutput } from '@aws-sdk/client-kinesis';
import { DuckDBInstance } from '@duckdb/node-api';
import { icebergRead } from 'icebird';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWorkerConfig } from '../../cli/config.ts';
import { loadDemoMasterData } from '../../cli/demoMasterData.ts';
import { kinesisProducer } from '../../gateways/kinesis/producer.ts';
import { simulatedFleet } from '../../gateways/simulator/fleet.ts';
import { jdbcCatalog } from '../../sinks/cold/catalog/jdbcCatalog.ts';
import { committedPositions, WRITER_KEY } from '../../sinks/cold/iceberg/checkpoints.ts';
import { loadTable, type TableRef } from '../../sinks/cold/iceberg/commit.ts';
import { readManifest, readManifestList } from '../../sinks/cold/iceberg/manifest.ts';
import { currentSnapshot, parseMetadata } from '../../sinks/cold/iceberg/metadata.ts';
import { keyOf, readLocation, type TableFiles } from '../../sinks/cold/iceberg/tableFiles.ts';
import { localObjectStore } from '../../sinks/cold/storage/localObjectStore.ts';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { pgSqlClient, type SqlClient } from '../../sinks/postgres/sql.ts';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { LeaseRefresher } from '../../sources/kinesis/leases/leaseRefresher.ts';
import { comparePositions, systemClock } from '../../topology/index.ts';
import { runCli, startCli } from '../support/cli.ts';
import { testDynamoClient, uniqueTable } from '../support/dynamodb.ts';
import { type FileServer, serveDirectory } from '../support/fileServer.ts';
import { createStream, uniqueStream } from '../support/kinesis.ts';
import { createTestDatabase, type TestDatabase, testPool } from '../support/postgres.ts';
import { testEnv, waitFor } from '../support/wait.ts';

const READINGS = Number(process.env.SHARDFLOW_TEST_COLD_READINGS ?? 1_000_000);
const DEVICES = 1_000;
const ROUNDS = READINGS / DEVICES;
const SHARDS = 3;
/** Readings between two reports of one device: more than the fleet's largest device lag (2 s). */
const ROUND_MS = 3_000;
const PUT_ROUNDS = 20;
const TEST_TIMEOUT_MS = 20 * 60_000;
const RUN_TIMEOUT_MS = 10 * 60_000;
const TABLE = { namespace: 'iot', name: 'telemetry' };

/** What the generator put on the stream. */
interface Produced {
  readings: number;
  /** Sum of `power` over the meter readings (whole watts, so the sum is exact in a double). */
  power: number;
  meterReadings: number;
  /** Sum of the readings' event times (epoch ms). */
  timestamps: bigint;
  /** Per shard, the sequence number of the last Kinesis record put. */
  ends: Map<string, string>;
  kinesisRecords: number;
}

/** One `shardflow run` process, its logs going to a file. */
interface WorkerRun {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  tail(): string;
  /** The admin server's URL, once the worker logged it. */
  adminUrl(): string | undefined;
}

function startWorker(configFile: string, logFile: string, env: Record<string, string>): WorkerRun {
  // `exitOf` stops a run that outlives its budget; the helper's own limit is only a backstop
  const { child, exited } = startCli(['run', '--config', configFile], env, TEST_TIMEOUT_MS);
  const log = createWriteStream(logFile, { flags: 'a' });
  let tail = '';
  let adminUrl: string | undefined;
  const keep = (d: Buffer) => {
    log.write(d);
    tail = (tail + d.toString()).slice(-4000);
    adminUrl ??= /"url":"([^"]+)","msg":"admin server listening"/.exec(tail)?.[1];
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return {
    child,
    exited: exited.finally(() => log.end()).then(({ code, signal }) => ({ code, signal })),
    tail: () => tail,
    adminUrl: () => adminUrl,
  };
}

/**
 * Waits for the process to exit; kills it and fails when it outlives `timeoutMs`, or as soon as
 * `hopeless()` says it never will (checked every second).
 */
async function exitOf(run: WorkerRun, timeoutMs: number, hopeless?: () => Promise<string | undefined>) {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const fail = (why: string) => {
    run.child.kill('SIGKILL');
    return new Error(`${why}; last output:\n${run.tail()}`);
  };
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(fail(`worker still running after ${timeoutMs} ms`)), timeoutMs);
  });
  const watch = new Promise<never>((_, reject) => {
    if (!hopeless) return;
    void (async () => {
      while (!stopped) {
        await new Promise((r) => setTimeout(r, 1_000));
        const why = stopped ? undefined : await hopeless().catch(() => undefined);
        if (why) return reject(fail(why));
      }
    })();
  });
  try {
    return await Promise.race([run.exited, timeout, watch]);
  } finally {
    stopped = true;
    clearTimeout(timer);
  }
}

/** Records, per shard, the highest sequence number PutRecords returned. */
function observeEnds(client: KinesisClient, ends: Map<string, string>, counted: { records: number }) {
  client.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      const out = result.output as Partial<PutRecordsCommandOutput>;
      for (const r of out.Records ?? []) {
        if (r.ShardId === undefined || r.SequenceNumber === undefined) continue;
        counted.records++;
        const seen = ends.get(r.ShardId);
        const p = { sequenceNumber: r.SequenceNumber, subSequenceNumber: 0 };
        if (!seen || comparePositions({ sequenceNumber: seen, subSequenceNumber: 0 }, p) < 0) {
          ends.set(r.ShardId, r.SequenceNumber);
        }
      }
      return result;
    },
    { step: 'initialize', name: 'observePutRecordsEnds' },
  );
}

/**
 * Puts READINGS readings of `fleet` (DEVICES devices × ROUNDS rounds), KPL-aggregated, summing into
 * `produced` what it put as it goes.
 */
async function produce(
  client: KinesisClient,
  streamName: string,
  fleet: ReturnType<typeof simulatedFleet>,
  t0: number,
  produced: Produced,
): Promise<void> {
  const counted = { records: 0 };
  observeEnds(client, produced.ends, counted);
  const producer = kinesisProducer({
    client,
    clock: systemClock,
    streamName,
    aggregation: { maxBytes: 50_000 },
  });
  for (let round = 0; round < ROUNDS; round += PUT_ROUNDS) {
    const envelopes = [];
    for (let r = round; r < Math.min(ROUNDS, round + PUT_ROUNDS); r++) {
      envelopes.push(...fleet.batch(t0 + r * ROUND_MS, DEVICES));
    }
    for (const e of envelopes) {
      const body = JSON.parse(e.payload) as { ts: number; metrics: { power?: number } };
      produced.timestamps += BigInt(body.ts);
      if (body.metrics.power !== undefined) {
        produced.power += body.metrics.power;
        produced.meterReadings++;
      }
    }
    produced.readings += await producer.put(envelopes);
  }
  produced.kinesisRecords = counted.records;
}

let db: TestDatabase;
let sql: SqlClient;
let warehouse: string;
let server: FileServer;
let files: TableFiles;
let ref: TableRef;
let kinesis: KinesisClient;

/** The current snapshot's data files (local paths), read with shardflow's manifest reader. */
async function currentDataFiles(): Promise<string[]> {
  const table = (await loadTable(ref))!;
  const snapshot = currentSnapshot(table.metadata)!;
  const out: string[] = [];
  for (const m of await readManifestList(await readLocation(files, snapshot['manifest-list']))) {
    const { entries } = await readManifest(m, await readLocation(files, m.manifestPath));
    for (const e of entries) if (e.status !== 2) out.push(join(warehouse, keyOf(files, e.dataFile.filePath)));
  }
  return out;
}

/** Count, sums and duplicate keys over the current snapshot, by DuckDB. */
async function duckdbTotals() {
  const paths = await currentDataFiles();
  const duck = await DuckDBInstance.create(':memory:');
  const conn = await duck.connect();
  try {
    const list = `read_parquet([${paths.map((p) => `'${p}'`).join(', ')}])`;
    const totals = await conn.runAndReadAll(
      `SELECT count(*)::BIGINT AS n,
              count(power)::BIGINT AS meters,
              sum(power)::DOUBLE AS power,
              sum(epoch_ms(device_timestamp)::HUGEINT)::VARCHAR AS timestamps,
              count(DISTINCT (device_id, device_timestamp))::BIGINT AS readings
       FROM ${list}`,
    );
    const [n, meters, power, timestamps, readings] = totals.getRows()[0]!;
    const duplicates = await conn.runAndReadAll(
      `SELECT device_id, device_timestamp, shard_id, sequence_number, sub_sequence_number, count(*)::BIGINT AS copies
       FROM ${list}
       GROUP BY ALL HAVING count(*) > 1 ORDER BY copies DESC LIMIT 5`,
    );
    return {
      totals: {
        count: Number(n),
        meterReadings: Number(meters),
        power: Number(power),
        timestamps: BigInt(timestamps as string),
      },
      files: paths.length,
      distinctReadings: Number(readings),
      duplicates: duplicates.getRowObjectsJson(),
    };
  } finally {
    conn.closeSync();
    duck.closeSync();
  }
}

/** Count and sums over the table as icebird reads it over HTTP, in slices to bound memory. */
async function icebirdTotals() {
  const table = (await loadTable(ref))!;
  const metadataFileName = table.metadataLocation.slice(table.metadataLocation.lastIndexOf('/') + 1);
  const totals = { count: 0, power: 0, meterReadings: 0, timestamps: 0n };
  const slice = 100_000;
  for (let start = 0; ; start += slice) {
    const rows = await icebergRead({
      tableUrl: files.location,
      metadataFileName,
      rowStart: start,
      rowEnd: start + slice,
    });
    for (const row of rows) {
      totals.count++;
      const ts = row.device_timestamp;
      totals.timestamps += ts instanceof Date ? BigInt(ts.getTime()) : BigInt(ts as bigint) / 1000n;
      if (row.power !== null && row.power !== undefined) {
        totals.power += Number(row.power);
        totals.meterReadings++;
      }
    }
    if (rows.length < slice) return totals;
  }
}

/** Seconds spent in each node's batches (summed over shards), from the worker's /metrics: the busiest first. */
async function busiestNodes(adminUrl: string | undefined): Promise<Record<string, number>> {
  if (!adminUrl) return {};
  const text = await (await fetch(new URL('metrics', adminUrl))).text();
  const seconds = [...text.matchAll(/^shardflow_node_batch_latency_ms_sum\{node="([^"]+)"[^}]*\} (\S+)$/gm)]
    .map(([, node, ms]) => [node!, Math.round(Number(ms) / 100) / 10] as const)
    .sort((a, b) => b[1] - a[1]);
  return Object.fromEntries(seconds.slice(0, 8));
}

/** Metadata files in the table's folder that neither the catalog's pointer nor its log names. */
async function unreferencedMetadataFiles(): Promise<string[]> {
  const table = (await loadTable(ref))!;
  const named = new Set([
    table.metadataLocation,
    ...table.metadata['metadata-log'].map((e) => e['metadata-file']),
  ]);
  return readdirSync(join(warehouse, files.prefix, 'metadata'))
    .filter((f) => f.endsWith('.metadata.json'))
    .map((f) => `${files.location}/metadata/${f}`)
    .filter((l) => !named.has(l));
}

/** Every file the commit that wrote metadata file `location` made: it, its manifest list, manifest, data. */
async function filesOfCommit(location: string): Promise<string[]> {
  const meta = parseMetadata(Buffer.from(await readLocation(files, location)).toString('utf8'));
  const snapshot = currentSnapshot(meta)!;
  const [added] = await readManifestList(await readLocation(files, snapshot['manifest-list']));
  const { entries } = await readManifest(added!, await readLocation(files, added!.manifestPath));
  return [
    location,
    snapshot['manifest-list'],
    added!.manifestPath,
    ...entries.map((e) => e.dataFile.filePath),
  ]
    .map((l) => keyOf(files, l))
    .sort();
}

const positionsNow = async () => committedPositions((await loadTable(ref))!.metadata).positions;

beforeAll(async () => {
  db = await createTestDatabase('cold_once');
  const pool = testPool(db.url, 2);
  sql = pgSqlClient(pool);
  await migrateWarm(sql);
  warehouse = mkdtempSync(join(tmpdir(), 'shardflow-cold-once-'));
  server = await serveDirectory(warehouse);
  files = {
    store: localObjectStore({ kind: 'local', directory: warehouse }),
    location: `${server.url}/${TABLE.namespace}/${TABLE.name}`,
    prefix: `${TABLE.namespace}/${TABLE.name}`,
  };
  ref = { id: TABLE, catalog: jdbcCatalog(sql, { catalogName: 'shardflow' }), files, clock: systemClock };
  kinesis = createKinesisClient({
    region: 'us-east-1',
    endpoint: testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT'),
  });
});

afterAll(async () => {
  kinesis?.destroy();
  await server?.close();
  await sql?.close();
  await db?.drop();
  if (warehouse && !process.env.SHARDFLOW_TEST_KEEP_WAREHOUSE)
    await rm(warehouse, { recursive: true, force: true });
});

describe('the Cold table after workers killed mid-commit', () => {
  it(
    `holds each of ${READINGS.toLocaleString('en')} readings exactly once`,
    async () => {
      expect(Number.isInteger(ROUNDS)).toBe(true);
      const phases: Record<string, number> = {};
      let phaseStart = Date.now();
      const phase = (name: string) => {
        phases[name] = Date.now() - phaseStart;
        phaseStart = Date.now();
      };

      const streamName = uniqueStream('cold-once');
      await createStream(kinesis, streamName, SHARDS);
      const t0 = Math.floor(Date.now() / 1000) * 1000 - ROUNDS * ROUND_MS - 60_000;
      const fleet = simulatedFleet({ devices: DEVICES, seed: 8 });
      await loadDemoMasterData(sql, fleet.devices, Date.now());
      // The whole stream is put before the first worker starts: on two shared cores, a producer
      // running beside the workers took four times as long and made the test slower overall.
      const produced: Produced = {
        readings: 0,
        power: 0,
        meterReadings: 0,
        timestamps: 0n,
        ends: new Map(),
        kinesisRecords: 0,
      };
      await produce(kinesis, streamName, fleet, t0, produced);
      expect(produced.readings).toBe(READINGS);
      expect(produced.ends.size).toBe(SHARDS);
      phase('produce');

      const leaseTable = uniqueTable('cold-once');
      const raw = {
        source: {
          kinesis: {
            streamName,
            region: 'us-east-1',
            endpoint: testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT'),
            idleTimeBetweenReadsMs: 20,
            maxIdleTimeMs: 200,
            // Pages of a few aggregates (up to about 4,000 readings, set per run below): many commits
            // per run, so the armed commit comes while most of the stream is still to be read.
            maxRecords: 20,
          },
          leases: {
            tableName: leaseTable,
            endpoint: testEnv('SHARDFLOW_TEST_DYNAMODB_ENDPOINT'),
            failoverTimeMs: 3_000,
            renewIntervalMs: 1_000,
            takeIntervalMs: 500,
          },
        },
        state: {
          backend: 'redis',
          redisUrl: testEnv('SHARDFLOW_TEST_REDIS_URL'),
          namespace: `it-cold-once-${randomUUID().slice(0, 8)}`,
        },
        warm: { writeUrl: db.url },
        cold: {
          storage: { kind: 'local', directory: warehouse },
          location: files.location,
          sink: {
            commitIntervalMs: 5_000,
            targetRows: Math.max(1_000, READINGS / 20),
            commitBackoffMs: 50,
            metricColumns: [
              { name: 'temperature', type: 'double' },
              { name: 'power', type: 'double' },
            ],
          },
        },
        runtime: { checkpointIntervalMs: 500 },
        admin: { enabled: false },
        log: { level: 'info' },
      };
      parseWorkerConfig(raw, {}); // fails here, with the key named, rather than in the child
      const configFile = join(warehouse, 'shardflow.yaml');
      writeFileSync(configFile, JSON.stringify(raw, null, 2)); // JSON is YAML
      const logFile = join(warehouse, 'workers.log');
      // Each run reads pages of a different size, so a replay's pages end at other records than the
      // pages committed before the kill (as after any restart where the reader had been at the tip).
      const run = (writerId: string, maxRecords: number, fault?: string) =>
        startWorker(configFile, logFile, {
          ...(fault ? {} : { SHARDFLOW_ADMIN__ENABLED: 'true', SHARDFLOW_ADMIN__PORT: '0' }),
          SHARDFLOW_COLD__SINK__WRITER_ID: writerId,
          SHARDFLOW_SOURCE__LEASES__WORKER_ID: writerId,
          SHARDFLOW_SOURCE__KINESIS__MAX_RECORDS: String(maxRecords),
          ...(fault ? { SHARDFLOW_FAULT: fault } : {}),
        });
      const atEnd = async () => {
        const positions = await positionsNow();
        return [...produced.ends].every(([shard, end]) => positions.get(shard)?.sequenceNumber === end);
      };
      const neverKilled = async () =>
        (await atEnd()) ? 'the whole stream was committed before the armed commit' : undefined;
      const writers = (meta: Awaited<ReturnType<typeof loadTable>>) =>
        meta!.metadata.snapshots.map((s) => s.summary[WRITER_KEY]);

      // Run 1 dies at its third commit, with the new metadata file written and the catalog not swapped.
      const first = run('run-1', 20, 'iceberg-commit-after-metadata:3');
      expect(await exitOf(first, RUN_TIMEOUT_MS, neverKilled), first.tail()).toEqual({
        code: null,
        signal: 'SIGKILL',
      });
      const afterFirst = await loadTable(ref);
      expect(writers(afterFirst)).toEqual(['run-1', 'run-1']);
      const stray = await unreferencedMetadataFiles();
      expect(stray).toHaveLength(1);
      const leftByKill = await filesOfCommit(stray[0]!);
      phase('run 1 (killed after metadata)');

      // Run 2 dies right after its second swap: the table holds positions Kinesis was never told of.
      const second = run('run-2', 13, 'iceberg-commit-after-swap:2');
      expect(await exitOf(second, RUN_TIMEOUT_MS, neverKilled), second.tail()).toEqual({
        code: null,
        signal: 'SIGKILL',
      });
      const afterSecond = await loadTable(ref);
      expect(writers(afterSecond)).toEqual(['run-1', 'run-1', 'run-2', 'run-2']);
      expect(await unreferencedMetadataFiles()).toEqual(stray);
      const inTable = committedPositions(afterSecond!.metadata).positions;
      const leases = await new LeaseRefresher(testDynamoClient(), leaseTable).listLeases();
      const behind = leases.filter((lease) => {
        const held = inTable.get(lease.leaseKey);
        if (!held) return false;
        if (!('position' in lease.checkpoint)) return true;
        return comparePositions(lease.checkpoint.position, held) < 0;
      });
      expect(behind.length, 'a shard whose Kinesis checkpoint trails the table').toBeGreaterThan(0);
      phase('run 2 (killed after swap)');

      // Run 3 has no fault: it runs until every shard's position in the table is the stream's end.
      const third = run('run-3', 7);
      let exitedEarly: unknown;
      third.exited.then((e) => {
        exitedEarly = e;
      });
      await waitFor(
        'every shard committed to its end',
        async () => {
          if (exitedEarly) throw new Error(`run 3 exited: ${JSON.stringify(exitedEarly)}\n${third.tail()}`);
          await new Promise((r) => setTimeout(r, 500));
          return atEnd();
        },
        RUN_TIMEOUT_MS,
      );
      // Where run 3's time went (printed with the phase durations; not asserted).
      const nodeSeconds = await busiestNodes(third.adminUrl()).catch(() => ({}));
      third.child.kill('SIGTERM');
      expect(await exitOf(third, 120_000), third.tail()).toEqual({ code: 0, signal: null });
      phase('run 3 (to the end)');

      const expected = {
        count: READINGS,
        meterReadings: produced.meterReadings,
        power: produced.power,
        timestamps: produced.timestamps,
      };
      const duck = await duckdbTotals();
      expect(duck.duplicates).toEqual([]);
      expect(duck.totals).toEqual(expected);
      expect(duck.distinctReadings).toBe(READINGS);
      phase('duckdb');
      expect(await icebirdTotals()).toEqual(expected);
      phase('icebird');

      // Maintenance merges the manifests (a replace snapshot of EXISTING entries), keeps every
      // snapshot (all younger than the retention) and removes exactly the files of the killed commit.
      const maintained = await runCli([
        'iceberg',
        'maintain',
        '--config',
        configFile,
        '--orphan-age',
        '0s',
        '--min-manifests',
        '2',
      ]);
      expect(maintained.stderr).toBe('');
      expect(maintained.code).toBe(0);
      expect(maintained.stdout).toMatch(/^merged \d+ manifests into one/m);
      const removed = maintained.stdout
        .split('\n')
        .filter((l) => l.startsWith('  '))
        .map((l) => l.trim())
        .sort();
      expect(removed).toEqual(leftByKill);
      expect(await unreferencedMetadataFiles()).toEqual([]);
      const afterMaintenance = await duckdbTotals();
      expect(afterMaintenance.duplicates).toEqual([]);
      expect(afterMaintenance.totals).toEqual(expected);
      expect(await icebirdTotals()).toEqual(expected);
      const kept = [...(await positionsNow())].map(([shard, p]) => [shard, p.sequenceNumber]);
      expect(kept.sort()).toEqual([...produced.ends].sort());
      phase('maintain');

      console.log(
        JSON.stringify({
          readings: READINGS,
          kinesisRecords: produced.kinesisRecords,
          dataFiles: duck.files,
          snapshots: (await loadTable(ref))!.metadata.snapshots.length,
          phasesMs: phases,
          run3NodeSeconds: nodeSeconds,
        }),
      );
    },
    TEST_TIMEOUT_MS,
  );
});
