/**
 * Baselines measured in the same run as the whole topology, so its figure is also a ratio that holds
 * on a noisy machine:
 * - local stack: the raw GetRecords loop (no leases, checkpoints or processing; aggregates unpacked
 *   only to count their user records) over the same stream on the same emulator, after the run;
 * - in-process: a pass-through topology (source → KPL de-aggregation → a counting sink) over the
 *   same generated workload, unpaced, after the run: what the generator and the runtime alone cost.
 */
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import { kplDeaggregation } from '../../sources/kinesis/kplDeaggregation.ts';
import { deaggregate } from '../../sources/kinesis/retrieval/kpl.ts';
import { type Clock, TopologyBuilder, TopologyRuntime } from '../../topology/index.ts';
import type { WorkloadGenerator } from '../workloads/workload.ts';
import { generatedSource } from './generatedSource.ts';
import { completedRecords } from './measure.ts';
import { countingSink, memoryHot } from './memoryStores.ts';
import { hotStateProbe } from './probe.ts';

/** A baseline's figure, and the whole topology's records/s as a share of it. */
export interface BaselineFigure {
  readonly name: string;
  /** What it does, in one line. */
  readonly description: string;
  /** Source records (envelopes, user records) per second. */
  readonly recordsPerSecond: number;
  readonly records: number;
  readonly seconds: number;
  /** The topology's end-to-end records/s ÷ the baseline's. */
  readonly ratio: number;
  /** Kinesis records (aggregates count once) per second, for the raw loop. */
  readonly kinesisRecordsPerSecond?: number;
}

/**
 * Reads every shard of `streamName` from TRIM_HORIZON towards the tip with plain GetRecords calls,
 * for at most `maxMs`; counts Kinesis records and the user records they carry.
 */
async function rawGetRecordsLoop(
  client: KinesisClient,
  streamName: string,
  maxMs: number,
): Promise<{ userRecords: number; kinesisRecords: number; seconds: number }> {
  const started = performance.now();
  const shards = (await client.send(new ListShardsCommand({ StreamName: streamName }))).Shards ?? [];
  let userRecords = 0;
  let kinesisRecords = 0;
  await Promise.all(
    shards.map(async (shard) => {
      let iterator = (
        await client.send(
          new GetShardIteratorCommand({
            StreamName: streamName,
            ShardId: shard.ShardId,
            ShardIteratorType: 'TRIM_HORIZON',
          }),
        )
      ).ShardIterator;
      while (iterator !== undefined && performance.now() - started < maxMs) {
        const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
        const records = page.Records ?? [];
        if (records.length === 0) return;
        kinesisRecords += records.length;
        for (const r of records) {
          const d = deaggregate(r.Data ?? new Uint8Array());
          userRecords += d.kind === 'aggregate' ? d.records.length : 1;
        }
        iterator = page.NextShardIterator;
      }
    }),
  );
  return { userRecords, kinesisRecords, seconds: (performance.now() - started) / 1000 };
}

/** The raw loop's figure against the topology's `endToEnd` records/s. */
export async function rawLoopBaseline(
  client: KinesisClient,
  streamName: string,
  maxMs: number,
  endToEnd: number,
): Promise<BaselineFigure> {
  const raw = await rawGetRecordsLoop(client, streamName, maxMs);
  const rate = raw.userRecords / raw.seconds;
  return {
    name: 'raw GetRecords loop',
    description:
      'plain GetRecords over the same stream on the same emulator after the run (no leases, checkpoints or processing; aggregates unpacked to count user records)',
    recordsPerSecond: rate,
    records: raw.userRecords,
    seconds: raw.seconds,
    ratio: rate > 0 ? endToEnd / rate : Number.NaN,
    kinesisRecordsPerSecond: raw.kinesisRecords / raw.seconds,
  };
}

/** Runs the pass-through topology over `generator` for `warmupMs` + `durationMs`; its figure against `endToEnd`. */
export async function passThroughBaseline(
  generator: WorkloadGenerator,
  options: {
    readonly shards: number;
    readonly batch: number;
    readonly maxInFlight: number;
    readonly warmupMs: number;
    readonly durationMs: number;
    readonly clock: Clock;
  },
  endToEnd: number,
): Promise<BaselineFigure> {
  const { clock } = options;
  const laneKeys = Array.from({ length: options.shards }, (_, i) => `bench-baseline-${i}`);
  const hot = memoryHot();
  const source = generatedSource({
    generator,
    probe: hotStateProbe('none', (id) => hot.readLatestState(id), laneKeys, clock.now()),
    shards: options.shards,
    batch: options.batch,
    markerIntervalMs: 60_000,
    clock,
  });
  const b = new TopologyBuilder('bench-baseline');
  const records = b.source('generated', source).via('kpl-deaggregation', kplDeaggregation());
  records.to('count', countingSink('none'));
  records.side('dlq').to('dead-letters', countingSink('none'));
  const runtime = new TopologyRuntime(b.build(), {
    clock,
    maxInFlightBatches: options.maxInFlight,
    checkpointIntervalMs: 60_000,
  });
  const done = runtime.run();
  done.catch(() => {});
  let figure: BaselineFigure;
  try {
    await Promise.race([clock.sleep(options.warmupMs), done]);
    const a = completedRecords(runtime.metrics());
    const t0 = clock.now();
    await Promise.race([clock.sleep(options.durationMs), done]);
    const records = completedRecords(runtime.metrics()) - a;
    const seconds = (clock.now() - t0) / 1000;
    const rate = records / seconds;
    figure = {
      name: 'pass-through topology',
      description:
        'the same generated workload through source → KPL de-aggregation → a counting sink, unpaced, after the run (generator and runtime only)',
      recordsPerSecond: rate,
      records,
      seconds,
      ratio: rate > 0 ? endToEnd / rate : Number.NaN,
    };
  } finally {
    source.stop();
    await runtime.stop();
    await done.catch(() => {});
  }
  if (runtime.error !== undefined) throw runtime.error;
  return figure;
}
