/**
 * The topology under test, built in ONE place for every mode: `buildBenchPipeline` takes the mode,
 * the workload and the sweep point's knob values and returns the topology, its source, the stores'
 * visibility probe and the runtime options. The topology is the worker's own
 * (`buildTelemetryTopology` from `cli/telemetryTopology.ts`): decode → enrich → windows → Hot and
 * Warm sinks, with the hourly count and the dead-letter sinks, so the benchmark runs what
 * `shardflow run` runs. What differs, and why:
 * - master data: the workload's fleet is given to enrich as an in-memory directory (the PostgreSQL
 *   directory's own cost is measured by `bench:enrich`); there is no churn;
 * - window state: embedded, or Redis when `env.redisUrl` is set;
 * - stores: in memory (counting sinks) unless a Warm store is given, then the PostgreSQL Hot tables
 *   and the Warm daily aggregates in it; no Cold sink (its commit cost is in `bench:parquet`).
 */

import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { buildTelemetryTopology } from '../../cli/telemetryTopology.ts';
import type { SpecRegistry } from '../../operators/decode/registry.ts';
import { decodeBySpec } from '../../operators/decodeBySpec.ts';
import { type DevicePlacement, memoryDeviceDirectory } from '../../operators/enrich/directory.ts';
import { enrich, enrichConfigSchema } from '../../operators/enrich.ts';
import { windowAggregate, windowAggregateConfigSchema } from '../../operators/windowAggregate.ts';
import { hotAggregateSink } from '../../sinks/hot/hotAggregateSink.ts';
import { hotTelemetrySink } from '../../sinks/hot/hotTelemetrySink.ts';
import { postgresHotStore } from '../../sinks/hot/postgresHotStore.ts';
import { warmDailyAggregateSink } from '../../sinks/warm/dailyAggregateSink.ts';
import { deadLetterSink } from '../../sinks/warm/deadLetterSink.ts';
import { hourlyCountSink } from '../../sinks/warm/hourlyCountSink.ts';
import type { WarmStore } from '../../sinks/warm/store.ts';
import { kclSource } from '../../sources/kinesis/kclSource.ts';
import { embeddedWindowState } from '../../state/embeddedWindowState.ts';
import { redisWindowState } from '../../state/redisWindowState.ts';
import type { Clock, Logger, RawRecord, RuntimeOptions, Source, Topology } from '../../topology/index.ts';
import { buildFleet } from '../workloads/fleet.ts';
import { scaleProfile } from '../workloads/profiles.ts';
import type { Workload, WorkloadGenerator } from '../workloads/workload.ts';
import { type GeneratedSource, generatedSource } from './generatedSource.ts';
import { type BenchMode, type KnobValues, SweepError } from './knobs.ts';
import { countingSink, memoryWarm } from './memoryStores.ts';
import { hourlyCountProbe, type VisibilityProbe } from './probe.ts';
import { countedWarm, sqlHourlyCounts, warmTotals } from './warmStores.ts';

/** Knobs the current topology honours, per mode. */
export const SUPPORTED_KNOBS: Readonly<Record<BenchMode, readonly string[]>> = {
  'in-process': ['batch', 'maxInFlight', 'checkpointMs', 'shards', 'rate', 'flushMs'],
  'local-stack': ['batch', 'maxInFlight', 'checkpointMs', 'shards', 'rate', 'flushMs'],
  // The remote stream exists already: its shard count is the stream's, not the benchmark's.
  remote: ['batch', 'maxInFlight', 'checkpointMs', 'rate', 'flushMs'],
};

/** Values of knobs not swept. */
export const KNOB_DEFAULTS = { maxInFlight: 4, checkpointMs: 1000, shards: 4 } as const;

/** Refuses a knob the topology under test would ignore, saying why. */
export function checkKnobs(mode: BenchMode, point: KnobValues): void {
  for (const knob of Object.keys(point)) {
    if (SUPPORTED_KNOBS[mode].includes(knob)) continue;
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

  // The workload's fleet is the master data: every device placed since the epoch.
  const placements = new Map<string, readonly DevicePlacement[]>(
    buildFleet(workload).devices.map((d) => [
      d.deviceId,
      [{ from: 0, to: Number.POSITIVE_INFINITY, siteId: d.siteId, customerId: d.customerId }],
    ]),
  );
  const windowConfig = windowAggregateConfigSchema.parse(
    knobs.flushMs === undefined ? {} : { flushIntervalMs: knobs.flushMs },
  );
  const windowState = env.redisUrl
    ? redisWindowState({ redisUrl: env.redisUrl, namespace: `bench-${env.clock.now()}` })
    : embeddedWindowState();
  const hot = counted
    ? postgresHotStore(counted.store, { retentionDays: 10, ownsEndpoints: false })
    : undefined;
  const telemetry = buildTelemetryTopology('bench', {
    source,
    decode: decodeBySpec(env.specs),
    enrich: enrich(enrichConfigSchema.parse({}), memoryDeviceDirectory(placements)),
    windows: windowAggregate(windowConfig, windowState),
    hourlyCounts: memory ? memory.hourlyCounts : hourlyCountSink(counted!.store.write),
    hotTelemetry: hot ? hotTelemetrySink(hot) : countingSink('hot.telemetry'),
    hotAggregates: hot ? hotAggregateSink(hot) : countingSink('hot.aggregates'),
    dailyAggregates: hot
      ? warmDailyAggregateSink(counted!.store.write)
      : countingSink('warm.daily_aggregates'),
    deadLetters: memory ? memory.deadLetters : () => deadLetterSink(counted!.store.write),
  });
  return {
    topology: telemetry.topology,
    source,
    generated,
    probe,
    runtime: {
      clock: env.clock,
      log: env.log,
      maxInFlightBatches: knobs.maxInFlight ?? KNOB_DEFAULTS.maxInFlight,
      checkpointIntervalMs: knobs.checkpointMs ?? KNOB_DEFAULTS.checkpointMs,
    },
    sinkNodes: [
      'hourly-counts',
      'hot-telemetry',
      'hot-aggregates',
      'daily-aggregates',
      'dead-letters',
      'kpl-dead-letters',
      'enrich-dead-letters',
      'late-dead-letters',
    ],
    roundTrips: () => counted?.roundTrips(),
    totals: async () =>
      memory
        ? { counted: memory.counted(), deadLetters: memory.deadLetterCount() }
        : warmTotals(env.warm!.read),
  };
}
