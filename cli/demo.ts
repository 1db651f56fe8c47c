/**
 * `shardflow demo`: an embedded Kinesis (kinesalite) with a 4-shard stream, a simulated fleet
 * sending JSON telemetry through it, and the real telemetry topology writing to the Hot and Warm
 * stores (embedded PGlite, or a PostgreSQL URL). Prints progress while it runs and checks at the end
 * that the Hot telemetry and the dead letters account for every record produced.
 */
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import { kinesisProducer } from '../gateways/kinesis/producer.ts';
import { SIMULATED_PRODUCTS, simulatedFleet } from '../gateways/simulator/fleet.ts';
import { startKinesalite } from '../infra/local/emulators.ts';
import { migrateWarm } from '../sinks/postgres/migrate.ts';
import { openWarmStore, type WarmStore } from '../sinks/postgres/store.ts';
import { readDailyAggregates } from '../sinks/warm/dailyAggregates.ts';
import { createKinesisClient } from '../sources/kinesis/client.ts';
import { type Clock, type Logger, type RuntimeMetricsSnapshot, systemClock } from '../topology/index.ts';
import { DEMO_SHARDS, DEMO_STREAM, demoConfig } from './demoConfig.ts';
import { loadDemoMasterData } from './demoMasterData.ts';
import { createLogger } from './log.ts';
import { startWorker } from './worker.ts';

/** Options of the demo. */
export interface DemoOptions {
  readonly durationSeconds: number;
  readonly devices: number;
  /** Records produced per second. */
  readonly rate: number;
  /** Admin/web port; none when undefined. */
  readonly port?: number;
  readonly postgresUrl?: string;
  readonly malformedFraction: number;
  readonly seed: number;
  readonly pretty?: boolean;
}

/** What the demo produced and what the store holds at the end. */
export interface DemoSummary {
  readonly produced: number;
  /** Records produced that the Hot store holds (distinct stream positions, see `accountedFor`). */
  readonly stored: number;
  /** Records produced that are only in the dead letters. */
  readonly deadLetters: number;
  readonly seconds: number;
  /** Hot telemetry rows per product. */
  readonly perProduct: ReadonlyMap<string, number>;
  /** Joined telemetry rows in the Hot store, and how many of them the master data placed. */
  readonly hotTelemetry: number;
  /** Daily customer × product aggregates in the Warm store: records counted per customer. */
  readonly perCustomer: ReadonlyMap<string, number>;
  /** Stored records plus dead-lettered ones equal the records produced. */
  readonly balanced: boolean;
}

const TICK_MS = 100;

// The metric every report of a product carries (the simulated fleet's first metric of each).
const firstMetric = new Map(SIMULATED_PRODUCTS.map((p) => [p.productId, p.metrics[0]!.name]));

async function createDemoStream(client: KinesisClient, clock: Clock): Promise<void> {
  await client.send(new CreateStreamCommand({ StreamName: DEMO_STREAM, ShardCount: DEMO_SHARDS }));
  for (;;) {
    const { StreamDescriptionSummary: s } = await client.send(
      new DescribeStreamSummaryCommand({ StreamName: DEMO_STREAM }),
    );
    if (s?.StreamStatus === 'ACTIVE') return;
    await clock.sleep(50);
  }
}

// The demo's Hot store is the PostgreSQL tables in its Warm store, so both are read on one client.
// Each record put has its own stream position (shard, sequence and sub-sequence number), and every
// row a store keeps of it carries that position. Counting distinct positions makes the balance exact
// whatever a record became: a hub frame's children or a logger's rows are several Hot rows of one
// position, and a record stored in Hot and dead-lettered by a later stage (too late for the windows)
// counts once, as stored. Kinesalite's sequence numbers carry the second the shard was created, so
// an earlier demo run on the same database (a `--postgres-url`) left no position of this run's.
const ACCOUNTED_FOR = `WITH hot AS (
    SELECT DISTINCT shard_id, sequence_number, sub_sequence_number FROM hot_telemetry WHERE stream = $1
  ), dead AS (
    SELECT DISTINCT shard_id, sequence_number, sub_sequence_number FROM dead_letters WHERE stream = $1
  )
  SELECT (SELECT count(*) FROM hot)::text AS stored,
         (SELECT count(*) FROM (SELECT * FROM dead EXCEPT SELECT * FROM hot) d)::text AS dead`;

/** Records of the demo stream that the stores account for: in Hot, or only in the dead letters. */
async function accountedFor(warm: WarmStore): Promise<{ stored: number; deadLetters: number }> {
  const { rows } = await warm.read.query<{ stored: string; dead: string }>(ACCOUNTED_FOR, [DEMO_STREAM]);
  return { stored: Number(rows[0]?.stored ?? 0), deadLetters: Number(rows[0]?.dead ?? 0) };
}

/** Hot telemetry rows of the demo stream per product. */
async function rowsPerProduct(warm: WarmStore): Promise<Map<string, number>> {
  const { rows } = await warm.read.query<{ product_id: string; n: string }>(
    'SELECT product_id, count(*)::text AS n FROM hot_telemetry WHERE stream = $1 GROUP BY product_id',
    [DEMO_STREAM],
  );
  return new Map(rows.map((r) => [r.product_id, Number(r.n)]));
}

function processed(m: RuntimeMetricsSnapshot): number {
  return m.nodes.find((n) => n.node === 'decode')?.recordsIn ?? 0;
}

function progressLine(elapsedS: number, produced: number, m: RuntimeMetricsSnapshot, rate: number): string {
  const lag = Math.max(0, ...m.shards.map((s) => s.millisBehindLatest ?? 0));
  const dlq = m.nodes.find((n) => n.node === 'dead-letters')?.recordsIn ?? 0;
  const f = (n: number) => n.toLocaleString('en-US');
  return `[${String(Math.round(elapsedS)).padStart(3)}s] produced ${f(produced)}  processed ${f(processed(m))}  ${f(Math.round(rate))} rec/s  lag ${f(lag)} ms  shards ${m.shards.length}  dead letters ${f(dlq)}`;
}

/** Runs the demo; `print` receives progress and summary lines. */
export async function runDemo(
  options: DemoOptions,
  print: (line: string) => void,
  signal?: AbortSignal,
): Promise<DemoSummary> {
  const clock = systemClock;
  const started = clock.now();
  const kinesis = await startKinesalite();
  const config = demoConfig({
    kinesisEndpoint: kinesis.endpoint,
    postgresUrl: options.postgresUrl,
    adminPort: options.port,
    pretty: options.pretty,
  });
  const log: Logger = createLogger({ ...config.log, level: 'warn' });
  const client = createKinesisClient({ region: config.source.kinesis.region, endpoint: kinesis.endpoint });
  const warm = openWarmStore(config.warm);
  try {
    print(`kinesalite on ${kinesis.endpoint}; creating stream "${DEMO_STREAM}" with ${DEMO_SHARDS} shards`);
    await createDemoStream(client, clock);
    print(
      config.warm.writeUrl === 'embedded'
        ? 'starting embedded PostgreSQL (PGlite)…'
        : 'connecting to PostgreSQL…',
    );
    await migrateWarm(warm.write);
    const before = await accountedFor(warm);
    const fleet = simulatedFleet({
      devices: options.devices,
      seed: options.seed,
      malformedFraction: options.malformedFraction,
    });
    const placed = await loadDemoMasterData(warm.write, fleet.devices, clock.now());
    print(`master data: ${placed} devices placed at their sites and customers`);

    const worker = await startWorker(config, { log, clock, warm });
    if (worker.admin) print(`topology and live figures at ${worker.admin.url}`);
    const producer = kinesisProducer({ client, clock, streamName: DEMO_STREAM, log });
    print(
      `producing ${options.rate} records/s from ${options.devices} devices for ${options.durationSeconds} s`,
    );

    const productionStart = clock.now();
    const total = Math.round(options.rate * options.durationSeconds);
    let produced = 0;
    let nextReport = clock.now() + 1000;
    let lastProcessed = 0;
    let lastReportAt = clock.now();
    const report = () => {
      const m = worker.runtime.metrics();
      const now = clock.now();
      const rate = ((processed(m) - lastProcessed) * 1000) / Math.max(1, now - lastReportAt);
      lastProcessed = processed(m);
      lastReportAt = now;
      print(progressLine((now - productionStart) / 1000, produced, m, rate));
    };
    // Paced by elapsed time, so a slow put is made up in the next tick and the total is rate × duration.
    while (produced < total && !signal?.aborted && !worker.runtime.error) {
      const tickStart = clock.now();
      const due = Math.min(total, Math.floor((options.rate * (tickStart - productionStart)) / 1000));
      if (due > produced) produced += await producer.put(fleet.batch(tickStart, due - produced));
      if (clock.now() >= nextReport) {
        report();
        nextReport += 1000;
      }
      await clock.sleep(Math.max(0, TICK_MS - (clock.now() - tickStart)));
    }

    // Let the pipeline catch up with everything produced before stopping it.
    const catchUpUntil = clock.now() + 60_000;
    while (clock.now() < catchUpUntil && !worker.runtime.error) {
      const m = worker.runtime.metrics();
      if (processed(m) >= produced && m.shards.every((s) => s.inFlightBatches === 0)) break;
      await clock.sleep(100);
    }
    report();
    const after = await accountedFor(warm);
    const perProduct = await rowsPerProduct(warm);
    await worker.stop();
    await worker.done;
    // Running values: windows are emitted within batches every flush interval, so the last second of
    // records may not be in the daily aggregates yet.
    const hotTelemetry = await worker.stores.hot.countTelemetry(0, clock.now() + 86_400_000);
    const perCustomer = new Map<string, number>();
    for (const a of await readDailyAggregates(warm.read)) {
      // one metric per product is enough to count its records
      if (a.metric !== firstMetric.get(a.productId)) continue;
      const customer = a.customerId ?? '(unknown)';
      perCustomer.set(customer, (perCustomer.get(customer) ?? 0) + a.stats.count);
    }
    const stored = after.stored - before.stored;
    const deadLetters = after.deadLetters - before.deadLetters;
    return {
      produced,
      stored,
      deadLetters,
      seconds: (clock.now() - started) / 1000,
      perProduct,
      hotTelemetry,
      perCustomer,
      balanced: stored + deadLetters === produced,
    };
  } finally {
    await warm.close().catch(() => {});
    client.destroy();
    await kinesis.stop();
  }
}
