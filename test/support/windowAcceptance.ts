/**
 * One run of the window acceptance workload through real `shardflow run` processes: kinesalite (KPL
 * aggregates), leases in dynalite, window state in Redis, Hot and Warm in a fresh PostgreSQL database.
 * The test decides what happens to the workers while the run goes on (`during`), then reads back what
 * the stores hold and compares it with the brute force.
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type pg from 'pg';
import { expect } from 'vitest';
import type { WorkerConfigInput } from '../../cli/config.ts';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { redisStateStore } from '../../state/keyed/redisStateStore.ts';
import type { Position, ShardWatermark } from '../../topology/index.ts';
import { uniqueTable } from './dynamodb.ts';
import { createStream, uniqueStream } from './kinesis.ts';
import { createTestDatabase, hotPositions, type TestDatabase, testPool } from './postgres.ts';
import { testEnv, waitFor } from './wait.ts';
import {
  type ComparisonReport,
  compareStoredAggregates,
  HOUR,
  loadMasterData,
  putReadings,
  putTicks,
  REFERENCE_WINDOWS,
  type Reading,
  type ReferenceWorkload,
  tickKeys,
  writeReferenceSpecs,
} from './windowReference.ts';
import { type WorkerFleet, workerFleet } from './workerProcesses.ts';

/** Appends a progress line to the file named by WINDOW_REFERENCE_LOG (runs take minutes). */
export function progress(message: string, detail: unknown = {}): void {
  const file = process.env.WINDOW_REFERENCE_LOG;
  if (file) appendFileSync(file, `${new Date().toISOString()} ${message} ${JSON.stringify(detail)}\n`);
}

/** What a run gives the test while it goes on. */
export interface RunControl {
  readonly fleet: WorkerFleet;
  /**
   * Every shard's watermark of the window node as published with its last snapshot (Redis), and the
   * global watermark they give (`globalWatermark`).
   */
  watermarks(): Promise<{ global: number; shards: readonly ShardWatermark[] }>;
  /**
   * Each shard's highest position whose records reached the Hot store: what the shard's worker has
   * processed (and emitted) so far, checkpointed or not.
   */
  processed(): Promise<Map<string, Position>>;
  /** Resolves once the global watermark passed `share` of the workload's event time. */
  progressed(share: number, timeoutMs?: number): Promise<void>;
}

/** What a finished run left in the stores. */
export interface RunResult {
  readonly comparison: ComparisonReport;
  /** Readings the Hot telemetry holds (ticks excluded). */
  readonly hotTelemetry: number;
  /** Items of the `too-late` dead letters (`device@eventTime`). */
  readonly tooLate: readonly string[];
  /** Dead letters of any other node or code: `node code: reason` (the first ten) and how many. */
  readonly otherDeadLetters: number;
  readonly otherDeadLetterSamples: readonly string[];
  readonly produced: number;
  /** How each worker process exited: 0 when stopped, null when killed, otherwise it failed. */
  readonly exits: Readonly<Record<string, number | null>>;
  readonly seconds: { produce: number; run: number; compare: number };
}

/** Runs the workload through `workers` initial worker processes; `during` runs alongside. */
export async function runWindowWorkload(options: {
  readonly label: string;
  readonly workload: ReferenceWorkload;
  readonly shards: number;
  readonly workers: readonly string[];
  readonly during?: (run: RunControl) => Promise<void>;
  readonly timeoutMs: number;
  /**
   * Kinesis records per GetRecords and bytes per KPL aggregate: together they bound a batch, whose
   * readings are classified against the watermark from before it, so a batch must span well under
   * the 14 h the too-late readings leave.
   */
  readonly batching: { readonly maxRecords: number; readonly aggregateBytes: number };
}): Promise<RunResult> {
  const { workload } = options;
  const endpoint = testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT');
  const kinesis: KinesisClient = createKinesisClient({ region: 'us-east-1', endpoint });
  const stream = uniqueStream(options.label);
  const name = `${options.label}-${randomUUID().slice(0, 8)}`;
  const redisUrl = testEnv('SHARDFLOW_TEST_REDIS_URL');
  let db: TestDatabase | undefined;
  let fleet: WorkerFleet | undefined;
  let positions: pg.Pool | undefined;
  // the worker's keyed state store (its default namespace), where each shard publishes its watermark
  const state = redisStateStore({ redisUrl, namespace: `${name}.windows` });
  try {
    await createStream(kinesis, stream, options.shards);
    db = await createTestDatabase(options.label.replaceAll('-', '_'));
    progress('start', { readings: workload.readings.length, stream, name });
    await loadMasterData(db.url, workload);
    positions = testPool(db.url, 1);
    progress('master data loaded');
    const config: WorkerConfigInput = {
      topology: { name },
      source: {
        kinesis: {
          streamName: stream,
          endpoint,
          region: 'us-east-1',
          maxRecords: options.batching.maxRecords,
          idleTimeBetweenReadsMs: 50,
          maxIdleTimeMs: 200,
        },
        leases: {
          tableName: uniqueTable(options.label),
          endpoint: testEnv('SHARDFLOW_TEST_DYNAMODB_ENDPOINT'),
          failoverTimeMs: 3000,
          renewIntervalMs: 500,
          takeIntervalMs: 500,
        },
      },
      decode: { specDir: writeReferenceSpecs() },
      windows: REFERENCE_WINDOWS,
      state: { backend: 'redis', redisUrl },
      warm: { writeUrl: db.url },
      runtime: { checkpointIntervalMs: 1000 },
      log: { level: 'info' },
    };
    fleet = workerFleet(config, { timeoutMs: options.timeoutMs });
    const workers = options.workers.map((id) => fleet!.start(id));
    for (const w of workers) await w.started();
    progress('workers started', { workers: options.workers });
    await state.open();
    // a worker's script may keep Redis busy for seconds on a loaded machine (BUSY): ask again
    const watermarks = async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          const shards = await state.publishedWatermarks(WINDOW_NODE);
          return { global: globalWatermark(shards, Date.now()), shards };
        } catch (error) {
          if (attempt >= 120 || !String(error).includes('BUSY')) throw error;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    };

    // every shard publishes its watermark before any data flows, so none is left out of the global one
    const keys = await tickKeys(kinesis, stream);
    await putTicks(kinesis, stream, keys, workload.start);
    await waitFor(
      'every shard to publish its watermark',
      async () => (await watermarks()).shards.length === keys.size,
      60_000,
    );

    progress('every shard published its watermark');
    const span = workload.hours * HOUR;
    const control: RunControl = {
      fleet,
      watermarks,
      processed: () => hotPositions(positions!),
      progressed: (share, timeoutMs = options.timeoutMs) =>
        waitFor(
          `the global watermark past ${Math.round(share * 100)} % of the event time`,
          async () => {
            await new Promise((r) => setTimeout(r, 250));
            return (await watermarks()).global >= workload.start + share * span;
          },
          timeoutMs,
        ),
    };
    const started = Date.now();
    const watch = setInterval(() => {
      void watermarks().then(
        (w) => {
          const shards = w.shards.map((s) => s.watermark);
          // how far the shards' event times are apart (the global watermark follows the slowest)
          const skewHours = (Math.max(...shards) - Math.min(...shards)) / HOUR;
          progress('watermark', { global: new Date(w.global).toISOString(), skewHours });
        },
        () => {},
      );
    }, 10_000);
    const during = options.during?.(control);
    during?.catch(() => {});
    const produced = await putReadings(kinesis, stream, workload.readings, options.batching.aggregateBytes);
    const producedAt = Date.now();
    progress('produced', { produced });
    const ends: Map<string, Position> = await putTicks(kinesis, stream, keys, workload.start + span + HOUR);
    try {
      await during;
      await fleet.waitForCheckpoints(ends, options.timeoutMs);
      // a shard's finals go out on its batch or its next tick once the global watermark passed: the
      // stores are complete when they hold no running value and no new row comes in for a while
      await storesSettled(db.url, options.timeoutMs);
    } finally {
      clearInterval(watch);
    }
    const ranAt = Date.now();
    progress('every shard checkpointed at its end');
    await fleet.close();
    const exits: Record<string, number | null> = {};
    for (const w of fleet.workers) {
      const exit = await w.cli.exited;
      exits[w.id] = exit.code;
      if (exit.code !== 0 && exit.code !== null)
        progress(`worker ${w.id} exited ${exit.code}`, exit.stderr.split('\n').slice(-20));
    }

    progress('workers stopped');
    const pool = testPool(db.url, 1);
    try {
      const hot = await pool.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM hot_telemetry WHERE device_id NOT LIKE 'tick-%'`,
      );
      const late = await pool.query<{ item: string }>(
        `SELECT item FROM dead_letters WHERE node = 'late-records' AND code = 'too-late'`,
      );
      // the brute force over what the pipeline accepted: every reading but those it sent to late
      // (whether those are the generator's too-late ones is the caller's check)
      const refused = new Set(late.rows.map((r) => r.item));
      const accepted = workload.readings.filter((r: Reading) => !refused.has(itemOf(r)));
      const comparison = await compareStoredAggregates(db.url, workload, accepted);
      const other = await pool.query<{ n: string; sample: string[] | null }>(
        `SELECT count(*)::text AS n, (array_agg(node || ' ' || coalesce(code, '') || ': ' || reason))[1:10] AS sample
         FROM dead_letters WHERE NOT (node = 'late-records' AND code = 'too-late')`,
      );
      progress('compared', comparison.rows);
      return {
        comparison,
        hotTelemetry: Number(hot.rows[0]!.n),
        tooLate: late.rows.map((r) => r.item),
        otherDeadLetters: Number(other.rows[0]!.n),
        otherDeadLetterSamples: other.rows[0]!.sample ?? [],
        produced,
        exits,
        seconds: {
          produce: (producedAt - started) / 1000,
          run: (ranAt - started) / 1000,
          compare: (Date.now() - ranAt) / 1000,
        },
      };
    } finally {
      await pool.end();
    }
  } catch (error) {
    for (const w of fleet?.workers ?? [])
      progress(`worker ${w.id} log tail`, w.cli.stderr().split('\n').slice(-15));
    throw error;
  } finally {
    await fleet?.close().catch(() => {});
    await state.close();
    await positions?.end();
    kinesis.destroy();
    await db?.drop().catch(() => {});
  }
}

/** The window operator's node in the worker's topology: its published watermarks are of this node. */
const WINDOW_NODE = 'windows';

/**
 * The global watermark the window operator computes from the shards' published watermarks at `now`:
 * the least of the shards active within the idle timeout (`activeAt`, the worker's clock: this
 * machine's), the highest when all are idle.
 */
function globalWatermark(shards: readonly ShardWatermark[], now: number): number {
  const active = shards.filter((s) => now - s.activeAt < REFERENCE_WINDOWS.idleTimeoutMs);
  const marks = (active.length > 0 ? active : shards).map((s) => s.watermark);
  if (marks.length === 0) return Number.NEGATIVE_INFINITY;
  return active.length > 0 ? Math.min(...marks) : Math.max(...marks);
}

/** A reading's item in a dead letter (`device@eventTime`). */
const itemOf = (r: Reading) => `${r.deviceId}@${r.at}`;

/** The too-late dead-letter items the workload must produce (`device@eventTime`). */
function expectedTooLate(workload: ReferenceWorkload): string[] {
  return workload.readings.filter((r) => r.timing === 'too-late').map(itemOf);
}

/**
 * The acceptance checks of a finished run: every reading produced and in the Hot store, no dead letter
 * but too-late ones, exactly the generator's too-late readings sent to late, and each other reading
 * counted exactly once (every window and key equal to the brute force over the readings not sent to
 * late). The too-late set is exact because the shards are held within `maxShardDriftMs` of each other
 * (`REFERENCE_WINDOWS`), also while a killed worker's shards wait for their new owner.
 */
export function expectExactlyTheReference(result: RunResult, workload: ReferenceWorkload): void {
  expect(result.produced).toBe(workload.readings.length);
  expect(result.hotTelemetry).toBe(workload.readings.length);
  expect(result.otherDeadLetters).toBe(0);
  const candidates = expectedTooLate(workload);
  expect(candidates.length).toBeGreaterThan(0);
  expect([...result.tooLate].sort()).toEqual(candidates.sort());
  expect(result.comparison.problems).toEqual([]);
  expect(result.comparison.rows.device).toBeGreaterThan(result.comparison.rows.product);
}

/** Waits until the aggregate tables hold no running value and gained no row for 3 s. */
async function storesSettled(url: string, timeoutMs: number): Promise<void> {
  const pool = testPool(url, 1);
  let last = -1;
  try {
    await waitFor(
      'every window final in the stores',
      async () => {
        await new Promise((r) => setTimeout(r, 3_000));
        const { rows } = await pool.query<{ n: string; open: string }>(
          `SELECT (SELECT count(*) FROM hot_aggregates) + (SELECT count(*) FROM customer_product_daily_aggregates) AS n,
                  (SELECT count(*) FROM hot_aggregates WHERE NOT final)
                    + (SELECT count(*) FROM customer_product_daily_aggregates WHERE NOT final) AS open`,
        );
        const n = Number(rows[0]!.n);
        const settled = n === last && Number(rows[0]!.open) === 0;
        last = n;
        return settled;
      },
      timeoutMs,
    );
  } finally {
    await pool.end();
  }
}
