/**
 * The local stack's producer, in a process of its own so its CPU is not counted as shardflow's: puts
 * the workload on the stream at the profile's rate (paced by elapsed time, PutRecords of up to 500,
 * a few requests in flight) and the master-data churn on the change stream. With `aggregateBytes`
 * it packs each tick's envelopes into KPL aggregates per shard, as a fleet's gateways do with the
 * KPL (the producer packs what one tick gives it: no extra buffering time). Reads its configuration
 * as JSON from argv[2]; writes JSON lines:
 * `{"type":"ready"|"progress"|"done", produced, malformed, telemetry, changes}`.
 */
import { kinesisProducer, type ProducerRecord } from '../../gateways/kinesis/producer.ts';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { systemClock } from '../../topology/index.ts';
import { dueBy, type RateProfile } from '../workloads/profiles.ts';
import { createGenerator, type Workload } from '../workloads/workload.ts';

/** What the producer is told. */
export interface ProducerConfig {
  readonly region: string;
  readonly endpoint?: string;
  readonly streamName: string;
  readonly changeStreamName?: string;
  readonly workload: Workload;
  readonly profile: RateProfile;
  readonly durationMs: number;
  /** Largest KPL aggregate in bytes; one Kinesis record per envelope when absent or 0. */
  readonly aggregateBytes?: number;
}

const TICK_MS = 50;
const IN_FLIGHT = 4;

async function main(config: ProducerConfig): Promise<void> {
  const clock = systemClock;
  const client = createKinesisClient({ region: config.region, endpoint: config.endpoint });
  const producer = kinesisProducer({
    client,
    clock,
    streamName: config.streamName,
    aggregation: config.aggregateBytes ? { maxBytes: config.aggregateBytes } : undefined,
  });
  const changes = config.changeStreamName
    ? kinesisProducer({ client, clock, streamName: config.changeStreamName })
    : undefined;
  const generator = createGenerator(config.workload);
  // Aggregating, a whole tick goes to one call so its envelopes pack by shard; plain, PutRecords' 500.
  const chunk = config.aggregateBytes ? 10_000 : 500;
  const encoder = new TextEncoder();
  const report = (type: string) =>
    process.stdout.write(
      `${JSON.stringify({ type, produced: producer.recordsPut, generated: generator.counts.envelopes, malformed: generator.counts.malformed, telemetry: generator.counts.telemetry, changes: generator.counts.changes })}\n`,
    );
  // The harness starts its clock on this line: building a large fleet takes a while under load.
  report('ready');
  const start = clock.now();
  let generated = 0;
  let lastReport = start;
  const inFlight = new Set<Promise<unknown>>();
  while (clock.now() - start < config.durationMs) {
    const tick = clock.now();
    const due = Math.floor(dueBy(config.profile, (tick - start) / 1000));
    if (due > generated) {
      const records: ProducerRecord[] = generator
        .batch(tick, due - generated)
        .map((g) => ({ partitionKey: g.partitionKey, data: encoder.encode(JSON.stringify(g.envelope)) }));
      generated = due;
      for (let i = 0; i < records.length; i += chunk) {
        while (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
        const put = producer.putRecords(records.slice(i, i + chunk)).finally(() => inFlight.delete(put));
        inFlight.add(put);
      }
    }
    const churn = generator.changes(tick);
    if (changes && churn.length > 0)
      await changes.putRecords(
        churn.map((c) => ({ partitionKey: c.data.device_id, data: encoder.encode(JSON.stringify(c)) })),
      );
    if (clock.now() - lastReport >= 250) {
      report('progress');
      lastReport = clock.now();
    }
    await clock.sleep(Math.max(0, TICK_MS - (clock.now() - tick)));
  }
  await Promise.all(inFlight);
  report('done');
  client.destroy();
}

main(JSON.parse(process.argv[2] ?? '{}') as ProducerConfig).catch((error: unknown) => {
  process.stderr.write(
    `producer: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
