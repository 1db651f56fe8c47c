/**
 * The telemetry topology of the first slice, and where the later stages will go:
 *
 *   kinesis → kpl-deaggregation → decode → count-per-product-hour → hourly-counts (Warm)
 *                  └─dlq→ kpl-dead-letters └─dlq→ dead-letters (Warm)
 *
 * Seams: enrich (device → site → customer) goes between `decode` and the aggregation; `count-per-product-hour` becomes the 1 h / 6 h / 1 day
 * windows with Redis state; Hot and Cold sinks fan out from the decoded telemetry.
 */
import { countPerProductHour } from '../operators/countPerProductHour.ts';
import { kplDeaggregation } from '../sources/kinesis/kplDeaggregation.ts';
import {
  type DeadLetter,
  type Operator,
  type ProductHourCount,
  type RawRecord,
  type Sink,
  type SinkRef,
  type Source,
  type Stream,
  type Telemetry,
  type Topology,
  TopologyBuilder,
} from '../topology/index.ts';

/** The components the telemetry topology is made of. */
export interface TelemetryComponents {
  readonly source: Source<RawRecord>;
  /** The decode stage (spec-driven decode and data contracts). */
  readonly decode: Operator<RawRecord, Telemetry, { dlq: DeadLetter }>;
  readonly hourlyCounts: Sink<ProductHourCount>;
  /** Makes a dead-letter sink; called once per stage that can refuse records. */
  readonly deadLetters: () => Sink<DeadLetter>;
}

/** The built topology and typed handles to its ends (for the test driver). */
export interface TelemetryTopology {
  readonly topology: Topology;
  readonly records: Stream<RawRecord>;
  readonly hourlyCounts: SinkRef<ProductHourCount>;
  readonly deadLetters: SinkRef<DeadLetter>;
}

/** Builds the telemetry topology from its components. */
export function buildTelemetryTopology(name: string, c: TelemetryComponents): TelemetryTopology {
  const b = new TopologyBuilder(name);
  const records = b.source('kinesis', c.source);
  const userRecords = records.via('kpl-deaggregation', kplDeaggregation());
  userRecords.side('dlq').to('kpl-dead-letters', c.deadLetters());
  const telemetry = userRecords.via('decode', c.decode);
  const deadLetters = telemetry.side('dlq').to('dead-letters', c.deadLetters());
  const hourlyCounts = telemetry
    .via('count-per-product-hour', countPerProductHour())
    .to('hourly-counts', c.hourlyCounts);
  return { topology: b.build(), records, hourlyCounts, deadLetters };
}
