import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import { kinesisProducer } from '../gateways/kinesis/producer.ts';
import { createKinesisClient } from '../sources/kinesis/client.ts';
import { kclSource } from '../sources/kinesis/kclSource.ts';
import { type RawRecord, systemClock, TopologyBuilder, TopologyRuntime } from '../topology/index.ts';
import { startEmulator } from './emulators.ts';
import { count, ratioToGoal, writeLatestFigures } from './results.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { values } = parseArgs({
  options: {
    results: { type: 'boolean', default: false },
    records: { type: 'string', default: '40000' },
    runs: { type: 'string', default: '3' },
    out: { type: 'string' },
  },
});
const RECORDS = Number(values.records);
const RUNS = Number(values.runs);
const STREAM = 'bench-kcl';

async function prefill(client: KinesisClient): Promise<void> {
  await client.send(new CreateStreamCommand({ StreamName: STREAM, ShardCount: 4 }));
  for (;;) {
    const s = await client.send(new DescribeStreamSummaryCommand({ StreamName: STREAM }));
    if (s.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break;
    await systemClock.sleep(50);
  }
  const producer = kinesisProducer({ client, clock: systemClock, streamName: STREAM });
  const payload = new TextEncoder().encode(
    JSON.stringify({ device: 'd', ts: 0, metrics: { t: 21.5, h: 40 } }),
  );
  for (let i = 0; i < RECORDS; i += 500) {
    const n = Math.min(500, RECORDS - i);
    await producer.putRecords(
      Array.from({ length: n }, (_, j) => ({ partitionKey: `pk-${i + j}`, data: payload })),
    );
  }
}

/** Reads every shard from TRIM_HORIZON to the tip with plain GetRecords calls; records/s. */
async function rawLoop(client: KinesisClient): Promise<number> {
  const started = performance.now();
  const shards = (await client.send(new ListShardsCommand({ StreamName: STREAM }))).Shards ?? [];
  const counts = await Promise.all(
    shards.map(async (shard) => {
      let iterator = (
        await client.send(
          new GetShardIteratorCommand({
            StreamName: STREAM,
            ShardId: shard.ShardId,
            ShardIteratorType: 'TRIM_HORIZON',
          }),
        )
      ).ShardIterator;
      let count = 0;
      for (;;) {
        const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
        count += page.Records?.length ?? 0;
        iterator = page.NextShardIterator;
        if ((page.Records?.length ?? 0) === 0) return count;
      }
    }),
  );
  const total = counts.reduce((a, b) => a + b, 0);
  if (total !== RECORDS) throw new Error(`raw loop read ${total} of ${RECORDS}`);
  return RECORDS / ((performance.now() - started) / 1000);
}

/** One leased worker with checkpoints (fresh lease table: starts at TRIM_HORIZON); records/s. */
async function kclRun(
  client: KinesisClient,
  dynamodbEndpoint: string,
  kinesisEndpoint: string,
): Promise<number> {
  let received = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => {
    resolveAll = r;
  });
  const source = kclSource(
    { streamName: STREAM, endpoint: kinesisEndpoint, idleTimeBetweenReadsMs: 200, maxIdleTimeMs: 1000 },
    { tableName: `bench-${randomUUID().slice(0, 8)}`, endpoint: dynamodbEndpoint, takeIntervalMs: 100 },
    { clock: systemClock, kinesis: client },
  );
  const b = new TopologyBuilder('bench-kcl');
  b.source('kinesis', source)
    .via('pass', { type: 'pass-through', process: (batch: readonly RawRecord[]) => batch })
    .to('count', {
      type: 'count',
      write: async (batch) => {
        received += batch.length;
        if (received >= RECORDS) resolveAll();
      },
    });
  const runtime = new TopologyRuntime(b.build(), { checkpointIntervalMs: 1000 });
  const started = performance.now();
  const done = runtime.run();
  await all;
  const rate = RECORDS / ((performance.now() - started) / 1000);
  await runtime.stop();
  await done;
  return rate;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const [kinesalite, dynalite] = await Promise.all([startEmulator('kinesis'), startEmulator('dynamodb')]);
const client = createKinesisClient({ region: 'us-east-1', endpoint: kinesalite.endpoint });
try {
  await prefill(client);
  await rawLoop(client); // warm-up
  const raw: number[] = [];
  const kcl: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    raw.push(await rawLoop(client));
    kcl.push(await kclRun(client, dynalite.endpoint, kinesalite.endpoint));
  }
  const result = {
    benchmark: 'kcl-throughput',
    records: RECORDS,
    shards: 4,
    runs: RUNS,
    rawRecordsPerSecond: Math.round(median(raw)),
    kclRecordsPerSecond: Math.round(median(kcl)),
    ratio: Number((median(kcl) / median(raw)).toFixed(3)),
    goal: 0.9,
    spread: { raw: raw.map(Math.round), kcl: kcl.map(Math.round) },
    machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version },
    at: new Date().toISOString(),
  };
  console.log(JSON.stringify(result, null, 2));
  if (values.out) writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
  if (values.results) {
    writeLatestFigures({
      name: 'kcl',
      heading: '## KCL throughput (`npm run bench:kcl`)',
      command: `npm run bench:kcl -- --records ${RECORDS} --runs ${RUNS} --results`,
      lines: [
        `${count(RECORDS)} records on a 4-shard kinesalite stream, median of ${RUNS} runs, the two readers alternating.`,
        '',
        '| | records/s (median) | runs |',
        '|---|---:|---|',
        `| baseline: raw GetRecords loop | ${count(result.rawRecordsPerSecond)} | ${result.spread.raw.map(count).join(' · ')} |`,
        `| leased KCL source + runtime, checkpoints on | ${count(result.kclRecordsPerSecond)} | ${result.spread.kcl.map(count).join(' · ')} |`,
        `| **ratio KCL / raw** | **${ratioToGoal(result.ratio, result.goal)}** | |`,
      ],
    });
  }
} finally {
  client.destroy();
  kinesalite.child.kill('SIGTERM');
  dynalite.child.kill('SIGTERM');
}
