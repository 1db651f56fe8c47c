/**
 * A leased KCL worker in the test process: the kcl source, with timings short enough for tests,
 * feeding one sink, on kinesalite and dynalite.
 */
import { type KclSource, kclSource } from '../../sources/kinesis/kclSource.ts';
import {
  type RawRecord,
  type Sink,
  systemClock,
  TopologyBuilder,
  TopologyRuntime,
} from '../../topology/index.ts';
import { testEnv } from './wait.ts';

/** A running in-process worker. */
export interface InProcessWorker {
  readonly source: KclSource;
  readonly runtime: TopologyRuntime;
  readonly done: Promise<void>;
}

/** The kcl source of a test worker on `stream` with lease table `table`: timings short enough for tests. */
export function testKclSource(stream: string, table: string, workerId: string): KclSource {
  return kclSource(
    {
      streamName: stream,
      endpoint: testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT'),
      idleTimeBetweenReadsMs: 20,
      maxIdleTimeMs: 100,
    },
    {
      tableName: table,
      workerId,
      endpoint: testEnv('SHARDFLOW_TEST_DYNAMODB_ENDPOINT'),
      failoverTimeMs: 1500,
      takeIntervalMs: 200,
      shardSyncIntervalMs: 500,
      parentPollMs: 100,
    },
    { clock: systemClock },
  );
}

/** Starts a leased worker on `stream` with lease table `table`, writing every record to `sink`. */
export function startLeasedWorker(
  stream: string,
  table: string,
  workerId: string,
  sink: Sink<RawRecord>,
): InProcessWorker {
  const source = testKclSource(stream, table, workerId);
  const b = new TopologyBuilder('kcl-it');
  b.source('kinesis', source).to('collect', sink);
  const runtime = new TopologyRuntime(b.build(), { checkpointIntervalMs: 0 });
  return { source, runtime, done: runtime.run() };
}
