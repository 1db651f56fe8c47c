/**
 * The topology under test, built in ONE place for every mode: `buildBenchPipeline` takes the mode,
 * the workload and the sweep point's knob values and returns the topology, its source, the stores'
 * visibility probe and the runtime options. It builds the first slice's stages with the same
 * components and node names as the worker's topology (`cli/telemetryTopology.ts`), which is being
 * extended with the later stages; once it is, this function should call `buildTelemetryTopology`
 * with the components below plus the new ones, so the benchmark runs what `shardflow run` runs.
 *
 * Where the later stages plug in (when `TelemetryComponents` grows them):
 * - enrich: build it here from `env.warm` (master data) and `workload`'s fleet, and pass it with
 *   the other components; the workload's `changes()` stream is the master-data churn to feed it;
 * - windows with Redis state: take `env.redisUrl`, and add `flushMs` to `SUPPORTED_KNOBS` mapped to
 *   the window's flush interval;
 * - Hot/Warm/Cold sinks: add them to the components; give the Hot store's `VisibilityProbe` instead
 *   of the hourly-count probe, so latency is measured to the Hot store.
 */

import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { countPerProductHour } from '../../operators/countPerProductHour.ts';
import type { SpecRegistry } from '../../operators/decode/registry.ts';
import { decodeBySpec } from '../../operators/decodeBySpec.ts';
import { deadLetterSink } from '../../sinks/warm/deadLetterSink.ts';
import { hourlyCountSink } from '../../sinks/warm/hourlyCountSink.ts';
import type { WarmStore } from '../../sinks/warm/store.ts';
import { kclSource } from '../../sources/kinesis/kclSource.ts';
import { kplDeaggregation } from '../../sources/kinesis/kplDeaggregation.ts';
import {
  type Clock,
  type Logger,
  type RawRecord,
  type RuntimeOptions,
  type Source,
  type Topology,
  TopologyBuilder,
} from '../../topology/index.ts';
import { scaleProfile } from '../workloads/profiles.ts';
import type { Workload, WorkloadGenerator } from '../workloads/workload.ts';
import { type GeneratedSource, generatedSource } from './generatedSource.ts';
import { type BenchMode, type KnobValues, SweepError } from './knobs.ts';
import { memoryWarm } from './memoryStores.ts';
import { hourlyCountProbe, type VisibilityProbe } from './probe.ts';
import { countedWarm, sqlHourlyCounts, warmTotals } from './warmStores.ts';

/** Knobs the current topology honours, per mode. */
export const SUPPORTED_KNOBS: Readonly<Record<BenchMode, readonly string[]>> = {
  'in-process': ['batch', 'maxInFlight', 'checkpointMs', 'shards', 'rate'],
  'local-stack': ['batch', 'maxInFlight', 'checkpointMs', 'shards', 'rate'],
  // The remote stream exists already: its shard count is the stream's, not the benchmark's.
  remote: ['batch', 'maxInFlight', 'checkpointMs', 'rate'],
};

/** Values of knobs not swept. */
export const KNOB_DEFAULTS = { maxInFlight: 4, checkpointMs: 1000, shards: 4 } as const;

/** Refuses a knob the topology under test would ignore, saying why. */
export function checkKnobs(mode: BenchMode, point: KnobValues): void {
  for (const knob of Object.keys(point)) {
    if (SUPPORTED_KNOBS[mode].includes(knob)) continue;
    if (knob === 'flushMs')
      throw new SweepError(
        'flushMs: no stage of the benchmarked topology has a flush interval yet (windows and the Hot/Warm/Cold sinks that will have one are not in bench/harness/pipeline.ts); refusing a knob that would change nothing',
      );
    if (knob === 'shards' && mode === 'remote')
      throw new SweepError('shards: the remote stream exists with its own shard count; reshard it instead');
    throw new SweepError(`${knob}: not supported in ${mode} mode`);
  }
}

/** Where the benchmark's records come from. */
export type BenchInput =
  | { readonly kind: 'generated'; readonly generator: WorkloadGenerator }
  | {
      readonly kind: 'kinesis';
      readonly streamName: string;
      readonly region: string;
      readonly endpoint?: string;
      readonly leaseTable: string;
      /** Where shards without a checkpoint start: a fresh stream from its start, a shared one from its tip. */
      readonly startPosition: 'TRIM_HORIZON' | 'LATEST';
      readonly dynamodbEndpoint?: string;
      readonly kinesis?: KinesisClient;
      /** Marker partition keys, one per shard, chosen by the caller from the shards' hash ranges. */
      readonly laneKeys: readonly string[];
    };

/** What the pipeline is built with besides the knobs. */
export interface BenchEnvironment {
  readonly specs: SpecRegistry;
  readonly clock: Clock;
  readonly log: Logger;
  readonly input: BenchInput;
  /** The Warm store (PostgreSQL or PGlite); in-memory tables when absent. */
  readonly warm?: WarmStore;
  /** Redis, for the window state when the windows are wired in. */
  readonly redisUrl?: string;
  readonly markerIntervalMs: number;
  /** In-process: pace generation by the workload's profile instead of generating flat out. */
  readonly paced: boolean;
}

/** The built topology and what the harness measures it with. */
export interface BenchPipeline {
  readonly topology: Topology;
  readonly source: Source<RawRecord>;
  /** Set in-process: the generated source (markers, generator time, stop). */
  readonly generated?: GeneratedSource;
  readonly probe: VisibilityProbe;
  readonly runtime: RuntimeOptions;
  /** Sink nodes whose batches are store writes. */
  readonly sinkNodes: readonly string[];
  /** Round trips made to the stores so far; undefined when the stores do not count them. */
  roundTrips(): number | undefined;
  /** Records counted and dead letters held by the stores, read from the stores. */
  totals(): Promise<{ counted: number; deadLetters: number }>;
}

/** Builds the topology under test for one sweep point. */
export function buildBenchPipeline(
  mode: BenchMode,
  workload: Workload,
  knobs: KnobValues,
  env: BenchEnvironment,
): BenchPipeline {
  checkKnobs(mode, knobs);
  const shards = knobs.shards ?? KNOB_DEFAULTS.shards;
  const profile = knobs.rate === undefined ? workload.profile : scaleProfile(workload.profile, knobs.rate);
  const memory = env.warm === undefined ? memoryWarm() : undefined;
  const counted = env.warm === undefined ? undefined : countedWarm(env.warm);
  const laneKeys =
    env.input.kind === 'kinesis'
      ? env.input.laneKeys
      : Array.from({ length: shards }, (_, i) => `bench-marker-${i}`);
  const probe = hourlyCountProbe(
    'warm.product_hourly_counts',
    memory ? memory.read : sqlHourlyCounts(env.warm!.read),
    laneKeys,
    env.clock.now(),
  );

  let source: Source<RawRecord>;
  let generated: GeneratedSource | undefined;
  if (env.input.kind === 'generated') {
    generated = generatedSource({
      generator: env.input.generator,
      probe,
      shards,
      batch: knobs.batch ?? 500,
      profile: env.paced ? profile : undefined,
      markerIntervalMs: env.markerIntervalMs,
      clock: env.clock,
    });
    source = generated;
  } else {
    const input = env.input;
    source = kclSource(
      {
        streamName: input.streamName,
        region: input.region,
        endpoint: input.endpoint,
        maxRecords: knobs.batch ?? 10_000,
        startPosition: input.startPosition,
        idleTimeBetweenReadsMs: 200,
        maxIdleTimeMs: 1000,
      },
      { tableName: input.leaseTable, endpoint: input.dynamodbEndpoint, takeIntervalMs: 500 },
      { clock: env.clock, log: env.log, kinesis: input.kinesis },
    );
  }

  // The first slice's stages, node for node as cli/telemetryTopology.ts names them (see the top of
  // this file for where enrich, windows and the Hot/Cold sinks go).
  const b = new TopologyBuilder('bench');
  const userRecords = b.source('kinesis', source).via('kpl-deaggregation', kplDeaggregation());
  const deadLetters = memory ? memory.deadLetters : () => deadLetterSink(counted!.store.write);
  userRecords.side('dlq').to('kpl-dead-letters', deadLetters());
  const telemetry = userRecords.via('decode', decodeBySpec(env.specs));
  telemetry.side('dlq').to('dead-letters', deadLetters());
  telemetry
    .via('count-per-product-hour', countPerProductHour())
    .to('hourly-counts', memory ? memory.hourlyCounts : hourlyCountSink(counted!.store.write));
  return {
    topology: b.build(),
    source,
    generated,
    probe,
    runtime: {
      clock: env.clock,
      log: env.log,
      maxInFlightBatches: knobs.maxInFlight ?? KNOB_DEFAULTS.maxInFlight,
      checkpointIntervalMs: knobs.checkpointMs ?? KNOB_DEFAULTS.checkpointMs,
    },
    sinkNodes: ['hourly-counts', 'dead-letters', 'kpl-dead-letters'],
    roundTrips: () => counted?.roundTrips(),
    totals: async () =>
      memory
        ? { counted: memory.counted(), deadLetters: memory.deadLetterCount() }
        : warmTotals(env.warm!.read),
  };
}
