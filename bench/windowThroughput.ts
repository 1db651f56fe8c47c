/**
 * The window operator in process, on the engine's keyed state: S shards of generated enriched records
 * (every device its own partition key, spread over the shards; 10 metrics; 3 products; 1,000
 * customers; event times over `--hours`) in batches → `windowAggregate` (1 h, 6 h, 1 day per product
 * and device, daily per customer × product) → a sink that counts the aggregates. Runs back to back:
 *
 * - (a) embedded: keyed state in the embedded store;
 * - (b) Redis: keyed state in the Redis store, snapshots (and the published partials) every
 *   `--interval-ms` on the real clock;
 * - (c) baseline: the naive Redis operator, one `HINCRBYFLOAT` per record per aggregate (sums only),
 *   pipelined per batch, over the first `--baseline-records` of the same records.
 *
 * Per run: records/s, records per CPU-second of this process (record generation and the runtime
 * included) and, for (b) and (c), with Redis's CPU (`INFO`); for (b) and (a) the snapshots written,
 * their bytes and round trips per snapshot and per checkpoint (one checkpoint interval: every shard's
 * snapshot of it), the slots held (device windows and partials) and the memory they take once the
 * run has finished (RSS and heap after a forced collection, every shard's state held): bytes per
 * slot. Then a new runtime on (b)'s Redis namespace resumes one shard at its last checkpoint: the time
 * until its state is restored (goal ≤ 2 s for 25,000 devices). Peak RSS over the whole process.
 *
 *   npm run bench:windows -- [--devices N] [--records N] [--baseline-records N] [--batch N]
 *     [--shards N] [--hours H] [--interval-ms N] [--redis-url URL] [--out FILE] [--results]
 *     [--skip embedded,redis,baseline,restore] [--help]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { startRedis } from '../infra/local/redis.ts';
import { windowAggregate, windowAggregateConfigSchema, windowAssigner } from '../operators/windows/index.ts';
import {
  type Enriched,
  type KeyedState,
  type Operator,
  type Position,
  type ShardHandle,
  type Source,
  type SourceBatch,
  type SourceContext,
  type StateFigures,
  TopologyBuilder,
  TopologyRuntime,
  type WindowAggregate,
  type WindowSize,
} from '../topology/index.ts';
import {
  at,
  cpuMsSince,
  type RedisTarget,
  type RestoreFigures,
  type StoreVariant,
  shardIdOf,
  storeFor,
  sumFigures,
  until,
} from './harness/keyedRuns.ts';
import { machineInfo } from './harness/machine.ts';
import { wholeOption } from './options.ts';
import { type RedisCounters, redisCounters } from './redisCounters.ts';
import { count, writeLatestFigures } from './results.ts';

const USAGE = `npm run bench:windows -- [options]   (or: npx tsx --expose-gc bench/windowThroughput.ts [options])

  --devices N           devices, one partition key each, spread evenly over the shards (default 100000)
  --records N           records of runs (a) and (b), split evenly over the shards (default 1000000)
  --baseline-records N  records of the naive baseline (c), the first ones of the same (default 20000)
  --batch N             records per source batch (default 500)
  --shards N            shards of the generated source (default 4)
  --hours H             event times spread over this many hours (default 3)
  --interval-ms N       checkpoint (snapshot) interval, real clock (default 1000)
  --skip LIST           leave out some of embedded,redis,baseline,restore (e.g. to profile one)
  --redis-url URL       a Redis to use instead of a throwaway redis-server (its CPU then includes others')
  --out FILE            also write the result as JSON
  --results             rewrite this benchmark's block in bench/RESULTS.md
  --help                this text
`;

const { values } = parseArgs({
  options: {
    help: { type: 'boolean', short: 'h', default: false },
    results: { type: 'boolean', default: false },
    devices: { type: 'string', default: '100000' },
    records: { type: 'string', default: '1000000' },
    'baseline-records': { type: 'string', default: '20000' },
    batch: { type: 'string', default: '500' },
    shards: { type: 'string', default: '4' },
    hours: { type: 'string', default: '3' },
    'interval-ms': { type: 'string', default: '1000' },
    skip: { type: 'string', default: '' },
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

const SHARDS = whole('shards', 1);
const DEVICES = whole('devices', SHARDS);
const BATCH = whole('batch', 1);
const PER_SHARD = Math.floor(whole('records', SHARDS) / SHARDS);
const RECORDS = PER_SHARD * SHARDS;
const BASELINE_PER_SHARD = Math.floor(whole('baseline-records', SHARDS) / SHARDS);
const BASELINE_RECORDS = BASELINE_PER_SHARD * SHARDS;
const INTERVAL_MS = whole('interval-ms', 0);
const HOURS = Number(values.hours);
if (!(HOURS > 0)) {
  process.stderr.write(`--hours must be a positive number\n\n${USAGE}`);
  process.exit(2);
}
const SPAN_MS = Math.round(HOURS * 3_600_000);
const PARTS = ['embedded', 'redis', 'baseline', 'restore'] as const;
type Part = (typeof PARTS)[number];
const SKIP = new Set(values.skip.split(',').filter((s) => s !== ''));
for (const s of SKIP)
  if (!PARTS.includes(s as Part)) {
    process.stderr.write(`--skip takes ${PARTS.join(',')}\n\n${USAGE}`);
    process.exit(2);
  }
const runs = (part: Part) => !SKIP.has(part);
const METRICS = 10;
const PRODUCTS = 3;
const CUSTOMERS = 1000;
const T0 = Date.UTC(2026, 0, 5);
const RATE_GOAL = 300_000;
const RATIO_GOAL = 20;
const RESTORE_GOAL_MS = 2000;
const RSS_GOAL_MIB = 400;

const config = windowAggregateConfigSchema.parse({
  allowedOutOfOrdernessMs: 300_000,
  allowedLatenessMs: 600_000,
  retentionMs: 2 * 86_400_000,
});

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined)
  process.stderr.write('no --expose-gc: memory figures include garbage (npm run bench:windows passes it)\n');
function collect(): void {
  gc?.();
  gc?.();
}
let peakRss = 0;
const sampleRss = () => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
};

// ---------------------------------------------------------------------------------------------
// The records and their source

function xorshift(seed: number): () => number {
  let state = seed | 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}

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

/** What a device's records share: made once, so that generating a record allocates only the record. */
interface Device {
  readonly device_id: string;
  readonly productId: string;
  readonly customer_id: string;
  readonly rawRef: Enriched['rawRef'];
}

/** Device `d` is on shard `d % SHARDS`; each shard's devices in a shuffled order its records follow in turn. */
const DEVICES_OF: readonly (readonly Device[])[] = Array.from({ length: SHARDS }, (_, s) => {
  const random = xorshift(7919 * (s + 1));
  const devices: Device[] = [];
  for (let d = s; d < DEVICES; d += SHARDS) {
    const id = `dev-${String(d).padStart(6, '0')}`;
    devices.push({
      device_id: id,
      productId: `prod-${d % PRODUCTS}`,
      customer_id: `cust-${d % CUSTOMERS}`,
      rawRef: {
        protocol: 'mqtt',
        format: 'json',
        stream: 'bench',
        shardId: shardIdOf(s),
        sequenceNumber: '0',
        partitionKey: id,
      },
    });
  }
  for (let i = devices.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [devices[i], devices[j]] = [devices[j]!, devices[i]!];
  }
  return devices;
});

/** Metric values: a pool of objects the records share (the operator reads them, never keeps them). */
const METRIC_POOL: readonly Record<string, number>[] = (() => {
  const random = xorshift(12345);
  return Array.from({ length: 4096 }, () => {
    const metrics: Record<string, number> = {};
    for (const name of NAMES) metrics[name] = Math.round(random() * 10_000) / 100;
    return metrics;
  });
})();

/** A shard the source opens, and for a shard that resumes, the checkpoint it resumes after. */
interface PlannedShard {
  readonly index: number;
  readonly startAfter?: Position;
}

/**
 * Shards of generated records, made as the runtime pulls them, one turn of the event loop per batch
 * (so the clock's timers, the checkpoint ticker among them, run as with a real source). Record `seq`
 * of a shard is its devices' `seq % n`-th, at an event time `seq / perShard` of the way through the
 * span, up to 5 minutes early. A shard stays open after its last batch until `hold` settles.
 */
class RecordSource implements Source<Enriched> {
  readonly type = 'bench-enriched';
  readonly positionOf = (r: Enriched): Position => at(Number(r.rawRef.sequenceNumber));
  /** Each shard's last checkpoint. */
  readonly checkpoints = new Map<string, Position>();

  constructor(
    private readonly planned: readonly PlannedShard[],
    private readonly perShard: number,
    private readonly hold: Promise<void>,
    private readonly onPull: (shardId: string) => void = () => {},
  ) {}

  async *shards(ctx: SourceContext): AsyncIterable<ShardHandle<Enriched>> {
    const aborted = new Promise<void>((resolve) =>
      ctx.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    for (const shard of this.planned) {
      const shardId = shardIdOf(shard.index);
      yield {
        shardId,
        ...(shard.startAfter === undefined ? {} : { startPosition: shard.startAfter }),
        batches: this.batches(shard, ctx.signal, aborted),
        checkpoint: async (position) => {
          this.checkpoints.set(shardId, position);
        },
        release: async () => {},
      };
    }
  }

  private async *batches(
    shard: PlannedShard,
    signal: AbortSignal,
    aborted: Promise<void>,
  ): AsyncGenerator<SourceBatch<Enriched>> {
    const first = shard.startAfter === undefined ? 0 : Number(shard.startAfter.sequenceNumber);
    const end = first + this.perShard;
    const devices = DEVICES_OF[shard.index]!;
    const random = xorshift(31 * (shard.index + 1) + first);
    let seq = first;
    this.onPull(shardIdOf(shard.index));
    while (seq < end && !signal.aborted) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      const n = Math.min(BATCH, end - seq);
      const records: Enriched[] = new Array(n);
      for (let i = 0; i < n; i++) {
        seq++;
        const d = devices[seq % devices.length]!;
        const t = T0 + Math.floor((seq / this.perShard) * SPAN_MS - random() * 300_000);
        records[i] = {
          device_id: d.device_id,
          device_timestamp: t,
          ingest_timestamp: t,
          productId: d.productId,
          metrics: METRIC_POOL[seq & 4095]!,
          rawRef: { ...d.rawRef, sequenceNumber: String(seq) },
          site_id: null,
          customer_id: d.customer_id,
        };
      }
      yield { records, position: at(seq) };
      this.onPull(shardIdOf(shard.index));
      if (seq % (BATCH * 20) === 0) sampleRss();
    }
    await Promise.race([this.hold, aborted]);
  }
}

// ---------------------------------------------------------------------------------------------
// The operators

/**
 * The window operator, its shards' keyed state kept reachable (a running worker holds it), so that
 * its memory and slots can be measured once the runtime has finished.
 */
function windows(): {
  operator: Operator<Enriched, WindowAggregate, { late: Enriched }>;
  states: Map<string, KeyedState>;
} {
  const inner = windowAggregate(config);
  const states = new Map<string, KeyedState>();
  const operator: Operator<Enriched, WindowAggregate, { late: Enriched }> = {
    ...inner,
    openShard: (ctx) => {
      if (ctx.state !== undefined) states.set(ctx.shardId, ctx.state);
      return inner.openShard?.(ctx);
    },
  };
  return { operator, states };
}

/** Slots held: device panes (open and closed, one per device and pane) and this worker's partials. */
function slotsHeld(states: ReadonlyMap<string, KeyedState>): { device: number; partials: number } {
  let device = 0;
  let partials = 0;
  for (const state of states.values()) {
    const devices = state.value<unknown[]>('devices');
    for (const key of devices.keys()) device += devices.get(key)!.length;
    const closed = state.map<unknown>('closed');
    for (const key of closed.keys()) for (const _ of closed.entries(key)) device++;
    for (const _ of state.map<unknown>('partials').entries('')) partials++;
  }
  return { device, partials };
}

/** The naive baseline: one `HINCRBYFLOAT` per record, aggregate and metric (sums only), pipelined per batch. */
function naiveRedis(redis: Redis, namespace: string): Operator<Enriched, WindowAggregate> {
  const assign = windowAssigner(config.zone);
  const sizes: readonly WindowSize[] = config.windows;
  return {
    type: 'naive-redis-windows',
    process: async (batch) => {
      const pipeline = redis.pipeline();
      const keys: string[] = [];
      for (const r of batch) {
        keys.length = 0;
        for (const size of sizes) {
          const { start } = assign(r.device_timestamp, size);
          keys.push(`${namespace}:product:${size}:${start}:${r.productId}`);
          keys.push(`${namespace}:device:${size}:${start}:${r.device_id}`);
        }
        keys.push(
          `${namespace}:cp:1d:${assign(r.device_timestamp, '1d').start}:${r.customer_id}:${r.productId}`,
        );
        for (const metric in r.metrics) {
          const value = r.metrics[metric];
          if (typeof value !== 'number') continue;
          for (const key of keys) pipeline.hincrbyfloat(key, metric, value);
        }
      }
      await pipeline.exec();
      return [];
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Runs

type Variant = StoreVariant;

interface RunFigures {
  readonly variant: Variant;
  readonly records: number;
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly redisCpuMs?: number;
  readonly recordsPerSecond: number;
  readonly recordsPerCpuSecond: number;
  /** Worker and Redis CPU together (Redis runs). */
  readonly recordsPerTotalCpuSecond: number;
  readonly aggregates: number;
  readonly late: number;
  /** Summed over the shards (keyed state runs). */
  readonly state?: StateFigures;
  /** Checkpoints handed to the source, over all shards. */
  readonly checkpoints: number;
  /** Checkpoint intervals in which a snapshot was written (wall time / interval, at most). */
  readonly snapshotIntervals?: number;
  readonly slots?: { device: number; partials: number };
  /** After the run, state held, after a forced collection. */
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
  readonly arrayBuffersMiB: number;
  /** (heap used + array buffers) after less before the run, per slot held. */
  readonly bytesPerSlot?: number;
  readonly redisMemoryMiB?: number;
}

function build(
  source: Source<Enriched>,
  operator: Operator<Enriched, WindowAggregate, { late: Enriched }>,
  counts: { aggregates: number; late: number },
): TopologyBuilder {
  const b = new TopologyBuilder('windows-bench');
  const out = b.source('records', source).via('windows', operator);
  out.to('aggregates', {
    type: 'count',
    write: async (batch) => {
      counts.aggregates += batch.length;
    },
  });
  if ((operator.sideOutputs ?? []).includes('late'))
    out.side('late').to('late', {
      type: 'count',
      write: async (batch) => {
        counts.late += batch.length;
      },
    });
  return b;
}

async function run(
  variant: Variant,
  redis: RedisTarget | undefined,
): Promise<{ figures: RunFigures; source: RecordSource }> {
  collect();
  const before = process.memoryUsage();
  const perShard = variant === 'baseline' ? BASELINE_PER_SHARD : PER_SHARD;
  const records = perShard * SHARDS;
  const source = new RecordSource(
    DEVICES_OF.map((_, index) => ({ index })),
    perShard,
    Promise.resolve(),
  );
  const held = variant === 'baseline' ? undefined : windows();
  const counts = { aggregates: 0, late: 0 };
  const operator = held?.operator ?? naiveRedis(redis!.admin, `naive:${redis!.namespace}`);
  const store = storeFor(variant, redis, 'bench.windows');
  const runtime = new TopologyRuntime(build(source, operator, counts).build(), {
    checkpointIntervalMs: INTERVAL_MS,
    ...(store === undefined ? {} : { stateStore: store }),
  });
  const figures = new Map<string, StateFigures>();
  let checkpoints = 0;
  const snapshotTicks = new Set<number>();
  const keep = () => {
    for (const shard of runtime.metrics().shards) if (shard.state) figures.set(shard.shardId, shard.state);
  };
  const started = performance.now();
  runtime.events.subscribe((event) => {
    if (event.type !== 'checkpoint') return;
    checkpoints++;
    if (INTERVAL_MS > 0) snapshotTicks.add(Math.floor((performance.now() - started) / INTERVAL_MS));
    keep();
  });
  const redisBefore: RedisCounters | undefined = redis && (await redisCounters(redis.admin));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await runtime.run();
  const wallMs = performance.now() - t0;
  const cpuMs = cpuMsSince(cpu0);
  const redisAfter = redis && (await redisCounters(redis.admin));
  sampleRss();
  collect();
  const memory = process.memoryUsage();
  const redisCpuMs = redisBefore && redisAfter && (redisAfter.cpu - redisBefore.cpu) * 1000;
  const state = store === undefined ? undefined : sumFigures(figures.values());
  const slots = held && slotsHeld(held.states);
  const grown = memory.heapUsed + memory.arrayBuffers - before.heapUsed - before.arrayBuffers;
  return {
    source,
    figures: {
      variant,
      records,
      wallMs,
      cpuMs,
      ...(redisCpuMs === undefined ? {} : { redisCpuMs }),
      recordsPerSecond: records / (wallMs / 1000),
      recordsPerCpuSecond: records / (cpuMs / 1000),
      recordsPerTotalCpuSecond: records / ((cpuMs + (redisCpuMs ?? 0)) / 1000),
      aggregates: counts.aggregates,
      late: counts.late,
      ...(state === undefined ? {} : { state, snapshotIntervals: snapshotTicks.size }),
      checkpoints,
      ...(slots === undefined ? {} : { slots, bytesPerSlot: grown / (slots.device + slots.partials) }),
      rssMiB: memory.rss / 2 ** 20,
      heapUsedMiB: memory.heapUsed / 2 ** 20,
      arrayBuffersMiB: memory.arrayBuffers / 2 ** 20,
      ...(redisAfter === undefined ? {} : { redisMemoryMiB: redisAfter.usedMemory / 2 ** 20 }),
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
  const source = new RecordSource([{ index: 0, startAfter }], 0, hold, () => {
    pulled = true;
  });
  const store = storeFor('redis', redis, 'bench.windows')!;
  const runtime = new TopologyRuntime(build(source, windows().operator, { aggregates: 0, late: 0 }).build(), {
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

async function main(): Promise<void> {
  const machine = machineInfo();
  const server = values['redis-url'] ? undefined : await startRedis();
  const url = values['redis-url'] ?? server!.url;
  const admin = new Redis(url);
  const namespace = `bench-windows-${Date.now()}`;
  const redis: RedisTarget = { url, admin, namespace };
  const byVariant: Partial<Record<Variant, RunFigures>> = {};
  let restored: RestoreFigures | undefined;
  try {
    for (const variant of ['embedded', 'redis', 'baseline'] as const) {
      if (!runs(variant)) continue;
      process.stderr.write(`${variant}…\n`);
      const { figures, source } = await run(variant, variant === 'embedded' ? undefined : redis);
      byVariant[variant] = figures;
      process.stderr.write(`${variant}: ${count(figures.recordsPerTotalCpuSecond)} records per CPU-second\n`);
      if (variant === 'redis' && runs('restore')) {
        process.stderr.write('restore…\n');
        restored = await restore(redis, source.checkpoints);
      }
    }
    const left = await admin.keys(`*${namespace}*`);
    for (let i = 0; i < left.length; i += 10_000) await admin.unlink(...left.slice(i, i + 10_000));
  } finally {
    admin.disconnect();
    await server?.stop();
  }
  const { embedded, redis: viaRedis, baseline } = byVariant;
  const ratioByCpu =
    viaRedis && baseline ? viaRedis.recordsPerTotalCpuSecond / baseline.recordsPerTotalCpuSecond : undefined;
  const perSnapshot = (f?: RunFigures) =>
    f?.state && f.state.snapshots > 0
      ? {
          bytes: f.state.bytes / f.state.snapshots,
          roundTrips: f.state.roundTrips / f.state.snapshots,
          entries: f.state.entries / f.state.snapshots,
          bytesPerCheckpoint: f.state.bytes / Math.max(1, f.snapshotIntervals ?? 0),
          roundTripsPerCheckpoint: f.state.roundTrips / Math.max(1, f.snapshotIntervals ?? 0),
        }
      : undefined;
  const result = {
    benchmark: 'windows',
    at: new Date().toISOString(),
    machine,
    parameters: {
      shards: SHARDS,
      devices: DEVICES,
      metrics: METRICS,
      products: PRODUCTS,
      customers: CUSTOMERS,
      batch: BATCH,
      records: RECORDS,
      baselineRecords: BASELINE_RECORDS,
      hours: HOURS,
      intervalMs: INTERVAL_MS,
      scopes: config.scopes,
      windows: config.windows,
    },
    embedded: embedded && { ...embedded, perSnapshot: perSnapshot(embedded) },
    redis: viaRedis && { ...viaRedis, perSnapshot: perSnapshot(viaRedis) },
    baseline,
    ratioRedisToBaselineByCpu: ratioByCpu,
    restore: restored && { ...restored, goalMs: RESTORE_GOAL_MS, met: restored.restoreMs <= RESTORE_GOAL_MS },
    peakRssMiB: Math.max(peakRss, process.resourceUsage().maxRSS * 1024) / 2 ** 20,
  };
  console.log(JSON.stringify(result, null, 2));
  if (values.out) writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
  if (values.results) {
    const n = (x: number | undefined, digits = 0) =>
      x !== undefined && Number.isFinite(x)
        ? x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
        : '–';
    const row = (label: string, f: RunFigures | undefined) => {
      if (f === undefined) return `| ${label} | skipped | | | | | | | | | |`;
      const s = perSnapshot(f);
      return `| ${label} | ${count(f.records)} | ${n(f.recordsPerSecond)} | ${n(f.recordsPerCpuSecond)} | ${f.redisCpuMs === undefined ? '–' : n(f.recordsPerTotalCpuSecond)} | ${f.state ? n(f.state.snapshots) : '–'} | ${s ? `${n(s.bytes)} / ${n(s.bytesPerCheckpoint)}` : '–'} | ${s ? `${n(s.roundTrips, 1)} / ${n(s.roundTripsPerCheckpoint, 1)}` : '–'} | ${f.slots ? `${count(f.slots.device)} + ${count(f.slots.partials)}` : '–'} | ${f.slots ? `${n(f.rssMiB)} / ${n(f.heapUsedMiB)} / ${n(f.arrayBuffersMiB)}` : '–'} | ${n(f.bytesPerSlot)} |`;
    };
    const rate = viaRedis?.recordsPerTotalCpuSecond;
    // the first keyed run's memory: a later run's RSS keeps what the earlier ones took
    const first = embedded ?? viaRedis;
    const rss = first?.rssMiB;
    const held = first && first.heapUsedMiB + first.arrayBuffersMiB;
    const fraction = (x: number | undefined, goal: number) => (x === undefined ? '–' : n(x / goal, 2));
    const r = result.restore;
    writeLatestFigures({
      name: 'windows',
      heading: '## Windows (`npx tsx bench/windowThroughput.ts`)',
      command: `npm run bench:windows -- --devices ${DEVICES} --records ${RECORDS} --baseline-records ${BASELINE_RECORDS} --batch ${BATCH} --shards ${SHARDS} --hours ${HOURS} --interval-ms ${INTERVAL_MS}${SKIP.size > 0 ? ` --skip ${[...SKIP].join(',')}` : ''} --results`,
      lines: [
        `The window operator on keyed state through \`TopologyRuntime\`: ${count(DEVICES)} devices (each its own partition key) on ${SHARDS} shards, ${METRICS} metrics, ${PRODUCTS} products, ${count(CUSTOMERS)} customers, all scopes (${config.windows.join(', ')} per product and device, the device's merged from 1 h panes, 1 d per customer × product), event times over ${HOURS} h, ${BATCH}-record batches generated as pulled, a sink that counts. Snapshots every ${count(INTERVAL_MS)} ms on the real clock. CPU = this process (record generation and the runtime included); with Redis: plus Redis's CPU (\`INFO\`). Memory after each run with every shard's state held, after a forced collection; bytes per slot = growth of heap and array buffers over the run ÷ slots held (device panes, open and closed, + partials).`,
        '',
        '| run | records | records / s | records / CPU-s (worker) | records / CPU-s (worker + Redis) | snapshots | bytes per snapshot / per checkpoint | round trips per snapshot / per checkpoint | slots held (device + partials) | RSS / heap / array buffers MiB | bytes per slot |',
        '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
        row('(a) keyed state, embedded store', embedded),
        row(`(b) keyed state, Redis store, snapshots every ${count(INTERVAL_MS)} ms`, viaRedis),
        row('(c) baseline: one HINCRBYFLOAT per record, aggregate and metric, pipelined per batch', baseline),
        '',
        `Goals: ≥ ${count(RATE_GOAL)} records per CPU-second with Redis snapshots (worker + Redis): ${n(rate)}, ${fraction(rate, RATE_GOAL)} of it (${rate !== undefined && rate >= RATE_GOAL ? 'met' : 'not met'}); ≥ ${RATIO_GOAL}× the baseline by CPU: ${n(ratioByCpu, 1)}×, ${fraction(ratioByCpu, RATIO_GOAL)} of it (${ratioByCpu !== undefined && ratioByCpu >= RATIO_GOAL ? 'met' : 'not met'}); state of ${count(DEVICES)} devices in ≤ ${RSS_GOAL_MIB} MiB of worker RSS: ${n(rss)} MiB after ${first === embedded ? '(a)' : '(b)'}, the process's first run (heap + array buffers ${n(held)} MiB; ${first ? `${count(first.slots!.device + first.slots!.partials)} slots, ${n((first.slots!.device + first.slots!.partials) / DEVICES, 1)} per device` : ''}), ${fraction(rss, RSS_GOAL_MIB)} of it (${rss !== undefined && rss <= RSS_GOAL_MIB ? 'met' : 'not met'}); restore of a shard of ${count(DEVICES_OF[0]!.length)} devices ≤ ${count(RESTORE_GOAL_MS)} ms: ${r ? `${n(r.restoreMs)} ms (${count(r.restoredEntries)} entries; ${n(r.untilFirstPullMs)} ms from \`run()\` to the first pull; worker CPU ${n(r.cpuMs)} ms, Redis CPU ${n(r.redisCpuMs)} ms), ${fraction(r.restoreMs, RESTORE_GOAL_MS)} of it (${r.met ? 'met' : 'not met'})` : 'skipped'}. Peak RSS of the process ${n(result.peakRssMiB)} MiB; aggregates emitted (a) ${n(embedded?.aggregates)}, (b) ${n(viaRedis?.aggregates)}; late records (b) ${n(viaRedis?.late)}.`,
      ],
    });
  }
}

await main();
