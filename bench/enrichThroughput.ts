/**
 * Enrich throughput on one core: 100,000 devices (a fifth of them moved once during the day, and
 * every site's customer changing once), readings of random devices at random times of the day in
 * 500-record batches (a Kinesis page).
 *
 *   warm   the `enrich` operator with every device cached: records/s and the cache hit ratio
 *   cold   a fresh operator over the same batches: directory round trips per batch (must stay 1)
 *   base   a naive resolver on the same master data: per record, a Map of plain objects holding the
 *          device's assignments and the site's ownerships as Date periods, filtered in order
 *
 * The warm operator and the baseline alternate, 5 runs each, median; both give the same ids
 * (asserted first). The directory is in memory, so the figures are the operator's own cost.
 *
 *   npx tsx bench/enrichThroughput.ts [--runs N] [--records N] [--devices N]
 */
import { deepStrictEqual } from 'node:assert';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { type DevicePlacement, memoryDeviceDirectory } from '../operators/enrich/directory.ts';
import { enrich, enrichConfigSchema } from '../operators/enrich.ts';
import {
  type DeadLetter,
  type Enriched,
  ManualClock,
  type OperatorContext,
  type Telemetry,
} from '../topology/index.ts';
import { count, writeLatestFigures } from './results.ts';

const { values } = parseArgs({
  options: {
    results: { type: 'boolean', default: false },
    runs: { type: 'string', default: '5' },
    records: { type: 'string', default: '1000000' },
    devices: { type: 'string', default: '100000' },
  },
});
const RUNS = Number(values.runs);
const RECORDS = Number(values.records);
const DEVICES = Number(values.devices);
const SITES = Math.max(1, Math.floor(DEVICES / 50));
const BATCH = 500;
const DAY = Date.UTC(2026, 10, 22);
const HOUR = 3_600_000;

// mulberry32: a small seeded generator, so every run measures the same workload
let seed = 42;
const rnd = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
};

// master data: device → site periods, site → customer periods
interface Period {
  readonly target: string;
  readonly from: Date;
  readonly to: Date | null;
}
const deviceSites = new Map<string, Period[]>();
const siteCustomers = new Map<string, Period[]>();
for (let s = 0; s < SITES; s++) {
  const change = new Date(DAY + Math.floor(rnd() * 24) * HOUR);
  siteCustomers.set(`site-${s}`, [
    { target: `cust-${s % 997}`, from: new Date(DAY - 30 * 24 * HOUR), to: change },
    { target: `cust-${(s + 1) % 997}`, from: change, to: null },
  ]);
}
for (let d = 0; d < DEVICES; d++) {
  const first = `site-${Math.floor(rnd() * SITES)}`;
  const since = new Date(DAY - 10 * 24 * HOUR);
  if (d % 5 === 0) {
    const move = new Date(DAY + Math.floor(rnd() * 24 * HOUR));
    deviceSites.set(`dev-${d}`, [
      { target: first, from: since, to: move },
      { target: `site-${Math.floor(rnd() * SITES)}`, from: move, to: null },
    ]);
  } else deviceSites.set(`dev-${d}`, [{ target: first, from: since, to: null }]);
}

// the same master data as the directory answers it: placements cut where a site's customer changed
function placementsOf(deviceId: string): DevicePlacement[] {
  const out: DevicePlacement[] = [];
  for (const a of deviceSites.get(deviceId)!) {
    const aFrom = a.from.getTime();
    const aTo = a.to?.getTime() ?? Number.POSITIVE_INFINITY;
    for (const o of siteCustomers.get(a.target)!) {
      const from = Math.max(aFrom, o.from.getTime());
      const to = Math.min(aTo, o.to?.getTime() ?? Number.POSITIVE_INFINITY);
      if (from < to) out.push({ from, to, siteId: a.target, customerId: o.target });
    }
  }
  return out;
}
const directoryData = new Map([...deviceSites.keys()].map((id) => [id, placementsOf(id)]));

function reading(i: number): Telemetry {
  const device = `dev-${Math.floor(rnd() * DEVICES)}`;
  const at = DAY + Math.floor(rnd() * 24 * HOUR);
  return {
    device_id: device,
    device_timestamp: at,
    productId: 'thermo-t1',
    metrics: { temperature: 20 + (i % 7), humidity: 40 },
    ingest_timestamp: at + 800,
    rawRef: {
      protocol: 'mqtt',
      format: 'json',
      stream: 'telemetry',
      shardId: 's0',
      sequenceNumber: String(i),
    },
  };
}
const batches: Telemetry[][] = [];
for (let i = 0; i < RECORDS; i += BATCH)
  batches.push(Array.from({ length: Math.min(BATCH, RECORDS - i) }, (_, k) => reading(i + k)));

/** The baseline: per record, filter the device's assignments, then the site's ownerships. */
function naiveResolve(batch: readonly Telemetry[]): Enriched[] {
  const out: Enriched[] = [];
  for (const r of batch) {
    const t = new Date(r.device_timestamp);
    const a = (deviceSites.get(r.device_id) ?? []).filter(
      (p) => p.from <= t && (p.to === null || t < p.to),
    )[0];
    const o =
      a === undefined
        ? undefined
        : (siteCustomers.get(a.target) ?? []).filter((p) => p.from <= t && (p.to === null || t < p.to))[0];
    out.push({ ...r, site_id: a?.target ?? null, customer_id: o?.target ?? null });
  }
  return out;
}

const clock = new ManualClock(DAY + 24 * HOUR);
const ctx: OperatorContext<{ dlq: DeadLetter }> = {
  node: 'enrich',
  shardId: 's0',
  position: { sequenceNumber: '1', subSequenceNumber: 0 },
  clock,
  side: () => {},
};
const config = enrichConfigSchema.parse({ cacheSize: DEVICES * 2, ttlMs: 24 * HOUR });

// cold: a fresh operator over the batches, counting round trips per batch
const coldDirectory = memoryDeviceDirectory(directoryData);
const cold = enrich(config, coldDirectory);
let maxTrips = 0;
let batchesWithMisses = 0;
for (const batch of batches) {
  const before = coldDirectory.roundTrips;
  await cold.process(batch, ctx);
  const trips = coldDirectory.roundTrips - before;
  maxTrips = Math.max(maxTrips, trips);
  if (trips > 0) batchesWithMisses++;
}

// warm: every device cached
const warm = enrich(config, memoryDeviceDirectory(directoryData));
await warm.process(
  [...deviceSites.keys()].map((id, i) => ({ ...reading(i), device_id: id })),
  ctx,
);
for (const batch of batches.slice(0, 50)) {
  const got = ((await warm.process(batch, ctx)) as Enriched[]).map((r) => [r.site_id, r.customer_id]);
  deepStrictEqual(
    got,
    naiveResolve(batch).map((r) => [r.site_id, r.customer_id]),
  );
}

interface Rate {
  /** records per wall-clock second */
  readonly wall: number;
  /** records per second of this process's CPU time: the one-core figure on a shared machine */
  readonly cpu: number;
}

async function measure(run: () => unknown): Promise<Rate> {
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  await run();
  const wall = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu0);
  return { wall: RECORDS / wall, cpu: RECORDS / ((used.user + used.system) / 1e6) };
}
const timeWarm = () =>
  measure(async () => {
    for (const batch of batches) await warm.process(batch, ctx);
  });
const timeNaive = () =>
  measure(() => {
    for (const batch of batches) naiveResolve(batch);
  });

await timeWarm();
await timeNaive();
const statsBefore = warm.stats();
const warmRuns: Rate[] = [];
const naiveRuns: Rate[] = [];
for (let r = 0; r < RUNS; r++) {
  warmRuns.push(await timeWarm());
  naiveRuns.push(await timeNaive());
}
const statsAfter = warm.stats();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const hits = statsAfter.cacheHits - statsBefore.cacheHits;
const total = statsAfter.records - statsBefore.records;

console.log(
  `enrich throughput: ${DEVICES.toLocaleString('en-US')} devices, ${RECORDS.toLocaleString('en-US')} records in ${BATCH}-record batches`,
);
console.log(`machine: ${cpus()[0]?.model ?? '?'} x${cpus().length}, Node ${process.version}`);
const line = (label: string, runs: Rate[]) => {
  const wall = runs.map((r) => r.wall);
  const cpu = runs.map((r) => r.cpu);
  console.log(
    `${label} per CPU-second median ${fmt(median(cpu))}  wall median ${fmt(median(wall))} records/s  runs (wall) ${wall.map(fmt).join(' · ')}`,
  );
};
line('warm enrich ', warmRuns);
line('naive base  ', naiveRuns);
const ratio = (pick: (r: Rate) => number) =>
  (median(warmRuns.map(pick)) / median(naiveRuns.map(pick))).toFixed(1);
console.log(
  `ratio warm / naive: ${ratio((r) => r.cpu)} per CPU-second, ${ratio((r) => r.wall)} wall  (goal: warm >= 2,000,000 records/s on one core)`,
);
console.log(`warm cache hit ratio: ${(hits / total).toFixed(4)} (${fmt(hits)} of ${fmt(total)})`);
console.log(
  `cold: ${batches.length} batches, ${batchesWithMisses} with misses, max round trips per batch ${maxTrips}, ` +
    `hit ratio ${(cold.stats().cacheHits / cold.stats().records).toFixed(4)}`,
);
if (values.results) {
  const warmCpu = median(warmRuns.map((r) => r.cpu));
  writeLatestFigures({
    name: 'enrich',
    heading: '## Enrich (`npx tsx bench/enrichThroughput.ts`)',
    command: `npm run bench:enrich -- --runs ${RUNS} --records ${RECORDS} --devices ${DEVICES} --results`,
    lines: [
      `${count(DEVICES)} devices, ${count(RECORDS)} records in ${BATCH}-record batches, the two alternating, median of ${RUNS}.`,
      '',
      '| | records per CPU-second | records/s (wall) |',
      '|---|---:|---:|',
      `| enrich operator, warm cache | ${count(warmCpu)} | ${count(median(warmRuns.map((r) => r.wall)))} |`,
      `| baseline: naive resolver | ${count(median(naiveRuns.map((r) => r.cpu)))} | ${count(median(naiveRuns.map((r) => r.wall)))} |`,
      `| **ratio** | **${ratio((r) => r.cpu)}** | ${ratio((r) => r.wall)} |`,
      '',
      `Goal 2,000,000 records/s on one core: ${warmCpu >= 2_000_000 ? 'met' : 'not met'} (${(warmCpu / 2_000_000).toFixed(2)} of it, per CPU-second). Warm cache hit ratio ${(hits / total).toFixed(4)}; cold cache: at most ${maxTrips} directory round trip(s) per batch (goal 1).`,
    ],
  });
}
