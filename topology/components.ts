/**
 * The contracts of the three kinds of node: sources, operators and sinks. Components implement only
 * these; batching, ordering, backpressure, metrics, retries and checkpoints come from the runtime.
 *
 * Functions are declared as properties (not methods) on purpose: TypeScript checks property
 * parameters contravariantly, which is what makes a mismatched edge fail to compile.
 */
import type { Clock } from './clock.ts';
import type { KeyedState, PublishedState, StateDescriptor } from './keyedState.ts';
import type { Position } from './records.ts';

/** Side outputs of an operator: port name → record type (e.g. `{ dlq: DeadLetter }`). */
export type SideOutputs = { readonly [port: string]: unknown };

/** The operator has no side outputs. */
export type NoSideOutputs = Record<never, never>;

/** A store a component reads or writes, shown in the topology description. */
export interface StoreRef {
  /** Stable name, e.g. `warm.dead_letters`. */
  readonly name: string;
  /** The technology, e.g. `postgresql`, `redis`, `dynamodb`. */
  readonly kind: string;
}

/**
 * How a shard's reader stands, as the runtime sees it now: what tells a consumer that is late (behind
 * the tip of the stream, or held back by batches in flight) from a stream that is quiet.
 */
export interface ShardReaderStatus {
  /**
   * How far behind the tip of its stream the latest batch taken from the source was, when the source
   * says (a Kinesis shard does); undefined before the first batch or when it does not.
   */
  readonly millisBehindLatest: number | undefined;
  /**
   * Whether the shard's source is not being read for want of room: its window of batches in flight is
   * full (a slow or failing sink downstream) or an operator holds it. False while it reads or waits
   * on the source.
   */
  readonly heldBack: boolean;
}

/** What every component gets with each batch. */
export interface BatchContext {
  /** The author-given name of the node running this batch. */
  readonly node: string;
  readonly shardId: string;
  /**
   * The source position of the last record of the source batch this batch derives from. For records
   * an operator's timer emitted (`fromTimer`), the last position that operator had seen on the shard.
   */
  readonly position: Position;
  readonly clock: Clock;
  /**
   * Set when the records come from an operator's timer, not from the source batch at `position`. They
   * are new records, not a replay: a sink that skips positions it has already applied must not skip
   * them, and must make them idempotent by content (a revision, an upsert) instead.
   */
  readonly fromTimer?: boolean;
  /**
   * The shard's reader now (a live view, read when asked): set by the runtime; optional only so that a
   * test may call a component with a context of its own.
   */
  readonly reader?: ShardReaderStatus;
}

/** Batch context of an operator, with its typed side outputs. */
export interface OperatorContext<Sides extends SideOutputs = NoSideOutputs> extends BatchContext {
  /** Emits a record on a declared side output (dead letters, late records). */
  side<K extends keyof Sides & string>(port: K, record: Sides[K]): void;
  /**
   * This node's keyed timers on this shard. Always set by the runtime; optional only so that a test
   * may call `process` with a context of its own.
   */
  readonly timers?: TimerService;
  /**
   * This node's keyed state on this shard (see `keyedState.ts`), when the operator declares `state`.
   * Optional for the same reason as `timers`.
   */
  readonly state?: KeyedState;
}

/** The two clocks a timer can wait on. */
export type TimeDomain = 'event-time' | 'processing-time';

/**
 * Keyed timers of one operator on one shard, at most one per (key, timestamp, domain). They live in
 * memory and die with the shard's pipeline: an operator whose timers must survive a restart keeps the
 * truth in its state backend and registers them again in `openShard`.
 */
export interface TimerService {
  /** The shard's event-time watermark as this operator last advanced it; `-Infinity` at first. */
  readonly watermark: number;
  /**
   * Moves the watermark forward (a lower value changes nothing). Event-time timers at or below it fire
   * as soon as the current `process`, `onTimer` or `openShard` call returns.
   */
  advanceWatermark(watermark: number): void;
  /** Fires once the watermark reaches `timestamp` (epoch ms). */
  registerEventTime(key: string, timestamp: number): void;
  /** Fires once the runtime's clock reaches `timestamp` (epoch ms), also while the shard is idle. */
  registerProcessingTime(key: string, timestamp: number): void;
  /** Deletes an event-time timer that has not fired (an unknown one is ignored). */
  deleteEventTime(key: string, timestamp: number): void;
  /** Deletes a processing-time timer that has not fired (an unknown one is ignored). */
  deleteProcessingTime(key: string, timestamp: number): void;
}

/** A timer that came due. */
export interface FiredTimer {
  readonly key: string;
  readonly timestamp: number;
  readonly domain: TimeDomain;
}

/** Context of `onTimer`: a batch context whose records come from timers, with the timers at hand. */
export interface TimerContext<Sides extends SideOutputs = NoSideOutputs> extends OperatorContext<Sides> {
  readonly fromTimer: true;
  readonly timers: TimerService;
}

/** What an operator gets when one of its shards opens, before the shard's first batch. */
export interface ShardContext {
  readonly node: string;
  readonly shardId: string;
  readonly clock: Clock;
  readonly timers: TimerService;
  /** The shard's keyed state, restored from its snapshot, when the operator declares `state`. */
  readonly state?: KeyedState;
}

/** What a component gets once, when the runtime opens it. */
export interface OpenContext {
  readonly node: string;
  readonly clock: Clock;
  /** Aborted when the runtime shuts down. */
  readonly signal: AbortSignal;
  /**
   * What every shard of this node published (see `StateDescriptor.publish`): set for an operator
   * that declares published state, when the runtime has a state store.
   */
  readonly published?: PublishedState;
}

/** A transformation of batches: `In[]` → `Out[]`, with optional side outputs. */
export interface Operator<In, Out, Sides extends SideOutputs = NoSideOutputs> {
  /** What kind of operator this is (e.g. `decode-by-spec`); the node's name is given by the author. */
  readonly type: string;
  /** Names of the side outputs the operator may emit on; each must be connected in the topology. */
  readonly sideOutputs?: readonly (keyof Sides & string)[];
  readonly stores?: readonly StoreRef[];
  /**
   * How a failed batch is retried. By default a throwing operator is a bug and fails the worker (it
   * restarts from its checkpoint); `'like-sink'` is for operators that read or write a store (the
   * master data, the window state) and must be idempotent: a store outage is then retried like a
   * sink's, stalling the shard until the store answers.
   */
  readonly retry?: 'like-sink';
  /**
   * `'isolate'` (with `retry: 'like-sink'`): see {@link Sink.rejects}. The refused records leave on
   * the node's `rejected` output.
   */
  readonly rejects?: 'isolate';
  /** The operator's own gauges (cache hits, say), read whenever metrics are read. */
  readonly gauges?: () => readonly SourceGauge[];
  /**
   * The operator's keyed state (see `keyedState.ts`). An operator that declares it has its state and
   * its timers snapshotted with the shard's checkpoint and restored by whoever takes the shard over;
   * its timers' keys are then state keys (partition keys, or `''`). The runtime needs a `stateStore`.
   */
  readonly state?: readonly StateDescriptor[];
  readonly open?: (ctx: OpenContext) => void | Promise<void>;
  readonly process: (
    batch: readonly In[],
    ctx: OperatorContext<Sides>,
  ) => readonly Out[] | Promise<readonly Out[]>;
  /**
   * Called once per shard when its pipeline opens, in the node's lane before the shard's first batch:
   * the place to register timers again from the operator's state.
   */
  readonly openShard?: (ctx: ShardContext) => void | Promise<void>;
  /**
   * Asked before the runtime pulls a shard's next batch from its source: a promise holds the shard's
   * source until it settles (watermark alignment), while the batches in flight finish and are
   * snapshotted. It must settle once `signal` aborts (the runtime stops).
   */
  readonly holdShard?: (shardId: string, signal: AbortSignal) => Promise<void> | undefined;
  /**
   * Called once per shard when its pipeline has drained (the shard ended, its lease went, or the
   * runtime stops), after its last batch and timer: the place to drop what the operator keeps in
   * memory for the shard. Not called for a shard that failed.
   */
  readonly closeShard?: (ctx: { readonly node: string; readonly shardId: string }) => void | Promise<void>;
  /**
   * Called with the shard's timers that came due, in timestamp order, in the node's lane for that
   * shard (never alongside one of its batches), retried like `process`. Its outputs, main and side,
   * flow downstream like a batch's. Required to register timers.
   */
  readonly onTimer?: (
    fired: readonly FiredTimer[],
    ctx: TimerContext<Sides>,
  ) => readonly Out[] | Promise<readonly Out[]>;
  readonly close?: () => void | Promise<void>;
}

/** Open context of a sink: a buffering sink reports durability through it. */
export interface SinkOpenContext extends OpenContext {
  /** Reports that everything this sink received from `shardId` up to `position` is durable. */
  markDurable(shardId: string, position: Position): void;
}

/**
 * A writer to a store. A sink with `durability: 'on-write'` (the default) has made a batch durable
 * when `write` resolves; one with `'explicit'` buffers and calls `markDurable` after its commit.
 */
export interface Sink<In> {
  readonly type: string;
  readonly stores?: readonly StoreRef[];
  readonly durability?: 'on-write' | 'explicit';
  /**
   * `'isolate'`: when the store refuses a batch for the records in it (a permanent error, see
   * `isPermanent`), the runtime writes parts of the batch until it has found each refused record,
   * and sends those as dead letters on the node's `rejected` output, which must be connected; the
   * rest is written and the shard moves on. The sink must then accept any part of a batch at the
   * batch's position, as natural-key upserts do (a per-shard position high-water mark does not).
   * Without it a permanent error is retried like an outage: the shard stalls and is reported stuck.
   */
  readonly rejects?: 'isolate';
  readonly open?: (ctx: SinkOpenContext) => void | Promise<void>;
  readonly write: (batch: readonly In[], ctx: BatchContext) => Promise<void>;
  /** Makes everything buffered durable; called before the final checkpoint of a shard or worker. */
  readonly flush?: () => Promise<void>;
  readonly close?: () => void | Promise<void>;
}

/** One batch as a source hands it over: a GetRecords page, say. */
export interface SourceBatch<T> {
  readonly records: readonly T[];
  /** Position of the last record in the batch (also set for an empty page, to move the checkpoint). */
  readonly position: Position;
  /** How far this shard's reader is behind the tip of the stream, when the source knows. */
  readonly millisBehindLatest?: number;
}

/**
 * A shard's range of partition-key hashes (the MD5 of the key as a 128-bit unsigned integer),
 * inclusive, as decimal strings (Kinesis's `HashKeyRange`). See `hashKey.ts`.
 */
export interface HashKeyRange {
  readonly startingHashKey: string;
  readonly endingHashKey: string;
}

/** Where a shard came from: what keyed state needs to follow its keys across a reshard. */
export interface ShardLineage {
  /** The shards this one was split or merged from; they were read to their end before it started. */
  readonly parentShardIds: readonly string[];
  readonly hashKeyRange: HashKeyRange;
}

/** One shard (source partition) assigned to this worker. */
export interface ShardHandle<T> {
  readonly shardId: string;
  /** Where the shard came from, when the source knows (a Kinesis shard always does). */
  readonly lineage?: ShardLineage;
  /** The shard's batches in order. Pulled one at a time: the runtime pulls only when it has room. */
  readonly batches: AsyncIterable<SourceBatch<T>>;
  /**
   * The checkpoint the shard resumes after, when the source has one. Operators' timers may fire at this
   * position before the shard's first batch (on a shard that stays idle after a restart, say).
   */
  readonly startPosition?: Position;
  /** The lowest position every sink has made durable; the source may commit it. */
  readonly checkpoint: (position: Position) => Promise<void>;
  /**
   * Called once when the shard's pipeline has drained after `batches` ended (shard end, lost lease)
   * or after shutdown, with the final durable position (`startPosition` if nothing moved it).
   */
  readonly release: (finalPosition: Position | undefined) => Promise<void>;
}

/** Open context of a source. */
export interface SourceContext extends OpenContext {}

/** A figure a source reports about itself (leases held, open shards), exported as a gauge. */
export interface SourceGauge {
  /** Metric name without the `shardflow_` prefix, e.g. `leases_held`. */
  readonly name: string;
  readonly help: string;
  readonly value: number;
}

/** A producer of shards and their batches. */
export interface Source<T> {
  readonly type: string;
  readonly stores?: readonly StoreRef[];
  /** The source's own gauges, read whenever metrics are read. */
  readonly gauges?: () => readonly SourceGauge[];
  /** The shards this worker processes, yielded as they are assigned; ends when `ctx.signal` aborts. */
  readonly shards: (ctx: SourceContext) => AsyncIterable<ShardHandle<T>>;
  /**
   * The position of one record in its shard. Needed by topologies with keyed state: a shard restored
   * from a snapshot ahead of its checkpoint has the batch that straddles the snapshot's position cut
   * there, so that no record is applied to the state twice.
   */
  readonly positionOf?: (record: T) => Position;
  readonly close?: () => void | Promise<void>;
}
