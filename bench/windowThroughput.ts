/**
 * Window aggregation throughput, decode-free, on one core: pre-built enriched records (devices ×
 * 10 numeric metrics, three products) in batches through `windowAggregate` (1 h, 6 h, 1 day per product
 * and device, daily per customer × product) with (a) the embedded backend and (b) the Redis backend
 * (one script per batch), against (c) a naive Redis baseline measured in the same run: one
 * `HINCRBYFLOAT` per record per aggregate (pipelined per batch, sums only). Also reports Redis round
 * trips per batch, the emissions and the process's peak memory. Redis runs as a throwaway server
 * (or `--redis-url`).
 *
 *   npx tsx bench/windowThroughput.ts [--devices N] [--records N] [--baseline-records N] [--batch N]
 *     [--scopes product,device,customer-product] [--redis-url URL] [--out FILE]
 *     [--skip embedded,redis,baseline]   (e.g. to profile one of them with node --cpu-prof)
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { startRedis } from '../infra/local/redis.ts';
import { windowAggregate, windowAggregateConfigSchema, windowAssigner } from '../operators/windows/index.ts';
import { embeddedWindowState } from '../state/embeddedWindowState.ts';
import { redisWindowState } from '../state/redisWindowState.ts';
import type { WindowStateBackend } from '../state/windowState.ts';
import { type Enriched, ManualClock, type WindowSize } from '../topology/index.ts';
import { machineInfo } from './harness/machine.ts';
import { count, writeLatestFigures } from './results.ts';

const { values } = parseArgs({
  options: {
    results: { type: 'boolean', default: false },
    devices: { type: 'string', default: '100000' },
    records: { type: 'string', default: '50000' },
    'baseline-records': { type: 'string', default: '10000' },
    batch: { type: 'string', default: '500' },
    scopes: { type: 'string', default: 'product,device,customer-product' },
    'redis-url': { type: 'string' },
    out: { type: 'string' },
    skip: { type: 'string', default: '' },
  },
});
const DEVICES = Number(values.devices);
const RECORDS = Number(values.records);
const BASELINE_RECORDS = Number(values['baseline-records']);
const BATCH = Number(values.batch);
const SKIP = new Set(values.skip.split(',').filter((s) => s !== ''));
const METRICS = 10;
const T0 = Date.UTC(2026, 0, 5);
const SPAN = 6 * 3_600_000;
const config = windowAggregateConfigSchema.parse({
  scopes: values.scopes.split(','),
  allowedOutOfOrdernessMs: 300_000,
  allowedLatenessMs: 600_000,
  retentionMs: 2 * 86_400_000,
  flushIntervalMs: 10_000,
  // as before product and customer × product windows had intervals of their own, so figures compare
  customerFlushIntervalMs: 10_000,
});

let peakRss = 0;
const sampleRss = () => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
};

function makeBatches(records: number): Enriched[][] {
  let state = 12345;
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const batches: Enriched[][] = [];
  for (let i = 0; i < records; i += BATCH) {
    const batch: Enriched[] = [];
    for (let j = i; j < Math.min(records, i + BATCH); j++) {
      const device = Math.floor(random() * DEVICES);
      const metrics: Record<string, number> = {};
      for (let m = 0; m < METRICS; m++) metrics[`m${m}`] = Math.round(random() * 10_000) / 100;
      const t = T0 + Math.floor((j / records) * SPAN - random() * 300_000);
      batch.push({
        device_id: `dev-${device}`,
        device_timestamp: t,
        productId: `prod-${device % 3}`,
        metrics,
        ingest_timestamp: t,
        rawRef: {
          protocol: 'mqtt',
          format: 'json',
          stream: 'bench',
          shardId: 'shard-0',
          sequenceNumber: String(j),
        },
        site_id: null,
        customer_id: `cust-${device % 1000}`,
      });
    }
    batches.push(batch);
  }
  return batches;
}

/** CPU seconds a Redis server has used so far (`INFO cpu`). */
async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const user = Number(info.match(/used_cpu_user:([\d.]+)/)?.[1] ?? 0);
  const sys = Number(info.match(/used_cpu_sys:([\d.]+)/)?.[1] ?? 0);
  return user + sys;
}

/**
 * Runs the operator over the batches. Besides wall-clock throughput it reports records per CPU
 * second of this process and of the Redis server (when `admin` is given): on a machine shared with
 * other work the wall clock mostly measures the wait for a core, CPU time measures the work.
 */
async function runOperator(backend: WindowStateBackend, batches: Enriched[][], admin?: Redis) {
  const op = windowAggregate(config, backend);
  const clock = new ManualClock(T0);
  await op.open?.({ node: 'windows', clock, signal: new AbortController().signal });
  let emitted = 0;
  let late = 0;
  const redisCpuBefore = admin ? await redisCpuSeconds(admin) : 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (const [i, batch] of batches.entries()) {
    // 500 records per 100 ms of processing time: a flush every 100 batches
    await clock.advance(100);
    const out = await op.process(batch, {
      node: 'windows',
      shardId: 'shard-0',
      position: { sequenceNumber: String(1_000_000 + i), subSequenceNumber: 0 },
      clock,
      side: () => late++,
    });
    emitted += out.length;
    if (i % 10 === 0) sampleRss();
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const redisCpu = admin ? (await redisCpuSeconds(admin)) - redisCpuBefore : undefined;
  await op.close?.();
  const records = batches.length * BATCH;
  return {
    recordsPerSecond: records / seconds,
    recordsPerProcessCpuSecond: records / cpuSeconds,
    ...(redisCpu === undefined
      ? {}
      : {
          recordsPerRedisCpuSecond: records / redisCpu,
          recordsPerCpuSecond: records / (cpuSeconds + redisCpu),
        }),
    emitted,
    late,
    seconds,
    processCpuSeconds: cpuSeconds,
    ...(redisCpu === undefined ? {} : { redisCpuSeconds: redisCpu }),
  };
}

/** The naive baseline: one HINCRBYFLOAT per record per aggregate (sum only), pipelined per batch. */
async function runBaseline(redis: Redis, batches: Enriched[][]) {
  const assign = windowAssigner(config.zone);
  const sizes: WindowSize[] = config.windows;
  let commands = 0;
  const redisCpuBefore = await redisCpuSeconds(redis);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (const batch of batches) {
    const pipeline = redis.pipeline();
    for (const r of batch) {
      const keys: string[] = [];
      for (const size of sizes) {
        const { start } = assign(r.device_timestamp, size);
        if (config.scopes.includes('product')) keys.push(`naive:product:${size}:${start}:${r.productId}`);
        if (config.scopes.includes('device')) keys.push(`naive:device:${size}:${start}:${r.device_id}`);
      }
      if (config.scopes.includes('customer-product'))
        keys.push(`naive:cp:1d:${assign(r.device_timestamp, '1d').start}:${r.customer_id}:${r.productId}`);
      for (const [metric, value] of Object.entries(r.metrics)) {
        for (const key of keys) {
          pipeline.hincrbyfloat(key, metric, value as number);
          commands++;
        }
      }
    }
    await pipeline.exec();
    sampleRss();
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const redisCpu = (await redisCpuSeconds(redis)) - redisCpuBefore;
  const records = batches.length * BATCH;
  return {
    recordsPerSecond: records / seconds,
    recordsPerProcessCpuSecond: records / ((cpu.user + cpu.system) / 1e6),
    recordsPerRedisCpuSecond: records / redisCpu,
    recordsPerCpuSecond: records / ((cpu.user + cpu.system) / 1e6 + redisCpu),
    commandsPerRecord: commands / records,
  };
}

async function main(): Promise<void> {
  const server = values['redis-url'] ? undefined : await startRedis();
  const redisUrl = values['redis-url'] ?? server!.url;
  const admin = new Redis(redisUrl);
  try {
    const batches = makeBatches(RECORDS);
    const baselineBatches = makeBatches(BASELINE_RECORDS);
    sampleRss();
    // warm-up: JIT and the script cache
    await runOperator(embeddedWindowState(), batches.slice(0, 10));
    const embedded = SKIP.has('embedded') ? undefined : await runOperator(embeddedWindowState(), batches);
    const redis = redisWindowState({ redisUrl, namespace: `bench-${Date.now()}` });
    const viaRedis = SKIP.has('redis') ? undefined : await runOperator(redis, batches, admin);
    const roundTripsPerBatch = redis.roundTrips / batches.length;
    const baseline = SKIP.has('baseline') ? undefined : await runBaseline(admin, baselineBatches);
    const redisMemory = (await admin.info('memory')).match(/used_memory_human:(\S+)/)?.[1];
    const result = {
      at: new Date().toISOString(),
      machine: machineInfo(),
      workload: {
        devices: DEVICES,
        metrics: METRICS,
        records: RECORDS,
        batch: BATCH,
        scopes: config.scopes,
        windows: config.windows,
      },
      embedded,
      redis: viaRedis && { ...viaRedis, roundTripsPerBatch },
      baseline: baseline && { records: BASELINE_RECORDS, ...baseline },
      ...(viaRedis &&
        baseline && {
          ratioRedisToBaseline: viaRedis.recordsPerSecond / baseline.recordsPerSecond,
          // both sides wait for Redis on every batch: client plus server CPU is the time a core needs
          ratioRedisToBaselineByCpu: viaRedis.recordsPerCpuSecond! / baseline.recordsPerCpuSecond,
        }),
      peakRssMiB: Math.round(Math.max(peakRss, process.resourceUsage().maxRSS * 1024) / 2 ** 20),
      redisUsedMemory: redisMemory,
    };
    console.log(JSON.stringify(result, null, 2));
    if (values.out) writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
    if (values.results) {
      const row = (label: string, r?: { recordsPerSecond: number; recordsPerCpuSecond?: number }) =>
        r === undefined
          ? `| ${label} | skipped | |`
          : `| ${label} | ${count(r.recordsPerSecond)} | ${r.recordsPerCpuSecond === undefined ? '–' : count(r.recordsPerCpuSecond)} |`;
      writeLatestFigures({
        name: 'windows',
        heading: '## Windows (`npx tsx bench/windowThroughput.ts`)',
        command: `npm run bench:windows -- --devices ${DEVICES} --records ${RECORDS} --baseline-records ${BASELINE_RECORDS} --results`,
        lines: [
          `The window operator, scopes ${config.scopes.join(', ')}, ${count(DEVICES)} devices, ${METRICS} metrics, ${count(RECORDS)} records in ${BATCH}-record batches (baseline ${count(BASELINE_RECORDS)}); per CPU-second counts the process and Redis.`,
          '',
          '| | records/s | records per CPU-second |',
          '|---|---:|---:|',
          row('embedded state', embedded),
          row('Redis state', viaRedis),
          row('baseline: one HINCRBYFLOAT per record and field (Redis)', baseline),
          ...(result.ratioRedisToBaselineByCpu === undefined
            ? []
            : [
                `| **ratio Redis / baseline** | ${result.ratioRedisToBaseline!.toFixed(1)} | **${result.ratioRedisToBaselineByCpu.toFixed(1)}** |`,
              ]),
          '',
          `Goals: 300,000 records/s (Redis: ${viaRedis ? (viaRedis.recordsPerSecond / 300_000).toFixed(2) : '–'} of it), 20× the baseline (${result.ratioRedisToBaselineByCpu === undefined ? '–' : `${(result.ratioRedisToBaselineByCpu / 20).toFixed(2)} of it`}, per CPU-second); Redis round trips per batch ${roundTripsPerBatch.toFixed(2)}; peak RSS ${result.peakRssMiB} MiB.`,
        ],
      });
    }
  } finally {
    admin.disconnect();
    await server?.stop();
  }
}

await main();
