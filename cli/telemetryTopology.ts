/**
 * The worker's topology: the telemetry branch and, when configured, the master-data (CDC) branch.
 *
 *   kinesis → kpl-deaggregation → decode → enrich → windows → hot-aggregates          (Hot)
 *                  │                │        │        │     → daily-aggregates        (Warm)
 *                  │                │        │        │     → formula-results         (Warm, optional)
 *                  │                │        │        └─late→ late-records → late-dead-letters
 *                  │                │        ├→ hot-telemetry                         (Hot)
 *                  │                │        ├→ cold-telemetry                        (Cold, optional)
 *                  │                │        └─rules→ rules → alarm-events            (Warm + Hot, optional)
 *                  │                └─dlq→ dead-letters              enrich └─dlq→ enrich-dead-letters
 *                  └─dlq→ kpl-dead-letters
 *   cdc → cdc-decode → masterdata-apply (Warm; invalidates every worker's enrich cache)
 *           └─dlq→ cdc-dead-letters
 *
 * People's actions on alarms (alarm action records, `shardflow alarms ack|…`) are on the same stream:
 * decode recognises them and passes them on in their place, enrich passes them by, and its side output
 * `rules` (the readings and the actions in stream order) is what the rule operator reads; the main
 * output stays the readings (`operators/actionRoute.ts`). Without a rules stage decode dead-letters them.
 *
 * Every sink is idempotent on replay (natural-key upserts, forward-only revisions, or, for Cold, a
 * per-shard position committed with the data), so a shard's checkpoint may trail what the stores hold.
 */
import { decodeWithActions, enrichWithActions } from '../operators/actionRoute.ts';
import { lateRecordsAsDeadLetters } from '../operators/lateRecords.ts';
import { kplDeaggregation } from '../sources/kinesis/kplDeaggregation.ts';
import {
  type AlarmActionRecord,
  type AlarmEvent,
  type DeadLetter,
  type Enriched,
  type Operator,
  type RawRecord,
  type Sink,
  type SinkRef,
  type Source,
  type Stream,
  type Telemetry,
  type Topology,
  TopologyBuilder,
  type WindowAggregate,
} from '../topology/index.ts';
import { addCdcBranch, type CdcComponents } from './cdcTopology.ts';

/** The components the topology is made of. */
export interface TelemetryComponents {
  readonly source: Source<RawRecord>;
  /** The decode stage (spec-driven decode and data contracts). */
  readonly decode: Operator<RawRecord, Telemetry, { dlq: DeadLetter }>;
  readonly enrich: Operator<Telemetry, Enriched, { dlq: DeadLetter }>;
  readonly windows: Operator<Enriched, WindowAggregate, { late: Enriched }>;
  readonly hotTelemetry: Sink<Enriched>;
  /** Product and device windows (other scopes are ignored by the sink). */
  readonly hotAggregates: Sink<WindowAggregate>;
  /** Daily customer × product windows (other scopes are ignored by the sink). */
  readonly dailyAggregates: Sink<WindowAggregate>;
  /** The formulas evaluated on days made final; no formula branch when absent. */
  readonly formulas?: Sink<WindowAggregate>;
  /** All joined telemetry into the Iceberg table; no Cold branch when absent. */
  readonly cold?: Sink<Enriched>;
  /** Makes a dead-letter sink; called once per stage that can refuse records. */
  readonly deadLetters: () => Sink<DeadLetter>;
  readonly cdc?: CdcComponents;
  /** The rules stage and where its alarm events go; no rules branch when absent. */
  readonly rules?: {
    /** Reads the readings and people's actions (alarm action records) in stream order. */
    readonly operator: Operator<Enriched | AlarmActionRecord, AlarmEvent>;
    readonly alarms: Sink<AlarmEvent>;
  };
}

/** The built topology and typed handles to its ends (for the test driver). */
export interface TelemetryTopology {
  readonly topology: Topology;
  readonly records: Stream<RawRecord>;
  readonly deadLetters: SinkRef<DeadLetter>;
  readonly hotTelemetry: SinkRef<Enriched>;
  readonly hotAggregates: SinkRef<WindowAggregate>;
  readonly dailyAggregates: SinkRef<WindowAggregate>;
  /** The alarm events, when the topology has a rules branch. */
  readonly alarmEvents?: SinkRef<AlarmEvent>;
}

/**
 * Connects the records a node's store refused, when the node isolates them (`rejects: 'isolate'`),
 * to a dead-letter sink of their own, `<node>-rejected`.
 */
function connectRejected(
  name: string,
  node: { rejected(): Stream<DeadLetter> },
  component: { readonly rejects?: 'isolate' },
  deadLetters: () => Sink<DeadLetter>,
): void {
  if (component.rejects === 'isolate') node.rejected().to(`${name}-rejected`, deadLetters());
}

/** Builds the topology from its components. */
export function buildTelemetryTopology(name: string, c: TelemetryComponents): TelemetryTopology {
  const b = new TopologyBuilder(name);
  const records = b.source('kinesis', c.source);
  const userRecords = records.via('kpl-deaggregation', kplDeaggregation());
  userRecords.side('dlq').to('kpl-dead-letters', c.deadLetters());
  const telemetry = userRecords.via(
    'decode',
    decodeWithActions(c.decode, { passActions: c.rules !== undefined }),
  );
  const deadLetters = telemetry.side('dlq').to('dead-letters', c.deadLetters());

  const enriched = telemetry.via('enrich', enrichWithActions(c.enrich, { toRules: c.rules !== undefined }));
  enriched.side('dlq').to('enrich-dead-letters', c.deadLetters());
  connectRejected('enrich', enriched, c.enrich, c.deadLetters);
  const hotTelemetry = enriched.to('hot-telemetry', c.hotTelemetry);
  connectRejected('hot-telemetry', hotTelemetry, c.hotTelemetry, c.deadLetters);
  if (c.cold) enriched.to('cold-telemetry', c.cold);

  const aggregates = enriched.via('windows', c.windows);
  aggregates
    .side('late')
    .via('late-records', lateRecordsAsDeadLetters())
    .to('late-dead-letters', c.deadLetters());
  const hotAggregates = aggregates.to('hot-aggregates', c.hotAggregates);
  connectRejected('hot-aggregates', hotAggregates, c.hotAggregates, c.deadLetters);
  const dailyAggregates = aggregates.to('daily-aggregates', c.dailyAggregates);
  connectRejected('daily-aggregates', dailyAggregates, c.dailyAggregates, c.deadLetters);
  if (c.formulas) aggregates.to('formula-results', c.formulas);

  let alarmEvents: SinkRef<AlarmEvent> | undefined;
  if (c.rules) {
    const written = enriched.side('rules').via('rules', c.rules.operator).to('alarm-events', c.rules.alarms);
    connectRejected('alarm-events', written, c.rules.alarms, c.deadLetters);
    alarmEvents = written;
  }

  if (c.cdc) addCdcBranch(b, c.cdc, c.deadLetters);
  return {
    topology: b.build(),
    records,
    deadLetters,
    hotTelemetry,
    hotAggregates,
    dailyAggregates,
    ...(alarmEvents === undefined ? {} : { alarmEvents }),
  };
}
