/**
 * Runs in the local-stack mode (kinesalite and dynalite in a process of their own, Redis for the
 * window state, PostgreSQL for Hot and Warm, the Cold Iceberg table in a local directory with its
 * JDBC catalog in the same PostgreSQL) and the remote mode (real AWS endpoints from the remote
 * configuration): a producer process writes the workload at the profile's rate, KPL-aggregated by
 * default (`aggregateBytes`), the worker reads it with the leased KCL source, and the harness puts
 * the latency markers itself, one plain Kinesis record each, and reads the Hot store for them: each
 * lane device's latest state, and each alarm lane device's open alarms (reading → open alarm). The
 * CPU of each process is read from /proc, so a run says whether the emulators, the producer, the
 * servers or shardflow was the limit. After the run, the raw GetRecords loop reads the same stream
 * for the in-run baseline.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
  type KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import { kinesisProducer } from '../../gateways/kinesis/producer.ts';
import { startPostgres } from '../../infra/local/postgres.ts';
import { startRedis } from '../../infra/local/redis.ts';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { openWarmStore, type WarmStore, warmStoreConfigSchema } from '../../sinks/postgres/store.ts';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import {
  hashKeyOf,
  inHashRange,
  type RuntimeMetricsSnapshot,
  systemClock,
  TopologyRuntime,
} from '../../topology/index.ts';
import { startEmulator } from '../emulators.ts';
import { dueBy, type RateProfile, scaleProfile } from '../workloads/profiles.ts';
import type { Workload } from '../workloads/workload.ts';
import { raises } from './alarmProbe.ts';
import { type BaselineFigure, rawLoopBaseline } from './baselines.ts';
import type { KnobValues } from './knobs.ts';
import {
  findProcess,
  machineCpuSeconds,
  ownCpuSeconds,
  processCpuSeconds,
  processTreeCpuSeconds,
} from './machine.ts';
import { countingLogger, ratesBetween, Sampler, tripsPerBatch, VisibilityTracker } from './measure.ts';
import { buildBenchPipeline, KNOB_DEFAULTS } from './pipeline.ts';
import type { Marker } from './probe.ts';
import type { ProducerConfig } from './producerProcess.ts';
import type { RemoteConfig } from './remote.ts';
import { GOALS, type RunResult } from './result.ts';
import type { PointRunner } from './runner.ts';
import { DRAIN_TIMEOUT_MS, type RunOptions } from './runOptions.ts';

/** An emulator's process and endpoint. */
type Emulator = Awaited<ReturnType<typeof startEmulator>>;

const TSX_ARGS = ['--import', 'tsx'];
/**
 * Marker polls of the Hot store: one `readLatestState` per lane with markers pending, and one
 * `readOpenAlarms({ deviceId })` per alarm lane with markers pending.
 */
const POLL_MS = 100;
/**
 * The worker's pool: its four PostgreSQL sinks (Hot telemetry and aggregates, daily aggregates, dead
 * letters), the Cold catalog and the probe share it, up to four shards each writing; the default
 * four connections, waited for at most 5 s, would make a slow moment of a shared machine fail the
 * run with "timeout exceeded when trying to connect".
 */
const WARM_POOL = { maxConnections: 16, connectTimeoutMs: 30_000 } as const;
/** Longest the raw GetRecords loop reads the stream after a run. */
const BASELINE_MAX_MS = 30_000;

interface Services {
  kinesisEndpoint?: string;
  dynamodbEndpoint?: string;
  region: string;
  /** kinesalite's and dynalite's processes. */
  emulatorPids?: readonly number[];
  warm: WarmStore;
  redisUrl?: string;
  /** The Cold table's warehouse directory (local stack). */
  coldDirectory?: string;
  /** Servers the harness started, whose CPU it reads: PostgreSQL's postmaster, redis-server. */
  postgresPid?: number;
  redisPid?: number;
  stop(): Promise<void>;
}

const portOf = (url: string) => new URL(url).port;

/** A point runner holding the services for the whole sweep; `close` stops what it started. */
export interface StackRunner extends PointRunner {
  close(): Promise<void>;
}

async function createStream(client: KinesisClient, name: string, shards: number): Promise<void> {
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  for (;;) {
    const s = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (s.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    await systemClock.sleep(50);
  }
}

/**
 * A partition key per open shard that Kinesis routes to it (MD5 of the key within the shard's hash
 * range); `run` makes the keys, which are also the marker devices' ids, fresh per run, and `prefix`
 * tells the Hot state markers' lanes from the alarm markers'.
 */
async function laneKeysFor(
  client: KinesisClient,
  streamName: string,
  run = '',
  prefix = 'bench-marker',
): Promise<string[]> {
  const shards = (await client.send(new ListShardsCommand({ StreamName: streamName }))).Shards ?? [];
  const open = shards.filter((s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined);
  return open.map((shard) => {
    const range = {
      startingHashKey: shard.HashKeyRange!.StartingHashKey!,
      endingHashKey: shard.HashKeyRange!.EndingHashKey!,
    };
    for (let n = 0; n < 1_000_000; n++) {
      const key = run === '' ? `${prefix}-${n}` : `${prefix}-${run}-${n}`;
      if (inHashRange(hashKeyOf(key), range)) return key;
    }
    throw new Error(`no marker key found for ${shard.ShardId}`);
  });
}

function startProducer(config: ProducerConfig): {
  child: ChildProcess;
  last: () => { produced: number; malformed: number; telemetry: number; changes: number };
  ready: Promise<void>;
  done: Promise<void>;
} {
  const child = spawn(
    process.execPath,
    [...TSX_ARGS, fileURLToPath(new URL('./producerProcess.ts', import.meta.url)), JSON.stringify(config)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    },
  );
  let last = { produced: 0, malformed: 0, telemetry: 0, changes: 0 };
  let onReady!: () => void;
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      last = JSON.parse(line) as typeof last;
      if ((last as { type?: string }).type === 'ready') onReady();
    } catch {
      // not a report line
    }
  });
  const done = new Promise<void>((resolve, reject) => {
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`the producer exited with ${code}`)),
    );
  });
  done.catch(() => {});
  return { child, last: () => last, ready: Promise.race([ready, done]), done };
}

/** Which process, or the machine, limited a run that did not keep up; the cores of each either way. */
function limitOf(cores: Record<string, number | undefined>, keptUp: boolean, machineBusy?: number): string {
  const shown = Object.entries(cores)
    .filter((e): e is [string, number] => e[1] !== undefined)
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(', ');
  if (keptUp) return `kept up with the offered rate (cores: ${shown})`;
  const [name, top] = Object.entries(cores)
    .filter((e): e is [string, number] => e[1] !== undefined)
    .sort((a, b) => b[1] - a[1])[0] ?? ['none', 0];
  if (top >= 0.8) return `${name} (cores: ${shown})`;
  const ours = Object.values(cores).reduce<number>((a, b) => a + (b ?? 0), 0);
  const all = cpus().length;
  // On a shared machine the runs may simply not get the CPU: say so rather than blame a process.
  if (machineBusy !== undefined && machineBusy >= 0.9 * all)
    return `the machine: ${machineBusy.toFixed(2)} of ${all} cores busy, ${ours.toFixed(2)} of them the benchmark's (cores: ${shown})`;
  return `no process saturated a core (cores: ${shown})`;
}

/** A runner for the local stack, or for the remote endpoints when `remote` is given. */
export function localStackRunner(workload: Workload, remote?: RemoteConfig): StackRunner {
  let services: Promise<Services> | undefined;
  const open = async (options: RunOptions): Promise<Services> => {
    if (remote) {
      const warm = openWarmStore(
        warmStoreConfigSchema.parse({
          writeUrl: remote.warm.writeUrl,
          readUrl: remote.warm.readUrl,
          ...WARM_POOL,
        }),
      );
      await migrateWarm(warm.write);
      return {
        kinesisEndpoint: remote.kinesis.endpoint,
        dynamodbEndpoint: remote.leases.endpoint,
        region: remote.region,
        warm,
        redisUrl: remote.redisUrl,
        stop: () => warm.close(),
      };
    }
    // what started is stopped again when a later part fails to start
    const undo: (() => unknown)[] = [];
    let kinesis: Emulator;
    let dynamodb: Emulator;
    let postgres: Awaited<ReturnType<typeof startPostgres>> | undefined;
    let redis: Awaited<ReturnType<typeof startRedis>> | undefined;
    let warm: ReturnType<typeof openWarmStore>;
    try {
      const emulators = await Promise.allSettled([startEmulator('kinesis'), startEmulator('dynamodb')]);
      for (const e of emulators) if (e.status === 'fulfilled') undo.push(() => e.value.child.kill('SIGTERM'));
      for (const e of emulators) if (e.status === 'rejected') throw e.reason;
      [kinesis, dynamodb] = emulators.map((e) => (e as PromiseFulfilledResult<Emulator>).value) as [
        Emulator,
        Emulator,
      ];
      if (options.postgresUrl === undefined) {
        postgres = await startPostgres();
        undo.push(() => postgres!.stop());
      }
      if (options.redisUrl === undefined) {
        redis = await startRedis();
        undo.push(() => redis!.stop());
      }
      warm = openWarmStore(
        warmStoreConfigSchema.parse({ writeUrl: options.postgresUrl ?? postgres!.url, ...WARM_POOL }),
      );
      undo.push(() => warm.close());
      await migrateWarm(warm.write);
    } catch (e) {
      for (const stop of undo.reverse()) await Promise.resolve(stop()).catch(() => {});
      throw e;
    }
    const coldDirectory = mkdtempSync(path.join(tmpdir(), 'shardflow-bench-cold-'));
    return {
      kinesisEndpoint: kinesis.endpoint,
      dynamodbEndpoint: dynamodb.endpoint,
      region: 'us-east-1',
      emulatorPids: [kinesis.child.pid, dynamodb.child.pid].filter((pid) => pid !== undefined),
      warm,
      redisUrl: options.redisUrl ?? redis!.url,
      coldDirectory,
      postgresPid: postgres
        ? findProcess((line) => /postgres -D /.test(line) && line.includes(` -p ${portOf(postgres.url)} `))
        : undefined,
      redisPid: redis
        ? findProcess(
            (line) => line.startsWith('/') && line.includes(`redis-server 127.0.0.1:${portOf(redis.url)}`),
          )
        : undefined,
      stop: async () => {
        await warm.close();
        kinesis.child.kill('SIGTERM');
        dynamodb.child.kill('SIGTERM');
        await postgres?.stop();
        await redis?.stop();
        rmSync(coldDirectory, { recursive: true, force: true });
      },
    };
  };

  const run = async (knobs: KnobValues, repeat: number, options: RunOptions): Promise<RunResult> => {
    services ??= open(options);
    const s = await services;
    const clock = systemClock;
    const client = createKinesisClient({ region: s.region, endpoint: s.kinesisEndpoint });
    const streamName = remote ? remote.kinesis.streamName : `bench-${randomUUID().slice(0, 8)}`;
    const changeStream = remote ? undefined : `${streamName}-cdc`;
    try {
      if (!remote) {
        await createStream(client, streamName, knobs.shards ?? KNOB_DEFAULTS.shards);
        await createStream(client, changeStream!, 1);
      }
      const run = randomUUID().slice(0, 8);
      const laneKeys = await laneKeysFor(client, streamName, run);
      const alarmLaneKeys = await laneKeysFor(client, streamName, run, 'bench-alarm');
      const aggregateBytes = knobs.aggregateBytes ?? KNOB_DEFAULTS.aggregateBytes;
      const log = countingLogger(options.log);
      const pipeline = buildBenchPipeline(remote ? 'remote' : 'local-stack', workload, knobs, {
        specs: options.specs,
        clock,
        log,
        input: {
          kind: 'kinesis',
          streamName,
          region: s.region,
          endpoint: s.kinesisEndpoint,
          leaseTable: remote ? remote.leases.tableName : `bench-leases-${randomUUID().slice(0, 8)}`,
          dynamodbEndpoint: s.dynamodbEndpoint,
          startPosition: remote ? 'LATEST' : 'TRIM_HORIZON',
          laneKeys,
          alarmLaneKeys,
        },
        warm: s.warm,
        redisUrl: s.redisUrl,
        coldDirectory: s.coldDirectory,
        markerIntervalMs: options.markerIntervalMs,
        paced: true,
      });
      const before = await pipeline.totals();
      await pipeline.probe.start();
      const markers: Marker[] = [];
      const tracker = new VisibilityTracker(pipeline.probe, () => markers, clock);
      const alarmProbe = pipeline.alarmProbe;
      await alarmProbe?.start();
      const alarmMarkers: Marker[] = [];
      const alarmTracker = alarmProbe && new VisibilityTracker(alarmProbe, () => alarmMarkers, clock);
      const sampler = new Sampler();
      const runtime = new TopologyRuntime(pipeline.topology, pipeline.runtime);
      const done = runtime.run();
      done.catch(() => {});
      const profile =
        knobs.rate === undefined ? workload.profile : scaleProfile(workload.profile, knobs.rate);
      const total = options.warmupMs + options.durationMs;
      const producer =
        remote?.produce === false
          ? undefined
          : startProducer({
              region: s.region,
              endpoint: s.kinesisEndpoint,
              streamName,
              changeStreamName: changeStream,
              workload,
              profile,
              // A little past the window, so the producer's CPU is still readable at its end.
              durationMs: total + 2000,
              aggregateBytes,
            });
      await producer?.ready;
      const markerProducer = kinesisProducer({ client, clock, streamName });
      let markerIndex = 0;
      let alarmIndex = 0;
      /** The alarm markers of one round: one per alarm lane, raising or clearing by their index. */
      const alarmRound = (now: number) => {
        if (alarmProbe === undefined) return { batch: [], envelopes: [] };
        const batch = alarmProbe.laneKeys.map((_, lane) => ({ lane, index: alarmIndex, receivedAt: now }));
        alarmIndex++;
        return { batch, envelopes: batch.map((m) => alarmProbe.envelope(m.lane, m.index, m.receivedAt)) };
      };
      const putMarkers = async () => {
        const now = clock.now();
        const batch = laneKeys.map((_, lane) => ({ lane, index: markerIndex, receivedAt: now }));
        markerIndex++;
        await markerProducer.put(batch.map((m) => pipeline.probe.envelope(m.lane, m.index, m.receivedAt)));
        markers.push(...batch);
      };
      const putAlarmMarkers = async () => {
        const alarms = alarmRound(clock.now());
        if (alarms.batch.length === 0) return;
        await markerProducer.put(alarms.envelopes);
        alarmMarkers.push(...alarms.batch);
      };
      /**
       * After the window, one more raise per alarm lane when the last marker cleared: a raise and
       * its clear that fell between two polls are resolved by the raise after them.
       */
      const closeAlarmLanes = async () => {
        if (alarmProbe !== undefined && !raises(alarmIndex - 1)) await putAlarmMarkers();
      };
      let measuring = false;
      const started = clock.now();
      const poller = setInterval(() => {
        void tracker.poll().catch(() => {});
        void alarmTracker?.poll().catch(() => {});
      }, POLL_MS);
      const marking = setInterval(() => void putMarkers().catch(() => {}), options.markerIntervalMs);
      // A round in flight when the window closes finishes before the last raise is put.
      let alarmPut: Promise<void> = Promise.resolve();
      const alarmMarking = setInterval(() => {
        alarmPut = putAlarmMarkers().catch(() => {});
      }, options.alarmMarkerIntervalMs);
      const ticker = setInterval(() => {
        const m = runtime.metrics();
        sampler.sample(m, measuring);
        const elapsed = clock.now() - started;
        const produced = producer?.last().produced ?? 0;
        const lag = Math.max(0, ...m.shards.map((x) => x.millisBehindLatest ?? 0));
        options.progress(
          Math.min(0.99, elapsed / total),
          `put ${produced.toLocaleString('en-US')}  behind ${lag} ms`,
        );
      }, 250);

      const cpu = () => ({
        own: ownCpuSeconds(),
        emulators:
          s.emulatorPids === undefined
            ? undefined
            : s.emulatorPids.reduce<number | undefined>((sum, pid) => {
                const seconds = processCpuSeconds(pid);
                return sum === undefined || seconds === undefined ? undefined : sum + seconds;
              }, 0),
        producer: producer?.child.pid === undefined ? undefined : processCpuSeconds(producer.child.pid),
        postgres: s.postgresPid === undefined ? undefined : processTreeCpuSeconds(s.postgresPid),
        redis: s.redisPid === undefined ? undefined : processCpuSeconds(s.redisPid),
        trips: pipeline.roundTrips(),
        redisTrips: pipeline.redisRoundTrips(),
        machine: machineCpuSeconds(),
      });
      let a: RuntimeMetricsSnapshot | undefined;
      let b: RuntimeMetricsSnapshot | undefined;
      let cpuA = cpu();
      let cpuB = cpuA;
      let windowStart = 0;
      let windowEnd = 0;
      // When the store was last polled: a marker unseen by then took at least this long.
      let lookedUntil = 0;
      try {
        await Promise.race([clock.sleep(options.warmupMs), done]);
        a = runtime.metrics();
        cpuA = cpu();
        windowStart = clock.now();
        measuring = true;
        await Promise.race([clock.sleep(options.durationMs), done]);
        b = runtime.metrics();
        cpuB = cpu();
        windowEnd = clock.now();
        measuring = false;
        clearInterval(marking);
        clearInterval(alarmMarking);
        await alarmPut;
        await closeAlarmLanes();
        await producer?.done;
        // Drain: until every record put (workload and markers) has gone through the decode stage.
        const expected = (producer?.last().produced ?? 0) + markers.length + alarmMarkers.length;
        const drainUntil = clock.now() + DRAIN_TIMEOUT_MS;
        while (clock.now() < drainUntil && runtime.error === undefined) {
          const m = runtime.metrics();
          const decoded = m.nodes.find((n) => n.node === 'decode')?.recordsIn ?? 0;
          if (
            decoded >= expected &&
            m.shards.every((x) => x.inFlightBatches === 0) &&
            tracker.pending() === 0 &&
            (alarmTracker?.pending() ?? 0) === 0
          )
            break;
          await tracker.poll();
          await alarmTracker?.poll();
          await clock.sleep(100);
        }
      } finally {
        lookedUntil = clock.now();
        clearInterval(poller);
        clearInterval(marking);
        clearInterval(alarmMarking);
        clearInterval(ticker);
        producer?.child.kill('SIGTERM');
        await runtime.stop();
        await done.catch(() => {});
        await pipeline.close();
      }
      if (runtime.error !== undefined) throw runtime.error;
      const seconds = (windowEnd - windowStart) / 1000;
      const rates = ratesBetween(a!, b!, seconds);
      // The runtime's shard counters count Kinesis records, and with aggregation a batch behind the
      // tip holds up to `batch` aggregates of many user records: completion over a window is too
      // lumpy to count. Records/s is user records (envelopes) through decode.
      const userRead = rates.stages.decode?.in ?? 0;
      const endToEnd = userRead;
      const latency = tracker.latencies(windowStart, windowEnd, lookedUntil);
      const alarmLatency = alarmTracker?.latencies(windowStart, windowEnd, lookedUntil);
      const after = await pipeline.totals();
      const sent = producer?.last() ?? { produced: 0, malformed: 0, telemetry: 0, changes: 0 };
      const stored = after.stored - before.stored - markers.length - alarmMarkers.length;
      const deadLetters = after.deadLetters - before.deadLetters;
      const own = cpuB.own - cpuA.own;
      const between = (x: number | undefined, y: number | undefined) =>
        x === undefined || y === undefined ? undefined : { seconds: y - x, cores: (y - x) / seconds };
      const emu = between(cpuA.emulators, cpuB.emulators);
      const prod = between(cpuA.producer, cpuB.producer);
      const pg = between(cpuA.postgres, cpuB.postgres);
      const rds = between(cpuA.redis, cpuB.redis);
      const offered = profileRate(profile, windowStart - started, windowEnd - started) ?? 0;
      // Kept up: read at the offered rate, within 3 %, and the latency stayed within the goal. A run
      // that reads as fast on average but stalls (a backlog built and worked off) did not.
      const rateKept = endToEnd >= 0.97 * offered;
      const keptUp = rateKept && (latency.summary?.p99 ?? Number.POSITIVE_INFINITY) <= GOALS.p99Ms;
      const sinkBatches = Object.values(rates.sinkBatches).reduce((x, y) => x + y, 0);
      const machineBusy =
        cpuA.machine === undefined || cpuB.machine === undefined
          ? undefined
          : (cpuB.machine.busy - cpuA.machine.busy) / seconds;
      let baseline: BaselineFigure | undefined;
      if (!remote && options.baseline) {
        options.progress(0.99, 'baseline: raw GetRecords loop over the same stream');
        baseline = await rawLoopBaseline(client, streamName, BASELINE_MAX_MS, endToEnd);
      }
      return {
        repeat,
        seconds,
        offeredPerSecond: offered,
        recordsPerSecond: {
          read: userRead,
          endToEnd,
          telemetry: rates.stages.decode?.out ?? 0,
          kinesisRecords: rates.read / seconds,
        },
        stages: rates.stages,
        latencyMs: latency.summary,
        latencyTimeline: latency.timeline,
        markers: { sent: latency.sent, unseen: latency.unseen, store: pipeline.probe.store, pollMs: POLL_MS },
        alarms:
          alarmProbe && alarmLatency
            ? {
                latencyMs: alarmLatency.summary,
                latencyTimeline: alarmLatency.timeline,
                markers: {
                  sent: alarmLatency.sent,
                  unseen: alarmLatency.unseen,
                  upperBound: alarmMarkers.filter(
                    (m) =>
                      m.receivedAt >= windowStart && m.receivedAt < windowEnd && alarmProbe.upperBound(m),
                  ).length,
                  store: alarmProbe.store,
                  pollMs: POLL_MS,
                },
              }
            : undefined,
        cpu: {
          shardflowSeconds: own,
          shardflowCores: own / seconds,
          perMillionRecords: endToEnd > 0 ? (own * 1e6) / (endToEnd * seconds) : Number.NaN,
          emulators: emu,
          producer: prod,
          postgres: pg,
          redis: rds,
          machineBusyCores: machineBusy,
        },
        peakRssMiB: sampler.peakRssBytes / 2 ** 20,
        roundTripsPerBatch: tripsPerBatch(cpuA.trips, cpuB.trips, sinkBatches),
        redisRoundTripsPerBatch: tripsPerBatch(cpuA.redisTrips, cpuB.redisTrips, rates.batches.windows),
        millisBehindLatest: sampler.millisBehindLatest(),
        eventLoopDelayMs: sampler.eventLoopDelayMs(),
        warnings: log.counts(),
        limit:
          (rateKept && !keptUp
            ? `read at the offered rate on average, but the latency stalled (p99 ${Math.round(latency.summary?.p99 ?? 0).toLocaleString('en-US')} ms); `
            : '') +
          limitOf(
            {
              shardflow: own / seconds,
              'kinesalite+dynalite': emu?.cores,
              producer: prod?.cores,
              postgresql: pg?.cores,
              redis: rds?.cores,
            },
            keptUp,
            machineBusy,
          ) +
          (keptUp
            ? ''
            : atOffered(offered, endToEnd, {
                shardflow: own / seconds,
                postgresql: pg?.cores,
                redis: rds?.cores,
              })) +
          (latency.unseen > 0
            ? `; ${latency.unseen} of ${latency.sent} markers not in the Hot store by the end of the drain (latency figures are lower bounds)`
            : '') +
          (alarmLatency !== undefined && alarmLatency.unseen > 0
            ? `; ${alarmLatency.unseen} of ${alarmLatency.sent} alarm markers not seen in the Hot open alarms by the end of the drain (alarm latency figures are lower bounds)`
            : ''),
        baseline,
        setup: {
          aggregateBytes,
          markers: 'plain Kinesis records',
          windowState: s.redisUrl === undefined ? 'embedded' : 'redis',
          hot: 'postgresql',
          cold: s.coldDirectory === undefined ? 'none' : 'iceberg on disk, jdbc catalog',
          coldCommitMs: knobs.coldCommitMs ?? KNOB_DEFAULTS.coldCommitMs,
          rules: pipeline.rules ? 'example rulesets and the alarm probe rule' : 'none',
        },
        accounting: {
          envelopes: sent.produced,
          malformed: sent.malformed,
          expectedTelemetry: sent.telemetry,
          stored,
          deadLetters,
          balanced: stored === sent.telemetry && deadLetters === sent.malformed,
        },
      };
    } finally {
      if (!remote) {
        for (const name of [streamName, changeStream!])
          await client.send(new DeleteStreamCommand({ StreamName: name })).catch(() => {});
      }
      client.destroy();
    }
  };

  return Object.assign(run, {
    close: async () => {
      if (services) await (await services).stop();
    },
  });
}

/**
 * What the worker's side would need at the offered rate, scaling each process's cores by offered ÷
 * processed records: this run's CPU per record, which a saturated machine inflates (cache, GC), so
 * an upper estimate. The producer and the emulators' writes already ran at the offered rate.
 */
function atOffered(offered: number, processed: number, cores: Record<string, number | undefined>): string {
  if (processed <= 0 || offered <= 0) return '';
  const scaled = Object.entries(cores)
    .filter((e): e is [string, number] => e[1] !== undefined)
    .map(([k, v]) => [k, (v * offered) / processed] as const);
  const total = scaled.reduce((a, [, v]) => a + v, 0);
  return `; at ${Math.round(offered).toLocaleString('en-US')}/s by this run's CPU per record: ${scaled.map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')} cores (${total.toFixed(2)} together)`;
}

/** Mean offered rate between two times (ms into the run). */
function profileRate(profile: RateProfile, fromMs: number, toMs: number): number | undefined {
  if (toMs <= fromMs) return undefined;
  return (dueByMs(profile, toMs) - dueByMs(profile, fromMs)) / ((toMs - fromMs) / 1000);
}

function dueByMs(profile: RateProfile, ms: number): number {
  return dueBy(profile, ms / 1000);
}
