/**
 * One run in the in-process mode: the workload generated straight into the topology (no servers),
 * a memory Hot store and in-memory Warm tables unless a Warm URL is given. CPU-bound: it measures the
 * pipeline, and the generator's own time is measured and reported beside it. After the run, the
 * same workload goes through a pass-through topology for the in-run baseline.
 */

import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { openWarmStore, type WarmStore, warmStoreConfigSchema } from '../../sinks/postgres/store.ts';
import { type RuntimeMetricsSnapshot, systemClock, TopologyRuntime } from '../../topology/index.ts';
import { dueBy, scaleProfile } from '../workloads/profiles.ts';
import type { Workload } from '../workloads/workload.ts';
import { createGenerator } from '../workloads/workload.ts';
import { passThroughBaseline } from './baselines.ts';
import type { KnobValues } from './knobs.ts';
import { machineCpuSeconds, ownCpuSeconds } from './machine.ts';
import { countingLogger, ratesBetween, Sampler, tripsPerBatch, VisibilityTracker } from './measure.ts';
import { buildBenchPipeline, KNOB_DEFAULTS } from './pipeline.ts';
import type { RunResult } from './result.ts';
import { DRAIN_TIMEOUT_MS, type RunOptions } from './runOptions.ts';

const TICK_MS = 250;

/** Runs one in-process measurement of `knobs`. */
export async function runInProcess(
  workload: Workload,
  knobs: KnobValues,
  repeat: number,
  options: RunOptions,
): Promise<RunResult> {
  const clock = systemClock;
  const generator = createGenerator(workload);
  let warm: WarmStore | undefined;
  if (options.postgresUrl !== undefined) {
    warm = openWarmStore(warmStoreConfigSchema.parse({ writeUrl: options.postgresUrl }));
    await migrateWarm(warm.write);
  }
  try {
    const log = countingLogger(options.log);
    const pipeline = buildBenchPipeline('in-process', workload, knobs, {
      specs: options.specs,
      clock,
      log,
      input: { kind: 'generated', generator },
      warm,
      redisUrl: options.redisUrl,
      markerIntervalMs: options.markerIntervalMs,
      paced: options.paced,
    });
    const generated = pipeline.generated!;
    const before = await pipeline.totals();
    await pipeline.probe.start();
    const pollMs = warm === undefined ? 25 : 50;
    const tracker = new VisibilityTracker(pipeline.probe, () => generated.markers, clock);
    const sampler = new Sampler();
    const runtime = new TopologyRuntime(pipeline.topology, pipeline.runtime);
    const done = runtime.run();
    done.catch(() => {});

    const started = clock.now();
    const total = options.warmupMs + options.durationMs;
    let measuring = false;
    let lastRead = 0;
    const poller = setInterval(() => void tracker.poll().catch(() => {}), pollMs);
    const ticker = setInterval(() => {
      const m = runtime.metrics();
      sampler.sample(m, measuring);
      const elapsed = clock.now() - started;
      const read = m.nodes.find((n) => n.node === 'decode')?.recordsIn ?? 0;
      const rate = Math.round((read - lastRead) / (TICK_MS / 1000));
      lastRead = read;
      const phase = elapsed < options.warmupMs ? 'warming up' : elapsed < total ? 'measuring' : 'draining';
      options.progress(Math.min(0.99, elapsed / total), `${phase}  ${rate.toLocaleString('en-US')} rec/s`);
    }, TICK_MS);

    let a: RuntimeMetricsSnapshot | undefined;
    let b: RuntimeMetricsSnapshot | undefined;
    let windowStart = 0;
    let windowEnd = 0;
    // When the store was last polled: a marker unseen by then took at least this long.
    let lookedUntil = 0;
    let cpuA = 0;
    let cpuB = 0;
    let genA = 0;
    let genB = 0;
    let machineA = machineCpuSeconds();
    let machineB = machineA;
    let tripsA: number | undefined;
    let tripsB: number | undefined;
    let redisA: number | undefined;
    let redisB: number | undefined;
    try {
      await Promise.race([clock.sleep(options.warmupMs), done]);
      a = runtime.metrics();
      cpuA = ownCpuSeconds();
      genA = generated.generatorMs();
      tripsA = pipeline.roundTrips();
      redisA = pipeline.redisRoundTrips();
      machineA = machineCpuSeconds();
      windowStart = clock.now();
      measuring = true;
      await Promise.race([clock.sleep(options.durationMs), done]);
      b = runtime.metrics();
      cpuB = ownCpuSeconds();
      genB = generated.generatorMs();
      tripsB = pipeline.roundTrips();
      redisB = pipeline.redisRoundTrips();
      machineB = machineCpuSeconds();
      windowEnd = clock.now();
      measuring = false;
      generated.stop();
      await Promise.race([done, clock.sleep(DRAIN_TIMEOUT_MS)]);
      const drainUntil = clock.now() + 10_000;
      while (tracker.pending() > 0 && clock.now() < drainUntil) {
        await tracker.poll();
        await clock.sleep(pollMs);
      }
    } finally {
      lookedUntil = clock.now();
      clearInterval(poller);
      clearInterval(ticker);
      generated.stop();
      await runtime.stop();
      await done.catch(() => {});
      await pipeline.close();
    }
    if (runtime.error !== undefined) throw runtime.error;
    const seconds = (windowEnd - windowStart) / 1000;
    const rates = ratesBetween(a!, b!, seconds);
    const latency = tracker.latencies(windowStart, windowEnd, lookedUntil);
    const after = await pipeline.totals();
    const markers = generated.markers.length;
    const stored = after.stored - before.stored - markers;
    const deadLetters = after.deadLetters - before.deadLetters;
    const cpuSeconds = cpuB - cpuA;
    const generatorSeconds = (genB - genA) / 1000;
    const perMillion = (s: number) => (rates.completed > 0 ? (s * 1e6) / rates.completed : Number.NaN);
    const sinkBatches = Object.values(rates.sinkBatches).reduce((x, y) => x + y, 0);
    const profile = knobs.rate === undefined ? workload.profile : scaleProfile(workload.profile, knobs.rate);
    const endToEnd = rates.completed / seconds;
    options.progress(0.99, 'baseline: pass-through topology');
    const baseline = options.baseline
      ? await passThroughBaseline(
          createGenerator(workload),
          {
            shards: knobs.shards ?? KNOB_DEFAULTS.shards,
            batch: knobs.batch ?? 500,
            maxInFlight: knobs.maxInFlight ?? KNOB_DEFAULTS.maxInFlight,
            warmupMs: Math.min(options.warmupMs, 2000),
            durationMs: Math.min(options.durationMs, 10_000),
            clock,
          },
          endToEnd,
        )
      : undefined;
    return {
      repeat,
      seconds,
      offeredPerSecond: options.paced ? dueBy(profile, seconds) / seconds : undefined,
      recordsPerSecond: {
        read: rates.read / seconds,
        endToEnd,
        telemetry: rates.stages.decode?.out ?? 0,
      },
      stages: rates.stages,
      latencyMs: latency.summary,
      latencyTimeline: latency.timeline,
      markers: { sent: latency.sent, unseen: latency.unseen, store: pipeline.probe.store, pollMs },
      cpu: {
        shardflowSeconds: cpuSeconds,
        shardflowCores: cpuSeconds / seconds,
        perMillionRecords: perMillion(cpuSeconds),
        generatorSeconds,
        perMillionExcludingGenerator: perMillion(cpuSeconds - generatorSeconds),
        machineBusyCores:
          machineA === undefined || machineB === undefined
            ? undefined
            : (machineB.busy - machineA.busy) / seconds,
      },
      peakRssMiB: sampler.peakRssBytes / 2 ** 20,
      roundTripsPerBatch: tripsPerBatch(tripsA, tripsB, sinkBatches),
      redisRoundTripsPerBatch: tripsPerBatch(redisA, redisB, rates.batches.windows),
      millisBehindLatest: sampler.millisBehindLatest(),
      eventLoopDelayMs: sampler.eventLoopDelayMs(),
      warnings: log.counts(),
      baseline,
      setup: {
        windowState: options.redisUrl === undefined ? 'embedded' : 'redis',
        hot: warm === undefined ? 'memory' : 'postgresql',
        cold: 'none',
      },
      accounting: {
        envelopes: generated.envelopes(),
        malformed: generator.counts.malformed,
        expectedTelemetry: generator.counts.telemetry,
        stored,
        deadLetters,
        balanced: stored === generator.counts.telemetry && deadLetters === generator.counts.malformed,
      },
    };
  } finally {
    await warm?.close();
  }
}
