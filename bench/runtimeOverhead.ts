/**
 * What the runtime costs: the worker's first telemetry operators (decode by spec, enrich from an
 * in-memory directory holding the fleet) over the same simulated records, (a) called in a plain
 * loop — the baseline — and (b) run by the topology runtime from an in-memory source with 4 shards
 * into no-op sinks. Reported as records/s
 * and as the ratio b/a measured in the same run, so it holds on a noisy machine.
 *
 *   npx tsx bench/runtimeOverhead.ts [--records N] [--batch N] [--runs N]
 */
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { simulatedFleet } from '../gateways/simulator/fleet.ts';
import { SpecRegistry } from '../operators/decode/registry.ts';
import { decodeBySpec } from '../operators/decodeBySpec.ts';
import { memoryDeviceDirectory } from '../operators/enrich/directory.ts';
import { enrich, enrichConfigSchema } from '../operators/enrich.ts';
import {
  type Enriched,
  ManualClock,
  MemorySource,
  type RawRecord,
  TopologyBuilder,
  TopologyRuntime,
} from '../topology/index.ts';
import { count, writeLatestFigures } from './results.ts';

const { values } = parseArgs({
  options: {
    results: { type: 'boolean', default: false },
    records: { type: 'string', default: '400000' },
    batch: { type: 'string', default: '500' },
    runs: { type: 'string', default: '5' },
    out: { type: 'string' },
  },
});
const RECORDS = Number(values.records);
const BATCH = Number(values.batch);
const RUNS = Number(values.runs);
const SHARDS = 4;
const START = Date.now() - 600_000; // event times from 10 min ago, all within the contracts' clock-skew window
const specs = new SpecRegistry(new URL('../specs/examples', import.meta.url).pathname);
specs.load();
const fleet = simulatedFleet({ devices: 10_000, seed: 3 });
// every device placed, as the master data would: enrich answers from its cache after a first lookup
const directory = () =>
  memoryDeviceDirectory(
    new Map(
      fleet.devices.map((d) => [
        d.deviceId,
        [{ from: 0, to: Number.POSITIVE_INFINITY, siteId: d.siteId, customerId: d.customerId }],
      ]),
    ),
  );
const enrichment = () => enrich(enrichConfigSchema.parse({}), directory());

function makeBatches(): RawRecord[][] {
  const encoder = new TextEncoder();
  const batches: RawRecord[][] = [];
  let seq = 0;
  for (let i = 0; i < RECORDS; i += BATCH) {
    const shardId = `shard-${batches.length % SHARDS}`;
    batches.push(
      fleet.batch(START + i, Math.min(BATCH, RECORDS - i)).map((envelope) => ({
        stream: 'bench',
        shardId,
        sequenceNumber: String(++seq),
        partitionKey: 'k',
        arrivedAt: 0,
        data: encoder.encode(JSON.stringify(envelope)),
      })),
    );
  }
  return batches;
}

async function baseline(batches: RawRecord[][]): Promise<number> {
  const parse = decodeBySpec(specs);
  const join = enrichment();
  // the contracts reject event times far from now: the records are made at START, the clock is there
  const clock = new ManualClock(START + RECORDS);
  let joined = 0;
  const started = performance.now();
  for (const batch of batches) {
    const ctx = {
      node: 'x',
      shardId: 's',
      position: { sequenceNumber: '1', subSequenceNumber: 0 },
      clock,
      side: () => {},
    };
    const telemetry = await parse.process(batch, ctx);
    joined += (await join.process(telemetry, ctx)).length;
  }
  if (joined === 0) throw new Error('baseline produced nothing');
  return RECORDS / ((performance.now() - started) / 1000);
}

async function runtime(batches: RawRecord[][]): Promise<number> {
  const source = new MemorySource<RawRecord>();
  let joined = 0;
  const none = () => ({ type: 'none', write: async () => {} });
  const b = new TopologyBuilder('bench');
  const telemetry = b.source('source', source).via('decode', decodeBySpec(specs));
  telemetry.side('dlq').to('dead-letters', none());
  const enriched = telemetry.via('enrich', enrichment());
  enriched.side('dlq').to('enrich-dead-letters', none());
  enriched.rejected().to('enrich-rejected', none());
  enriched.to('sink', {
    type: 'none',
    write: async (batch: readonly Enriched[]) => {
      joined += batch.length;
    },
  });
  const rt = new TopologyRuntime(b.build(), { maxInFlightBatches: 4, checkpointIntervalMs: 0 });
  const started = performance.now();
  const done = rt.run();
  for (const batch of batches) source.push(batch[0]!.shardId, batch);
  source.endAll();
  await done;
  if (joined === 0) throw new Error('runtime produced nothing');
  return RECORDS / ((performance.now() - started) / 1000);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const batches = makeBatches();
const base: number[] = [];
const run: number[] = [];
await baseline(batches); // warm-up
await runtime(batches);
for (let i = 0; i < RUNS; i++) {
  base.push(await baseline(batches));
  run.push(await runtime(batches));
}
const result = {
  benchmark: 'runtime-overhead',
  records: RECORDS,
  batch: BATCH,
  runs: RUNS,
  baselineRecordsPerSecond: Math.round(median(base)),
  runtimeRecordsPerSecond: Math.round(median(run)),
  ratio: Number((median(run) / median(base)).toFixed(3)),
  spread: {
    baseline: [Math.round(Math.min(...base)), Math.round(Math.max(...base))],
    runtime: [Math.round(Math.min(...run)), Math.round(Math.max(...run))],
  },
  peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  machine: {
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  },
  at: new Date().toISOString(),
};
console.log(JSON.stringify(result, null, 2));
if (values.out) writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
if (values.results) {
  const spread = ([lo, hi]: number[]) => `${count(lo!)} – ${count(hi!)}`;
  writeLatestFigures({
    name: 'runtime',
    heading: '## Runtime overhead (`npm run bench:runtime`)',
    command: `npm run bench:runtime -- --records ${RECORDS} --batch ${BATCH} --runs ${RUNS} --results`,
    lines: [
      `${count(RECORDS)} records in ${BATCH}-record batches, median of ${RUNS} runs after a warm-up; peak RSS ${result.peakRssMiB} MiB.`,
      '',
      '| | records/s (median) | spread (min–max) |',
      '|---|---:|---:|',
      `| baseline: plain loop over the operators | ${count(result.baselineRecordsPerSecond)} | ${spread(result.spread.baseline)} |`,
      `| topology runtime (4 shards, in-memory source, no-op sinks) | ${count(result.runtimeRecordsPerSecond)} | ${spread(result.spread.runtime)} |`,
      `| **ratio runtime / baseline** | **${result.ratio.toFixed(2)}** | |`,
    ],
  });
}
