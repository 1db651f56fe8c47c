/**
 * The topology under test, built in ONE place for every mode: `buildBenchPipeline` takes the mode,
 * the workload and the sweep point's knob values and returns the topology, its source, the stores'
 * visibility probe and the runtime options. The topology is the worker's own
 * (`buildTelemetryTopology` from `cli/telemetryTopology.ts`): decode → enrich → windows → Hot and
 * Warm sinks, with the dead-letter sinks, so the benchmark runs what `shardflow run` runs. What
 * differs, and why:
 * - master data: the workload's fleet (and the latency markers' devices) is given to enrich as an
 *   in-memory directory (the PostgreSQL directory's own cost is measured by `bench:enrich`); the
 *   churn goes on the change stream but no CDC branch applies it;
 * - window state: embedded, or Redis when `env.redisUrl` is set (the local stack always sets it);
 * - stores: in memory (a memory Hot store keeping each device's latest state, dead letters and daily
 *   aggregates counted) unless a Warm store is given, then the PostgreSQL Hot tables, the dead
 *   letters and the Warm daily aggregates in it; the Cold Iceberg table when `env.cold` is given
 *   (local stack: a directory, JDBC catalog in the Warm PostgreSQL).
 * - rules (local stack and remote, the modes with a Warm store of their own): the rules branch
 *   (`rules` → `alarm-events`) runs the example rulesets of the workload's products and the alarm
 *   probe's rule (`probeRules.ts`), writing alarm events through the worker's `alarmEventSink` into
 *   Warm and the Hot open alarms; the rulesets are given to the rule operator as loaded files, as with
 *   `rules.dir` (the catalog of rulesets stored in Warm and its NOTIFY are not under test). In-process
 *   has no rules branch.
 * Latency is read from the Hot store: each marker lane's device's latest state (`hotStateProbe`)
 * and, with rules, each alarm lane's device's open alarms (`hotAlarmProbe`).
 */

import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { buildTelemetryTopology } from '../../cli/telemetryTopology.ts';
import type { SpecRegistry } from '../../operators/decode/registry.ts';
import { decodeBySpec } from '../../operators/decodeBySpec.ts';
import { type DevicePlacement, memoryDeviceDirectory } from '../../operators/enrich/directory.ts';
import { enrich, enrichConfigSchema } from '../../operators/enrich.ts';
import { type RuleOperator, ruleOperator } from '../../operators/rules/ruleOperator.ts';
import { windowAggregate, windowAggregateConfigSchema } from '../../operators/windows/index.ts';
import { alarmEventSink } from '../../sinks/alarms/alarmEventSink.ts';
import { coldConfigSchema, openColdTable } from '../../sinks/cold/catalog/coldTable.ts';
import { coldSink } from '../../sinks/cold/coldSink.ts';
import { threadedDataFiles } from '../../sinks/cold/parquet/threadWriter.ts';
import { deadLetterStoreSink } from '../../sinks/deadletter/deadLetterStore.ts';
import { postgresDeadLetterStore } from '../../sinks/deadletter/postgresDeadLetterStore.ts';
import { hotAggregateSink } from '../../sinks/hot/hotAggregateSink.ts';
import { hotTelemetrySink } from '../../sinks/hot/hotTelemetrySink.ts';
import { postgresHotStore } from '../../sinks/hot/postgresHotStore.ts';
import type { WarmStore } from '../../sinks/postgres/store.ts';
import { warmDailyAggregateSink } from '../../sinks/warm/dailyAggregateSink.ts';
import { kclSource } from '../../sources/kinesis/kclSource.ts';
import { embeddedStateStore } from '../../state/keyed/embeddedStateStore.ts';
import { redisStateStore } from '../../state/keyed/redisStateStore.ts';
import type { Clock, Logger, RawRecord, RuntimeOptions, Source, Topology } from '../../topology/index.ts';
import { buildFleet } from '../workloads/fleet.ts';
import { scaleProfile } from '../workloads/profiles.ts';
import type { Workload, WorkloadGenerator } from '../workloads/workload.ts';
import { type AlarmProbe, hotAlarmProbe } from './alarmProbe.ts';
import { type GeneratedSource, generatedSource } from './generatedSource.ts';
import { type BenchMode, type KnobValues, SweepError } from './knobs.ts';
import { countingSink, memoryDeadLetters, memoryHot } from './memoryStores.ts';
import { hotStateProbe, type VisibilityProbe } from './probe.ts';
import { benchRulesets } from './probeRules.ts';
import { countedWarm, storeTotals } from './warmStores.ts';

/** The window operator's flush knobs, honoured in every mode. */
const WINDOW_KNOBS = [
  'flushMs',
  'customerFlushMs',
  'deviceFlushMs',
  'flushMaxKeys',
  'flushKeysPerSecond',
] as const;

/** Knobs the current topology honours, per mode. */
const SUPPORTED_KNOBS: Readonly<Record<BenchMode, readonly string[]>> = {
  'in-process': ['batch', 'maxInFlight', 'checkpointMs', 'shards', 'rate', ...WINDOW_KNOBS],
  'local-stack': [
    'batch',
    'pollMs',
    'failoverMs',
    'maxInFlight',
    'checkpointMs',
    'shards',
    'rate',
    ...WINDOW_KNOBS,
    'aggregateBytes',
    'coldCommitMs',
  ],
  // The remote stream exists already: its shard count is the stream's, not the benchmark's.
  remote: [
    'batch',
    'pollMs',
    'failoverMs',
    'maxInFlight',
    'checkpointMs',
    'rate',
    ...WINDOW_KNOBS,
    'aggregateBytes',
  ],
};

/** Values of knobs not swept. */
export const KNOB_DEFAULTS = {
  maxInFlight: 4,
  /** The worker's own default (`source.kinesis.idleTimeBetweenReadsMs`). */
  pollMs: 200,
  checkpointMs: 1000,
  shards: 4,
  /** KPL aggregates of at most this many bytes (the KPL's own default is 51,200). */
  aggregateBytes: 51_200,
  coldCommitMs: 60_000,
} as const;

/** Refuses a knob the topology under test would ignore, saying why. */
export function checkKnobs(mode: BenchMode, point: KnobValues): void {
  for (const knob of Object.keys(point)) {
    if (SUPPORTED_KNOBS[mode].includes(knob)) continue;
    if (knob === 'shards' && mode === 'remote')
      throw new SweepError('shards: the remote stream exists with its own shard count; reshard it instead');
    if (knob === 'aggregateBytes' && mode === 'in-process')
      throw new SweepError('aggregateBytes: the in-process source makes no Kinesis records to aggregate');
    if (knob === 'coldCommitMs') throw new SweepError(`coldCommitMs: ${mode} mode has no Cold sink`);
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
      /** The alarm markers' partition keys (their devices' ids), one per shard, other than `laneKeys`. */
      readonly alarmLaneKeys: readonly string[];
    };

/** What the pipeline is built with besides the knobs. */
export interface BenchEnvironment {
  readonly specs: SpecRegistry;
  readonly clock: Clock;
  readonly log: Logger;
  readonly input: BenchInput;
  /** The Warm store (PostgreSQL or PGlite); in-memory tables when absent. */
  readonly warm?: WarmStore;
  /** Redis, for the keyed state (the windows'); embedded state when absent. */
  readonly redisUrl?: string;
  /** The Cold table's warehouse directory (JDBC catalog in the Warm store); no Cold sink when absent. */
  readonly coldDirectory?: string;
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
  /** With the rules branch: the probe of reading → open alarm visible in the Hot store. */
  readonly alarmProbe?: AlarmProbe;
  /** With the rules branch: the rule operator (its counters). */
  readonly rules?: RuleOperator;
  readonly runtime: RuntimeOptions;
  /** Sink nodes whose batches are store writes. */
  readonly sinkNodes: readonly string[];
  /** Round trips made to the stores so far; undefined when the stores do not count them. */
  roundTrips(): number | undefined;
  /** Round trips made to Redis for the keyed state so far; undefined when the state is embedded. */
  redisRoundTrips(): number | undefined;
  /**
   * Telemetry records the Hot store holds (markers included) and dead letters of malformed input,
   * read from the stores.
   */
  totals(): Promise<{ stored: number; deadLetters: number }>;
  /** Closes what the pipeline opened itself (the Cold table's storage). */
  close(): Promise<void>;
}

/** The customer the alarm probe's devices are placed under: the only one the probe rule is enabled for. */
export const ALARM_PROBE_CUSTOMER = 'bench-alarm-probe';

/** `count` marker partition keys for in-process shards, fresh per run (`run` tells runs apart). */
function generatedLaneKeys(count: number, run: string): string[] {
  return Array.from({ length: count }, (_, i) => `bench-marker-${run}-${i}`);
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
  const counted = env.warm === undefined ? undefined : countedWarm(env.warm);
  const laneKeys =
    env.input.kind === 'kinesis' ? env.input.laneKeys : generatedLaneKeys(shards, String(env.clock.now()));
  // In memory, a write never fails, so nothing is written twice: what the stores were given is
  // what they hold.
  const memory = counted ? undefined : { hot: memoryHot(), deadLetters: memoryDeadLetters() };
  const hot = counted
    ? postgresHotStore(counted.store, { retentionDays: 10, ownsEndpoints: false })
    : memory!.hot;
  const probe = hotStateProbe(
    counted ? 'hot.device_state (PostgreSQL)' : 'hot.device_state (memory)',
    (deviceId) => hot.readLatestState(deviceId),
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
        idleTimeBetweenReadsMs: knobs.pollMs ?? KNOB_DEFAULTS.pollMs,
        maxIdleTimeMs: Math.max(1000, knobs.pollMs ?? KNOB_DEFAULTS.pollMs),
      },
      {
        tableName: input.leaseTable,
        endpoint: input.dynamodbEndpoint,
        takeIntervalMs: 500,
        ...(knobs.failoverMs === undefined ? {} : { failoverTimeMs: knobs.failoverMs }),
      },
      { clock: env.clock, log: env.log, kinesis: input.kinesis },
    );
  }

  // The workload's fleet is the master data: every device placed since the epoch, and the markers'.
  const placements = new Map<string, readonly DevicePlacement[]>(
    buildFleet(workload).devices.map((d) => [
      d.deviceId,
      [{ from: 0, to: Number.POSITIVE_INFINITY, siteId: d.siteId, customerId: d.customerId }],
    ]),
  );
  for (const key of laneKeys)
    placements.set(key, [{ from: 0, to: Number.POSITIVE_INFINITY, siteId: 'bench', customerId: 'bench' }]);
  // The rules branch where the mode has a Warm store of its own, with the alarm probe's lanes.
  const alarmLaneKeys = env.input.kind === 'kinesis' && counted ? env.input.alarmLaneKeys : undefined;
  for (const key of alarmLaneKeys ?? [])
    placements.set(key, [
      { from: 0, to: Number.POSITIVE_INFINITY, siteId: 'bench', customerId: ALARM_PROBE_CUSTOMER },
    ]);
  let rules: RuleOperator | undefined;
  let alarmProbe: AlarmProbe | undefined;
  if (alarmLaneKeys !== undefined) {
    const rulesets = benchRulesets(env.specs, ALARM_PROBE_CUSTOMER);
    rules = ruleOperator({ rulesets: (productId) => rulesets.get(productId), logger: env.log });
    alarmProbe = hotAlarmProbe(
      'hot.open_alarms (PostgreSQL)',
      (deviceId) => hot.readOpenAlarms({ deviceId }),
      alarmLaneKeys,
    );
  }
  const windowConfig = windowAggregateConfigSchema.parse({
    ...(knobs.flushMs === undefined ? {} : { flushIntervalMs: knobs.flushMs }),
    ...(knobs.customerFlushMs === undefined ? {} : { customerFlushIntervalMs: knobs.customerFlushMs }),
    ...(knobs.deviceFlushMs === undefined ? {} : { deviceFlushIntervalMs: knobs.deviceFlushMs }),
    ...(knobs.flushMaxKeys === undefined ? {} : { flushMaxKeys: knobs.flushMaxKeys }),
    ...(knobs.flushKeysPerSecond === undefined ? {} : { flushKeysPerSecond: knobs.flushKeysPerSecond }),
  });
  const redisState = env.redisUrl
    ? redisStateStore({ redisUrl: env.redisUrl, namespace: `bench-${env.clock.now()}` })
    : undefined;
  const stateStore = redisState ?? embeddedStateStore();
  const coldConfig =
    env.coldDirectory !== undefined && counted
      ? coldConfigSchema.parse({
          storage: { kind: 'local', directory: env.coldDirectory },
          sink: { commitIntervalMs: knobs.coldCommitMs ?? KNOB_DEFAULTS.coldCommitMs },
        })
      : undefined;
  const coldTable = coldConfig ? openColdTable(coldConfig, env.clock, counted!.store.write) : undefined;
  const telemetry = buildTelemetryTopology('bench', {
    source,
    decode: decodeBySpec(env.specs),
    enrich: enrich(enrichConfigSchema.parse({}), memoryDeviceDirectory(placements)),
    windows: windowAggregate(windowConfig),
    hotTelemetry: hotTelemetrySink(hot),
    hotAggregates: hotAggregateSink(hot),
    dailyAggregates: counted
      ? warmDailyAggregateSink(counted.store.write)
      : countingSink('warm.daily_aggregates'),
    cold:
      coldConfig && coldTable
        ? coldSink(coldConfig.sink, {
            catalog: coldTable.catalog,
            files: coldTable.files,
            ...threadedDataFiles(),
            log: env.log,
          })
        : undefined,
    deadLetters: memory
      ? memory.deadLetters.sink
      : () => deadLetterStoreSink(postgresDeadLetterStore(counted!.store.write)),
    rules: rules && { operator: rules, alarms: alarmEventSink(counted!.store.write, hot) },
  });
  return {
    topology: telemetry.topology,
    source,
    generated,
    probe,
    alarmProbe,
    rules,
    runtime: {
      clock: env.clock,
      log: env.log,
      maxInFlightBatches: knobs.maxInFlight ?? KNOB_DEFAULTS.maxInFlight,
      checkpointIntervalMs: knobs.checkpointMs ?? KNOB_DEFAULTS.checkpointMs,
      stateStore,
    },
    sinkNodes: [
      'hot-telemetry',
      'hot-aggregates',
      'daily-aggregates',
      ...(coldTable ? ['cold-telemetry'] : []),
      ...(rules ? ['alarm-events'] : []),
      'dead-letters',
      'kpl-dead-letters',
      'enrich-dead-letters',
      'late-dead-letters',
    ],
    roundTrips: () => counted?.roundTrips(),
    redisRoundTrips: () => redisState?.roundTrips,
    totals: async () =>
      memory
        ? { stored: memory.hot.written().telemetry, deadLetters: memory.deadLetters.count() }
        : storeTotals(env.warm!.read),
    close: async () => {
      await coldTable?.close();
    },
  };
}
