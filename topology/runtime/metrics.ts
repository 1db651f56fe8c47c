/**
 * Metrics the runtime keeps for every node and shard, without the components doing anything:
 * records in/out, errors, batch latency, queue depth, batches and records in flight, lag.
 */
import type { Position } from '../records.ts';

/** Upper bounds (ms) of the batch-latency histogram buckets. */
export const LATENCY_BUCKETS_MS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000] as const;

/** Counters of one node, summed over its shards. */
export class NodeMetrics {
  recordsIn = 0;
  recordsOut = 0;
  batches = 0;
  /** Timers fired (each firing of `onTimer` also counts as one batch). */
  timersFired = 0;
  errors = 0;
  latencySumMs = 0;
  latencyMaxMs = 0;
  /** Cumulative counts per bucket of {@link LATENCY_BUCKETS_MS}, plus one for +Inf. */
  readonly latencyBuckets: number[] = new Array(LATENCY_BUCKETS_MS.length + 1).fill(0);
  /** Records the node's store refused and the runtime isolated as dead letters, by the store's error code. */
  readonly isolatedByReason = new Map<string, number>();

  constructor(
    readonly node: string,
    readonly kind: 'source' | 'operator' | 'sink',
  ) {}

  /** Records one processed batch. */
  observe(recordsIn: number, recordsOut: number, latencyMs: number): void {
    this.recordsIn += recordsIn;
    this.recordsOut += recordsOut;
    this.batches++;
    this.latencySumMs += latencyMs;
    if (latencyMs > this.latencyMaxMs) this.latencyMaxMs = latencyMs;
    let i = LATENCY_BUCKETS_MS.findIndex((bound) => latencyMs <= bound);
    if (i === -1) i = LATENCY_BUCKETS_MS.length;
    this.latencyBuckets[i]!++;
  }

  /** Counts one record the store refused with `reason` (its error code). */
  isolated(reason: string): void {
    this.isolatedByReason.set(reason, (this.isolatedByReason.get(reason) ?? 0) + 1);
  }
}

/** Gauges and counters of one shard pipeline. */
export class ShardMetrics {
  batches = 0;
  records = 0;
  inFlightBatches = 0;
  /** Outputs of fired timers not yet through every sink (timers fired by a batch count with the batch). */
  inFlightTimers = 0;
  bufferedRecords = 0;
  /** Highest `bufferedRecords` seen: the figure the backpressure bound is checked against. */
  maxBufferedRecords = 0;
  millisBehindLatest: number | undefined;
  checkpoint: Position | undefined;

  constructor(
    readonly source: string,
    readonly shardId: string,
  ) {}

  /** A source batch entered the pipeline. */
  admit(records: number): void {
    this.batches++;
    this.records += records;
    this.inFlightBatches++;
    this.bufferedRecords += records;
    if (this.bufferedRecords > this.maxBufferedRecords) this.maxBufferedRecords = this.bufferedRecords;
  }

  /** A source batch left the pipeline (every sink has it). */
  complete(records: number): void {
    this.inFlightBatches--;
    this.bufferedRecords -= records;
  }
}

/** A node's figures at one moment. */
export interface NodeMetricsSnapshot {
  readonly node: string;
  readonly kind: 'source' | 'operator' | 'sink';
  readonly recordsIn: number;
  readonly recordsOut: number;
  readonly batches: number;
  /** Timers fired (optional only for snapshots made by hand, as in tests). */
  readonly timersFired?: number;
  readonly errors: number;
  readonly queueDepth: number;
  readonly latencyMeanMs: number;
  readonly latencyMaxMs: number;
  readonly latencyBuckets: readonly number[];
  readonly latencySumMs: number;
  /** Records isolated as refused by the store, by reason (optional only for snapshots made by hand). */
  readonly isolated?: Readonly<Record<string, number>>;
}

/** A shard's figures at one moment. */
export interface ShardMetricsSnapshot {
  readonly source: string;
  readonly shardId: string;
  readonly batches: number;
  readonly records: number;
  readonly inFlightBatches: number;
  readonly inFlightTimers: number;
  readonly bufferedRecords: number;
  readonly maxBufferedRecords: number;
  readonly millisBehindLatest: number | undefined;
  readonly checkpoint: Position | undefined;
  /** How long the shard's oldest failing batch has been retried, 0 when none (optional for snapshots made by hand). */
  readonly retryingMs?: number;
  /** True once that retry outlasted the retry age: the shard is stuck. */
  readonly stuck?: boolean;
  /** The shard's keyed state snapshots so far, when it has stateful operators. */
  readonly state?: StateFigures;
}

/** Nothing written or restored yet. */
export function noStateFigures(): StateFigures {
  return { snapshots: 0, bytes: 0, roundTrips: 0, entries: 0, restoredEntries: 0, restoreMs: 0 };
}

/** What a shard's keyed state snapshots have cost so far. */
export interface StateFigures {
  /** Snapshots written. */
  snapshots: number;
  /** Bytes of entry ids and values written. */
  bytes: number;
  /** Round trips to the state store for them. */
  roundTrips: number;
  /** Entries written or deleted. */
  entries: number;
  /** Entries the shard's state was restored with when it opened. */
  restoredEntries: number;
  /** How long the restore took (ms). */
  restoreMs: number;
}

/** A gauge reported by a source. */
export interface SourceGaugeSnapshot {
  /** The node that reports it: a source, or an operator when `kind` is `operator`. */
  readonly source: string;
  readonly kind?: 'operator';
  readonly name: string;
  readonly help: string;
  readonly value: number;
}

/** Everything the runtime measures, at one moment. */
export interface RuntimeMetricsSnapshot {
  readonly at: number;
  readonly nodes: readonly NodeMetricsSnapshot[];
  readonly shards: readonly ShardMetricsSnapshot[];
  readonly gauges: readonly SourceGaugeSnapshot[];
}

/** Snapshot of one node's counters, with its current queue depth. */
export function snapshotNode(m: NodeMetrics, queueDepth: number): NodeMetricsSnapshot {
  return {
    node: m.node,
    kind: m.kind,
    recordsIn: m.recordsIn,
    recordsOut: m.recordsOut,
    batches: m.batches,
    timersFired: m.timersFired,
    errors: m.errors,
    queueDepth,
    latencyMeanMs: m.batches === 0 ? 0 : m.latencySumMs / m.batches,
    latencyMaxMs: m.latencyMaxMs,
    latencyBuckets: [...m.latencyBuckets],
    latencySumMs: m.latencySumMs,
    isolated: Object.fromEntries(m.isolatedByReason),
  };
}

/** Snapshot of one shard's gauges, with its retries (see `RetryWatch`). */
export function snapshotShard(
  m: ShardMetrics,
  retries: { ageMs(): number; readonly stuck: boolean } = { ageMs: () => 0, stuck: false },
  state?: StateFigures,
): ShardMetricsSnapshot {
  return {
    source: m.source,
    shardId: m.shardId,
    batches: m.batches,
    records: m.records,
    inFlightBatches: m.inFlightBatches,
    inFlightTimers: m.inFlightTimers,
    bufferedRecords: m.bufferedRecords,
    maxBufferedRecords: m.maxBufferedRecords,
    millisBehindLatest: m.millisBehindLatest,
    checkpoint: m.checkpoint,
    retryingMs: retries.ageMs(),
    stuck: retries.stuck,
    ...(state === undefined ? {} : { state: { ...state } }),
  };
}

function label(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"');
}

/** Renders a snapshot in the Prometheus text exposition format. */
export function renderPrometheus(s: RuntimeMetricsSnapshot): string {
  const out: string[] = [];
  const counter = (name: string, help: string, get: (n: NodeMetricsSnapshot) => number, type = 'counter') => {
    out.push(`# HELP shardflow_${name} ${help}`, `# TYPE shardflow_${name} ${type}`);
    for (const n of s.nodes)
      out.push(`shardflow_${name}{node="${label(n.node)}",kind="${n.kind}"} ${get(n)}`);
  };
  counter('node_records_in_total', 'Records received by the node.', (n) => n.recordsIn);
  counter('node_records_out_total', 'Records emitted by the node (all ports).', (n) => n.recordsOut);
  counter(
    'node_batches_total',
    'Batches processed by the node (a timer firing counts as one).',
    (n) => n.batches,
  );
  counter('node_timers_fired_total', 'Timers fired at the node.', (n) => n.timersFired ?? 0);
  counter('node_errors_total', 'Failed attempts to process a batch.', (n) => n.errors);
  counter('node_queue_depth', 'Batches queued at the node over all shards.', (n) => n.queueDepth, 'gauge');
  out.push(
    '# HELP shardflow_records_isolated_total Records a store refused for their data, isolated as dead letters.',
    '# TYPE shardflow_records_isolated_total counter',
  );
  for (const n of s.nodes)
    for (const [reason, count] of Object.entries(n.isolated ?? {}))
      out.push(
        `shardflow_records_isolated_total{node="${label(n.node)}",kind="${n.kind}",reason="${label(reason)}"} ${count}`,
      );

  out.push('# HELP shardflow_node_batch_latency_ms Time to process one batch.');
  out.push('# TYPE shardflow_node_batch_latency_ms histogram');
  for (const n of s.nodes) {
    const l = `node="${label(n.node)}",kind="${n.kind}"`;
    let cumulative = 0;
    LATENCY_BUCKETS_MS.forEach((bound, i) => {
      cumulative += n.latencyBuckets[i]!;
      out.push(`shardflow_node_batch_latency_ms_bucket{${l},le="${bound}"} ${cumulative}`);
    });
    out.push(`shardflow_node_batch_latency_ms_bucket{${l},le="+Inf"} ${n.batches}`);
    out.push(`shardflow_node_batch_latency_ms_sum{${l}} ${n.latencySumMs}`);
    out.push(`shardflow_node_batch_latency_ms_count{${l}} ${n.batches}`);
  }

  const gauge = (name: string, help: string, get: (m: ShardMetricsSnapshot) => number | undefined) => {
    out.push(`# HELP shardflow_${name} ${help}`, `# TYPE shardflow_${name} gauge`);
    for (const m of s.shards) {
      const v = get(m);
      if (v !== undefined)
        out.push(`shardflow_${name}{source="${label(m.source)}",shard="${label(m.shardId)}"} ${v}`);
    }
  };
  gauge('shard_in_flight_batches', 'Source batches in the shard pipeline.', (m) => m.inFlightBatches);
  gauge('shard_buffered_records', 'Records in the shard pipeline.', (m) => m.bufferedRecords);
  gauge(
    'shard_millis_behind_latest',
    'How far the shard reader is behind the stream tip.',
    (m) => m.millisBehindLatest,
  );
  gauge('shard_records_total', 'Records read from the shard.', (m) => m.records);
  gauge(
    'shard_retrying_seconds',
    "How long the shard's oldest failing batch has been retried (0: none).",
    (m) => (m.retryingMs ?? 0) / 1000,
  );
  gauge('shard_stuck', 'Whether a batch of the shard has been retried past the retry age.', (m) =>
    m.stuck ? 1 : 0,
  );
  gauge(
    'shard_state_snapshots_total',
    "Snapshots of the shard's keyed state written.",
    (m) => m.state?.snapshots,
  );
  gauge(
    'shard_state_snapshot_bytes_total',
    "Bytes of the shard's keyed state snapshots written.",
    (m) => m.state?.bytes,
  );
  gauge(
    'shard_state_snapshot_round_trips_total',
    "Round trips to the state store for the shard's snapshots.",
    (m) => m.state?.roundTrips,
  );
  gauge('shard_state_restore_seconds', "How long restoring the shard's keyed state took.", (m) =>
    m.state === undefined ? undefined : m.state.restoreMs / 1000,
  );
  for (const name of new Set(s.gauges.map((g) => g.name))) {
    const of = s.gauges.filter((g) => g.name === name);
    out.push(`# HELP shardflow_${name} ${of[0]!.help}`, `# TYPE shardflow_${name} gauge`);
    for (const g of of) {
      out.push(
        `shardflow_${name}{${g.kind === 'operator' ? 'node' : 'source'}="${label(g.source)}"} ${g.value}`,
      );
    }
  }
  return `${out.join('\n')}\n`;
}
