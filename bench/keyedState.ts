/**
 * The engine's keyed state, in process: S shards of generated readings (one device per partition
 * key, each reading `--metrics` values) → `device-stats`, an operator that keeps per device and
 * metric `{count, sum, min, max, last, lastAt}` and one processing-time timer per device (a "not
 * updated" rule: each reading moves the device's deadline to `--silence-ms` after it, rounded up to
 * the second) → a sink that does nothing. Three runs back to back, per round:
 *
 * - (a) baseline: the same operator keeping its state in plain JS Maps, no declared state, no snapshots;
 * - (b) keyed state, embedded store;
 * - (c) keyed state, Redis store (`keyedStateStore` of a `state:` section), snapshots every
 *   `--interval-ms` on the real clock.
 *
 * Per run: records per CPU-second of this process (`process.cpuUsage`; for (c) also with Redis's CPU,
 * read from `INFO` as `stateStore.ts` does), the ratio to (a), the snapshots written and their bytes,
 * entries and round trips (`runtime.metrics().shards[i].state`), RSS and heap used once the runtime
 * has finished (every shard's state and timers held by the operator, after a forced collection) and
 * the heap that state takes per device.
 * Then a new runtime on (c)'s Redis namespace resumes one shard at its last checkpoint: the time until
 * its state is restored (`restoreMs`; goal ≤ 2 s for a shard of 25,000 devices).
 *
 * `--shape map` (default): a map state, one field per metric (what a rule per metric or a window's
 * metric columns keep); `--shape value`: one value per device holding every metric's statistics.
 * The readings are generated as the runtime pulls them (a turn of the event loop per batch, so the
 * clock's timers, and with them the checkpoint ticker, run as with a real source); each shard's
 * devices report in turn, as a fleet reporting on a period does.
 *
 *   npm run bench:keyed -- [--shards N] [--devices N] [--metrics N] [--batch N] [--readings N]
 *     [--shape map|value] [--interval-ms N] [--silence-ms N] [--runs N] [--redis-url URL] [--out FILE]
 *     [--results] [--help]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { startRedis } from '../infra/local/redis.ts';
import {
  type Operator,
  type Position,
  type ShardHandle,
  type Source,
  type SourceBatch,
  type SourceContext,
  type StateFigures,
  type TimerService,
  TopologyBuilder,
  TopologyRuntime,
} from '../topology/index.ts';
import {
  at,
  cpuMsSince,
  type RedisTarget,
  type RestoreFigures,
  shardIdOf,
  storeFor,
  sumFigures,
  until,
} from './harness/keyedRuns.ts';
import { machineInfo } from './harness/machine.ts';
import { spreadOf } from './harness/stats.ts';
import { wholeOption } from './options.ts';
import { type RedisCounters, redisCounters } from './redisCounters.ts';
import { count, writeLatestFigures } from './results.ts';

const USAGE = `npm run bench:keyed -- [options]   (or: npx tsx --expose-gc bench/keyedState.ts [options])

  --shards N        shards of the in-memory source (default 4)
  --devices N       devices, one partition key each, spread evenly over the shards (default 100000)
  --metrics N       metrics per reading (default 10)
  --batch N         readings per source batch (default 500)
  --readings N      readings in all, split evenly over the shards (default 1000000)
  --shape S         map: a map state, one field per metric (default); value: one value per device
  --interval-ms N   snapshot (checkpoint) interval of the keyed runs, real clock (default 1000)
  --silence-ms N    the "not updated" timer's delay after a device's last reading (default 600000)
  --runs N          rounds of (a) baseline, (b) embedded, (c) Redis, back to back; medians (default 1)
  --only V         run only baseline, embedded or redis (to profile one; no --results)
  --redis-url URL   a Redis to use instead of a throwaway redis-server (its CPU then includes others')
  --out FILE        also write the result as JSON
  --results         rewrite this benchmark's block in bench/RESULTS.md
  --help            this text
`;

const { values } = parseArgs({
  options: {
    help: { type: 'boolean', short: 'h', default: false },
    results: { type: 'boolean', default: false },
    shards: { type: 'string', default: '4' },
    devices: { type: 'string', default: '100000' },
    metrics: { type: 'string', default: '10' },
    batch: { type: 'string', default: '500' },
    readings: { type: 'string', default: '1000000' },
    shape: { type: 'string', default: 'map' },
    'interval-ms': { type: 'string', default: '1000' },
    'silence-ms': { type: 'string', default: '600000' },
    runs: { type: 'string', default: '1' },
    only: { type: 'string' },
    'redis-url': { type: 'string' },
    out: { type: 'string' },
  },
});
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

/** A whole number ≥ `min` from the option `name`. */
const whole = (name: keyof typeof values, min: number): number => wholeOption(values[name], name, min, USAGE);

type Shape = 'map' | 'value';
if (values.shape !== 'map' && values.shape !== 'value') {
  process.stderr.write(`--shape must be map or value\n\n${USAGE}`);
  process.exit(2);
}
const SHAPE: Shape = values.shape;
const SHARDS = whole('shards', 1);
const DEVICES = whole('devices', SHARDS);
const METRICS = whole('metrics', 1);
const BATCH = whole('batch', 1);
const PER_SHARD = Math.floor(whole('readings', SHARDS) / SHARDS);
const READINGS = PER_SHARD * SHARDS;
const INTERVAL_MS = whole('interval-ms', 0);
const SILENCE_MS = whole('silence-ms', 1000);
const RUNS = whole('runs', 1);
const RESTORE_GOAL_MS = 2000;
const ALL_VARIANTS = ['baseline', 'embedded', 'redis'] as const;
type Variant = (typeof ALL_VARIANTS)[number];
const only = values.only as Variant | undefined;
if (only !== undefined && (!ALL_VARIANTS.includes(only) || values.results)) {
  process.stderr.write(`--only takes baseline, embedded or redis, and no --results\n\n${USAGE}`);
  process.exit(2);
}
const VARIANTS: readonly Variant[] = only === undefined ? ALL_VARIANTS : [only];

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined)
  process.stderr.write('no --expose-gc: heap figures include garbage (npm run bench:keyed passes it)\n');
/** A full collection, twice (the first may leave what finalizers free). */
function collect(): void {
  gc?.();
  gc?.();
}

// ---------------------------------------------------------------------------------------------
// The readings and their source

const NAMES = [
  'temperature',
  'humidity',
  'pressure',
  'co2',
  'voc',
  'pm25',
  'battery',
  'rssi',
  'noise',
  'lux',
];
const METRIC_NAMES = Array.from({ length: METRICS }, (_, m) => NAMES[m] ?? `metric${m}`);

/** One device's reading: its partition key, its sequence number in the shard, one value per metric. */
interface Reading {
  readonly device: string;
  readonly seq: number;
  readonly values: readonly number[];
}

/** Device `d` is on shard `d % SHARDS`; made once, so no run's heap holds them. */
const DEVICES_OF: readonly (readonly string[])[] = Array.from({ length: SHARDS }, (_, s) => {
  const devices: string[] = [];
  for (let d = s; d < DEVICES; d += SHARDS) devices.push(`dev-${String(d).padStart(6, '0')}`);
  return devices;
});

/** A shard the source opens: its devices and, for a shard that resumes, the checkpoint it resumes after. */
interface PlannedShard {
  readonly shardId: string;
  readonly devices: readonly string[];
  readonly startAfter?: Position;
}

/**
 * Shards of generated readings, made as the runtime pulls them, one turn of the event loop per batch.
 * A shard stays open after its last batch until `hold` settles (a resumed shard's figures are read meanwhile);
 * `onPull` is told of every pull, the first one coming once the shard's state is restored.
 */
class ReadingSource implements Source<Reading> {
  readonly type = 'bench-readings';
  readonly positionOf = (r: Reading): Position => at(r.seq);
  /** Each shard's last checkpoint. */
  readonly checkpoints = new Map<string, Position>();

  constructor(
    private readonly planned: readonly PlannedShard[],
    private readonly readingsPerShard: number,
    private readonly hold: Promise<void>,
    private readonly onPull: (shardId: string) => void = () => {},
  ) {}

  async *shards(ctx: SourceContext): AsyncIterable<ShardHandle<Reading>> {
    const aborted = new Promise<void>((resolve) =>
      ctx.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    for (const shard of this.planned) {
      yield {
        shardId: shard.shardId,
        ...(shard.startAfter === undefined ? {} : { startPosition: shard.startAfter }),
        batches: this.batches(shard, ctx.signal, aborted),
        checkpoint: async (position) => {
          this.checkpoints.set(shard.shardId, position);
        },
        release: async () => {},
      };
    }
  }

  private async *batches(
    shard: PlannedShard,
    signal: AbortSignal,
    aborted: Promise<void>,
  ): AsyncGenerator<SourceBatch<Reading>> {
    const first = shard.startAfter === undefined ? 0 : Number(shard.startAfter.sequenceNumber);
    const end = first + this.readingsPerShard;
    const devices = shard.devices;
    let seq = first;
    this.onPull(shard.shardId);
    while (seq < end && !signal.aborted) {
      // without a turn of the event loop the pipeline would run on microtasks alone and starve the
      // clock's timers (the checkpoint ticker among them), as no real source does
      await new Promise<void>((resolve) => setImmediate(resolve));
      const n = Math.min(BATCH, end - seq);
      const records: Reading[] = new Array(n);
      for (let i = 0; i < n; i++) {
        seq++;
        const values: number[] = new Array(METRICS);
        for (let m = 0; m < METRICS; m++) values[m] = 20 + ((seq * 31 + m * 17) % 400) / 10;
        records[i] = { device: devices[seq % devices.length]!, seq, values };
      }
      yield { records, position: at(seq) };
      this.onPull(shard.shardId);
    }
    await Promise.race([this.hold, aborted]);
  }
}

// ---------------------------------------------------------------------------------------------
// The operator

/** What the operator keeps per device and metric. */
interface Stats {
  count: number;
  sum: number;
  min: number;
  max: number;
  last: number;
  /** Processing time of the last reading (the "not updated" rule's clock). */
  lastAt: number;
}
/** `--shape value`: one value per device, each metric's statistics by name. */
type DeviceStats = Record<string, Stats>;

/** Per device, a field per metric: a map state, or its stand-in on plain Maps. */
interface FieldStore {
  get(key: string, field: string): Stats | undefined;
  set(key: string, field: string, value: Stats): void;
}
/** Per device, one value: a value state, or a plain Map. */
interface ValueStore {
  get(key: string): DeviceStats | undefined;
  set(key: string, value: DeviceStats): unknown;
}

/** The baseline's field store: nested Maps, as a map state keeps its entries. */
function plainFields(): FieldStore {
  const keys = new Map<string, Map<string, Stats>>();
  return {
    get: (key, field) => keys.get(key)?.get(field),
    set: (key, field, value) => {
      let fields = keys.get(key);
      if (fields === undefined) {
        fields = new Map();
        keys.set(key, fields);
      }
      fields.set(field, value);
    },
  };
}

/** One metric's statistics with the reading `v` at `now` (changed in place). */
function update(s: Stats | undefined, v: number, now: number): Stats {
  if (s === undefined) return { count: 1, sum: v, min: v, max: v, last: v, lastAt: now };
  s.count++;
  s.sum += v;
  if (v < s.min) s.min = v;
  if (v > s.max) s.max = v;
  s.last = v;
  s.lastAt = now;
  return s;
}

/** The device's "not updated" deadline after a reading at `t`, to the second (readings within one second share it). */
const deadlineAfter = (t: number) => Math.ceil((t + SILENCE_MS) / 1000) * 1000;

/** Moves the device's timer from its previous reading's deadline to the one after `now`. */
function reschedule(timers: TimerService, device: string, previousAt: number | undefined, now: number): void {
  const due = deadlineAfter(now);
  if (previousAt !== undefined) {
    const before = deadlineAfter(previousAt);
    if (before === due) return;
    timers.deleteProcessingTime(device, before);
  }
  timers.registerProcessingTime(device, due);
}

/**
 * The device-stats operator, on keyed state (`keyed`) or on plain Maps per shard (the baseline). It
 * keeps each shard's timers and state reachable while the returned object is, so that they can be
 * measured once the runtime has finished (a running worker holds them).
 */
function deviceStats(keyed: boolean): { operator: Operator<Reading, string>; processed(): number } {
  let processed = 0;
  const held = new Map<string, readonly unknown[]>();
  const plain = new Map<string, FieldStore | ValueStore>();
  const plainOf = <T extends FieldStore | ValueStore>(shardId: string, make: () => T): T => {
    let store = plain.get(shardId);
    if (store === undefined) {
      store = make();
      plain.set(shardId, store);
    }
    return store as T;
  };
  const operator: Operator<Reading, string> = {
    type: 'device-stats',
    ...(keyed ? { state: [{ name: 'stats', kind: SHAPE }] } : {}),
    process: (batch, ctx) => {
      const timers = ctx.timers!;
      if (!held.has(ctx.shardId)) held.set(ctx.shardId, [timers, ctx.state]);
      const now = ctx.clock.now();
      if (SHAPE === 'map') {
        const fields: FieldStore = keyed ? ctx.state!.map<Stats>('stats') : plainOf(ctx.shardId, plainFields);
        for (const r of batch) {
          let previousAt: number | undefined;
          for (let m = 0; m < METRICS; m++) {
            const name = METRIC_NAMES[m]!;
            const s = fields.get(r.device, name);
            if (m === 0) previousAt = s?.lastAt;
            // changed in place: set again, as a state's value must be
            fields.set(r.device, name, update(s, r.values[m]!, now));
          }
          reschedule(timers, r.device, previousAt, now);
        }
      } else {
        const devices: ValueStore = keyed
          ? ctx.state!.value<DeviceStats>('stats')
          : plainOf(ctx.shardId, () => new Map<string, DeviceStats>());
        for (const r of batch) {
          const stats = devices.get(r.device) ?? {};
          const previousAt = stats[METRIC_NAMES[0]!]?.lastAt;
          for (let m = 0; m < METRICS; m++) {
            const name = METRIC_NAMES[m]!;
            stats[name] = update(stats[name], r.values[m]!, now);
          }
          devices.set(r.device, stats);
          reschedule(timers, r.device, previousAt, now);
        }
      }
      processed += batch.length;
      return [];
    },
    onTimer: (fired) => fired.map((f) => `not updated: ${f.key}`),
  };
  return { operator, processed: () => processed };
}

// ---------------------------------------------------------------------------------------------
// Runs

interface RunFigures {
  readonly variant: Variant;
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly redisCpuMs?: number;
  readonly recordsPerCpuSecond: number;
  /** Worker and Redis CPU together. */
  readonly recordsPerTotalCpuSecond: number;
  /** Summed over the shards; none for the baseline. */
  readonly state?: StateFigures;
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
  /** Heap used once every reading is processed (state held) less before the run, per device. */
  readonly heapBytesPerDevice: number;
  /** The same for array buffers, which live outside the heap (the embedded store's copies). */
  readonly bufferBytesPerDevice: number;
  /** Redis `used_memory` after the run less before, per device (Redis store). */
  readonly redisBytesPerDevice?: number;
}

function build(source: Source<Reading>, operator: Operator<Reading, string>): TopologyBuilder {
  const b = new TopologyBuilder('keyed-bench');
  b.source('readings', source)
    .via('device-stats', operator)
    .to('none', { type: 'none', write: async () => {} });
  return b;
}

/** One run of all the readings; returns its figures and the source (its checkpoints, for the restore). */
async function run(
  variant: Variant,
  redis: RedisTarget | undefined,
): Promise<{ figures: RunFigures; source: ReadingSource }> {
  collect();
  const before = process.memoryUsage();
  const planned = DEVICES_OF.map((devices, s) => ({ shardId: shardIdOf(s), devices }));
  const source = new ReadingSource(planned, PER_SHARD, Promise.resolve());
  const stats = deviceStats(variant !== 'baseline');
  const store = storeFor(variant, redis, 'bench.keyed');
  const runtime = new TopologyRuntime(build(source, stats.operator).build(), {
    checkpointIntervalMs: INTERVAL_MS,
    ...(store === undefined ? {} : { stateStore: store }),
  });
  // a shard's figures leave the metrics with the shard: keep the latest, read at each checkpoint
  const figures = new Map<string, StateFigures>();
  const keep = () => {
    for (const shard of runtime.metrics().shards) if (shard.state) figures.set(shard.shardId, shard.state);
  };
  runtime.events.subscribe((event) => {
    if (event.type === 'checkpoint') keep();
  });
  const redisBefore: RedisCounters | undefined = redis && (await redisCounters(redis.admin));

  const cpu0 = process.cpuUsage();
  const started = performance.now();
  // the shards end after their last reading: the runtime drains them and writes their last snapshots
  await runtime.run();
  const wallMs = performance.now() - started;
  const cpuMs = cpuMsSince(cpu0);
  if (stats.processed() !== READINGS)
    throw new Error(`${stats.processed()} readings processed of ${READINGS}`);
  // the operator still holds every shard's state and timers (and the embedded store its snapshots)
  collect();
  const memory = process.memoryUsage();
  const redisAfter = redis && (await redisCounters(redis.admin));
  const redisCpuMs = redisBefore && redisAfter && (redisAfter.cpu - redisBefore.cpu) * 1000;
  const state = store === undefined ? undefined : sumFigures(figures.values());
  return {
    source,
    figures: {
      variant,
      wallMs,
      cpuMs,
      ...(redisCpuMs === undefined ? {} : { redisCpuMs }),
      recordsPerCpuSecond: READINGS / (cpuMs / 1000),
      recordsPerTotalCpuSecond: READINGS / ((cpuMs + (redisCpuMs ?? 0)) / 1000),
      ...(state === undefined ? {} : { state }),
      rssMiB: memory.rss / 2 ** 20,
      heapUsedMiB: memory.heapUsed / 2 ** 20,
      heapBytesPerDevice: (memory.heapUsed - before.heapUsed) / DEVICES,
      bufferBytesPerDevice: (memory.arrayBuffers - before.arrayBuffers) / DEVICES,
      ...(redisBefore && redisAfter
        ? { redisBytesPerDevice: (redisAfter.usedMemory - redisBefore.usedMemory) / DEVICES }
        : {}),
    },
  };
}

/** A new runtime on the Redis namespace resumes shard 0 at its last checkpoint: how long its restore takes. */
async function restore(
  redis: RedisTarget,
  checkpoints: ReadonlyMap<string, Position>,
): Promise<RestoreFigures> {
  const shardId = shardIdOf(0);
  const startAfter = checkpoints.get(shardId);
  if (startAfter === undefined) throw new Error(`${shardId} has no checkpoint to resume after`);
  let release!: () => void;
  const hold = new Promise<void>((resolve) => {
    release = resolve;
  });
  let pulled = false;
  const source = new ReadingSource([{ shardId, devices: DEVICES_OF[0]!, startAfter }], 0, hold, () => {
    pulled = true;
  });
  const store = storeFor('redis', redis, 'bench.keyed')!;
  const runtime = new TopologyRuntime(build(source, deviceStats(true).operator).build(), {
    checkpointIntervalMs: INTERVAL_MS,
    stateStore: store,
  });
  const redisBefore = await redisCounters(redis.admin);
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const done = runtime.run();
  await until(() => pulled, done);
  const untilFirstPullMs = performance.now() - started;
  const cpuMs = cpuMsSince(cpu0);
  const redisCpuMs = ((await redisCounters(redis.admin)).cpu - redisBefore.cpu) * 1000;
  const figures = runtime.metrics().shards.find((s) => s.shardId === shardId)?.state;
  release();
  await done;
  if (figures === undefined) throw new Error('the resumed shard reported no keyed state figures');
  return {
    shardId,
    devices: DEVICES_OF[0]!.length,
    restoredEntries: figures.restoredEntries,
    restoreMs: figures.restoreMs,
    untilFirstPullMs,
    cpuMs,
    redisCpuMs,
  };
}

// ---------------------------------------------------------------------------------------------
// Main

const median = (xs: readonly number[]) => spreadOf(xs)?.median ?? Number.NaN;

async function main(): Promise<void> {
  const machine = machineInfo();
  const server = values['redis-url'] ? undefined : await startRedis();
  const url = values['redis-url'] ?? server!.url;
  const admin = new Redis(url);
  const rounds: { runs: RunFigures[]; restore?: RestoreFigures }[] = [];
  try {
    for (let round = 1; round <= RUNS; round++) {
      const runs: RunFigures[] = [];
      const redis = { url, admin, namespace: `bench-keyed-${Date.now()}-${round}` };
      let restored: RestoreFigures | undefined;
      for (const variant of VARIANTS) {
        process.stderr.write(`round ${round}/${RUNS}: ${variant}…\n`);
        const { figures, source } = await run(variant, variant === 'redis' ? redis : undefined);
        runs.push(figures);
        if (variant === 'redis') {
          process.stderr.write(`round ${round}/${RUNS}: restore…\n`);
          restored = await restore(redis, source.checkpoints);
        }
      }
      rounds.push({ runs, ...(restored === undefined ? {} : { restore: restored }) });
      // with --redis-url the server is someone else's, and every round adds its namespace: leave nothing
      const left = await admin.keys(`sf:{${redis.namespace}}:*`);
      if (left.length > 0) await admin.unlink(...left);
    }
  } finally {
    admin.disconnect();
    await server?.stop();
  }

  const of = (variant: Variant) => rounds.flatMap((r) => r.runs.filter((x) => x.variant === variant));
  const med = (variant: Variant, pick: (f: RunFigures) => number | undefined) =>
    median(of(variant).map((f) => pick(f) ?? Number.NaN));
  const baseline = med('baseline', (f) => f.recordsPerCpuSecond);
  const summary = VARIANTS.map((variant) => ({
    variant,
    recordsPerCpuSecond: med(variant, (f) => f.recordsPerCpuSecond),
    recordsPerTotalCpuSecond: med(variant, (f) => f.recordsPerTotalCpuSecond),
    ratio: med(variant, (f) => f.recordsPerCpuSecond) / baseline,
    ratioWithRedis: med(variant, (f) => f.recordsPerTotalCpuSecond) / baseline,
    recordsPerWallSecond: med(variant, (f) => READINGS / (f.wallMs / 1000)),
    redisCpuMs: med(variant, (f) => f.redisCpuMs),
    snapshots: med(variant, (f) => f.state?.snapshots),
    bytesPerSnapshot: med(variant, (f) => f.state && f.state.bytes / f.state.snapshots),
    entriesPerSnapshot: med(variant, (f) => f.state && f.state.entries / f.state.snapshots),
    roundTripsPerSnapshot: med(variant, (f) => f.state && f.state.roundTrips / f.state.snapshots),
    rssMiB: med(variant, (f) => f.rssMiB),
    heapUsedMiB: med(variant, (f) => f.heapUsedMiB),
    heapBytesPerDevice: med(variant, (f) => f.heapBytesPerDevice),
    bufferBytesPerDevice: med(variant, (f) => f.bufferBytesPerDevice),
    redisBytesPerDevice: med(variant, (f) => f.redisBytesPerDevice),
  }));
  const restores = rounds.flatMap((r) => (r.restore === undefined ? [] : [r.restore]));
  const restoreMs = median(restores.map((r) => r.restoreMs));
  const result = {
    benchmark: 'keyed-state',
    at: new Date().toISOString(),
    machine,
    parameters: {
      shards: SHARDS,
      devices: DEVICES,
      metrics: METRICS,
      batch: BATCH,
      readings: READINGS,
      shape: SHAPE,
      intervalMs: INTERVAL_MS,
      silenceMs: SILENCE_MS,
      runs: RUNS,
    },
    summary,
    restore: {
      shardId: shardIdOf(0),
      devices: DEVICES_OF[0]!.length,
      restoredEntries: median(restores.map((r) => r.restoredEntries)),
      restoreMs,
      untilFirstPullMs: median(restores.map((r) => r.untilFirstPullMs)),
      cpuMs: median(restores.map((r) => r.cpuMs)),
      redisCpuMs: median(restores.map((r) => r.redisCpuMs)),
      goalMs: RESTORE_GOAL_MS,
      met: restoreMs <= RESTORE_GOAL_MS,
    },
    rounds,
  };
  console.log(JSON.stringify(result, null, 2));
  if (values.out) writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
  if (values.results) {
    const n = (x: number, digits = 0) =>
      Number.isFinite(x)
        ? x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
        : '–';
    const label: Record<Variant, string> = {
      baseline: '(a) baseline: plain Maps, no declared state',
      embedded: '(b) keyed state, embedded store',
      redis: '(c) keyed state, Redis store',
    };
    const r = result.restore;
    const shape =
      SHAPE === 'map'
        ? `a map state, one field per metric (${METRICS} entries per device, and one for its timer)`
        : `a value state, one value per device holding its ${METRICS} metrics (one entry per device, and one for its timer)`;
    writeLatestFigures({
      name: `keyed-state-${SHAPE}`,
      heading: '## Keyed state in the engine (`npm run bench:keyed`)',
      command: `npm run bench:keyed -- --shards ${SHARDS} --devices ${DEVICES} --metrics ${METRICS} --batch ${BATCH} --readings ${READINGS} --shape ${SHAPE} --interval-ms ${INTERVAL_MS} --runs ${RUNS} --results`,
      lines: [
        `${count(READINGS)} readings of ${count(DEVICES)} devices (${METRICS} metrics each) on ${SHARDS} shards in ${BATCH}-reading batches, ${shape}, a processing-time timer per device; snapshots every ${count(INTERVAL_MS)} ms on the real clock; median of ${RUNS} round${RUNS === 1 ? '' : 's'} of (a), (b), (c) back to back. CPU = this process (\`process.cpuUsage\`, reading generation and the runtime included); Redis CPU from \`INFO\`. Wall time and CPU from the start to the end of the runtime (the shards' last snapshots written); memory after it, each shard's state and timers held, after a forced collection.`,
        '',
        '| run | records / CPU-s | ratio | with Redis CPU: records / CPU-s, ratio | records / s (wall) | snapshots | bytes / snapshot | entries / snapshot | round trips / snapshot | RSS MiB | heap MiB | heap B / device | array buffers B / device | Redis B / device |',
        '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
        ...summary.map(
          (s) =>
            `| ${label[s.variant]} | ${n(s.recordsPerCpuSecond)} | ${n(s.ratio, 2)} | ${s.variant === 'redis' ? `${n(s.recordsPerTotalCpuSecond)}, ${n(s.ratioWithRedis, 2)}` : ''} | ${n(s.recordsPerWallSecond)} | ${n(s.snapshots)} | ${n(s.bytesPerSnapshot)} | ${n(s.entriesPerSnapshot)} | ${n(s.roundTripsPerSnapshot, 1)} | ${n(s.rssMiB)} | ${n(s.heapUsedMiB)} | ${n(s.heapBytesPerDevice)} | ${n(s.bufferBytesPerDevice)} | ${n(s.redisBytesPerDevice)} |`,
        ),
        '',
        `Restore: a new runtime on (c)'s namespace resumes ${r.shardId} (${count(r.devices)} devices, ${count(r.restoredEntries)} entries) at its last checkpoint: restoreMs ${n(r.restoreMs)} (goal ≤ ${count(RESTORE_GOAL_MS)} ms: ${r.met ? 'met' : 'not met'}, ${n(r.restoreMs / RESTORE_GOAL_MS, 2)} of it); ${n(r.untilFirstPullMs)} ms from \`run()\` to the shard's first pull; worker CPU ${n(r.cpuMs)} ms, Redis CPU ${n(r.redisCpuMs)} ms.`,
      ],
    });
  }
}

await main();
