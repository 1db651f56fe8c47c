/**
 * The runtime's wrappers around components (operators here, sinks in `sinkRunner.ts`). Each node gets
 * one runner, shared by all shards; a runner runs its component in the shard's lane for that node (in
 * order), measures it, retries it, fires its timers, and hands its outputs to the runners downstream.
 * Components never see any of this.
 */

import type { Clock } from '../clock.ts';
import type {
  FiredTimer,
  Operator,
  OperatorContext,
  ShardReaderStatus,
  SideOutputs,
  TimerContext,
  TimerService,
} from '../components.ts';
import { REJECTED_PORT } from '../graph.ts';
import type { KeyedState } from '../keyedState.ts';
import type { Logger } from '../logger.ts';
import { maxPosition, type Position } from '../records.ts';
import { attemptIsolating, onFailure, rejectedDeadLetters } from './isolation.ts';
import type { Lane } from './lane.ts';
import type { NodeMetrics } from './metrics.ts';
import { NodeState } from './nodeState.ts';
import { type RetryPolicy, withRetry } from './retry.ts';
import type { RetryWatch } from './retryWatch.ts';
import type { ShardSnapshots } from './snapshots.ts';
import { NodeTimers } from './timers.ts';

/** What a runner needs from the shard it is running for. */
export interface ShardScope {
  readonly shardId: string;
  /** The shard's reader, as components may ask (`BatchContext.reader`). */
  readonly reader: ShardReaderStatus;
  lane(node: string): Lane;
  markDurable(sink: string, position: Position): void;
  /**
   * Set by the first batch that fails for good. From then on no later batch of the shard runs
   * anywhere or becomes durable: its records must be read again after a restart, in order.
   */
  readonly failure: { readonly error: unknown } | undefined;
  fail(error: unknown): void;
  /** The node's timers on this shard, made by `create` on first use. */
  timers(node: string, create: () => NodeTimers): NodeTimers;
  /** The node's keyed state on this shard, made by `create` on first use. */
  nodeState(node: string, create: () => NodeState): NodeState;
  /** The shard's keyed state snapshots, when its sub-topology has stateful operators. */
  readonly snapshots: ShardSnapshots | undefined;
  /** The timer firings still delivering their outputs. */
  timerDeliveriesInFlight(): Promise<void>[];
  /** Keeps a timer's delivery until the shard is released; its failure stops the worker. */
  track(delivery: Promise<void>): void;
  /** The retries in progress on the shard (a shard retrying too long is reported stuck). */
  readonly retries: RetryWatch;
}

/** Raised for batches that follow a failed batch of the same shard; they were not processed. */
export class ShardStoppedError extends Error {
  override readonly name = 'ShardStoppedError';
}

/** Runs `work` unless the shard has failed; marks the shard failed if `work` fails. */
export async function guarded<T>(shard: ShardScope, work: () => Promise<T>): Promise<T> {
  if (shard.failure) throw new ShardStoppedError(`shard ${shard.shardId} stopped after an earlier failure`);
  try {
    return await work();
  } catch (error) {
    shard.fail(error);
    throw error;
  }
}

/** Shared services of all runners. */
export interface RunnerEnv {
  readonly clock: Clock;
  readonly log: Logger;
  /** Aborts retries: set when the worker stops for good (after the drain timeout). */
  readonly hardStop: AbortSignal;
}

/** A node that accepts batches from upstream. */
export interface Runner {
  readonly node: string;
  /**
   * Resolves when this node and everything downstream of it has finished the batch. `fromTimer`
   * marks records an operator's timer emitted (see `BatchContext.fromTimer`).
   */
  accept(
    shard: ShardScope,
    records: readonly unknown[],
    position: Position,
    fromTimer?: boolean,
  ): Promise<void>;
}

/** Hands one batch to several runners at once (fan-out); each keeps its own order. */
export function deliver(
  runners: readonly Runner[],
  shard: ShardScope,
  records: readonly unknown[],
  position: Position,
  fromTimer = false,
): Promise<void> {
  if (runners.length === 1) return runners[0]!.accept(shard, records, position, fromTimer);
  return Promise.all(runners.map((r) => r.accept(shard, records, position, fromTimer))).then(() => undefined);
}

class OperatorBatchContext implements OperatorContext<SideOutputs> {
  readonly sides = new Map<string, unknown[]>();

  constructor(
    readonly node: string,
    readonly shardId: string,
    readonly position: Position,
    readonly clock: Clock,
    ports: readonly string[],
    readonly timers: TimerService,
    readonly fromTimer: boolean,
    readonly state: KeyedState | undefined,
    readonly reader: ShardReaderStatus,
  ) {
    for (const port of ports) this.sides.set(port, []);
  }

  side(port: string, record: unknown): void {
    const records = this.sides.get(port);
    if (records === undefined)
      throw new Error(`node "${this.node}" emitted on undeclared side output "${port}"`);
    records.push(record);
  }
}

interface Outputs {
  readonly main: readonly unknown[];
  readonly sides: ReadonlyMap<string, readonly unknown[]>;
}

/** The outputs of the parts of a batch, in order, as those of one batch. */
function mergeOutputs(parts: readonly Outputs[]): Outputs {
  if (parts.length === 1) return { main: parts[0]!.main, sides: new Map(parts[0]!.sides) };
  const sides = new Map<string, unknown[]>();
  for (const part of parts)
    for (const [port, records] of part.sides) sides.set(port, [...(sides.get(port) ?? []), ...records]);
  return { main: parts.flatMap((p) => p.main), sides };
}

/**
 * Runs an operator and routes its main and side outputs. Outputs are handed downstream inside the
 * node's lane, so the runners downstream receive them in lane order: a timer's outputs always follow
 * those of the batches before it, which is what makes their position safe to report as durable.
 */
export class OperatorRunner implements Runner {
  /** Downstream runners by port (`main` or a side output). */
  readonly children = new Map<string, Runner[]>();
  private readonly ports: readonly string[];

  constructor(
    readonly node: string,
    private readonly operator: Operator<unknown, unknown, SideOutputs>,
    private readonly metrics: NodeMetrics,
    private readonly retry: RetryPolicy,
    private readonly env: RunnerEnv,
  ) {
    this.ports = operator.sideOutputs ?? [];
  }

  /** The operator isolates records its store refuses (it reads a store and says so). */
  private get isolates(): boolean {
    return this.operator.rejects === 'isolate' && this.operator.retry === 'like-sink';
  }

  accept(
    shard: ShardScope,
    records: readonly unknown[],
    position: Position,
    fromTimer = false,
  ): Promise<void> {
    return this.inLane(shard, async (forwards) => {
      const timers = this.timersOf(shard);
      timers.position = maxPosition(timers.position, position);
      const state = this.stateOf(shard);
      const snapshots = state === undefined || fromTimer ? undefined : shard.snapshots;
      // records the restored state holds already are not applied to it again (their outputs were
      // written before its snapshot was)
      const held = snapshots?.holds(position) === true;
      const result = held
        ? { main: [], sides: new Map<string, unknown[]>() }
        : await this.execute(shard, records, position, fromTimer, timers, state);
      // a shard's activity, published with its watermark, is its source's records
      if (!held && !fromTimer && records.length > 0) state?.markActive(this.env.clock.now());
      this.forward(shard, result, position, fromTimer, forwards);
      await this.fireDue(shard, timers, forwards);
      if (snapshots?.isBarrier(position))
        snapshots.capture(this.node, position, shard.timerDeliveriesInFlight());
    });
  }

  /** Whether the operator declares keyed state. */
  get stateful(): boolean {
    return this.operator.state !== undefined;
  }

  /** The operator's keyed state on the shard, if it declares any. */
  stateOf(shard: ShardScope): NodeState | undefined {
    const descriptors = this.operator.state;
    if (descriptors === undefined) return undefined;
    return shard.nodeState(this.node, () => new NodeState(this.node, descriptors, this.timersOf(shard)));
  }

  /** What the operator holds the shard's source with before its next batch (see `Operator.holdShard`). */
  hold(shard: ShardScope, signal: AbortSignal): Promise<void> | undefined {
    return this.operator.holdShard?.(shard.shardId, signal);
  }

  /** Runs the operator's `closeShard` once the shard has drained. */
  async closeShard(shard: ShardScope): Promise<void> {
    await this.operator.closeShard?.({ node: this.node, shardId: shard.shardId });
  }

  /**
   * Runs the operator's `openShard` in the node's lane, ahead of any batch of the shard, and fires
   * the timers that are due (a stateful operator's restored timers too).
   */
  openShard(shard: ShardScope): void {
    const openShard = this.operator.openShard;
    if (openShard === undefined && !this.stateful) return;
    const opened = this.inLane(shard, async (forwards) => {
      const timers = this.timersOf(shard);
      const state = this.stateOf(shard);
      const ctx = {
        node: this.node,
        shardId: shard.shardId,
        clock: this.env.clock,
        timers: timers.service,
        ...(state === undefined ? {} : { state }),
      };
      if (openShard !== undefined) {
        await this.withRetry(shard, async () => openShard(ctx));
        shard.retries.succeeded(this.node);
      }
      await this.fireDue(shard, timers, forwards);
    });
    shard.track(opened);
  }

  /** Runs `work` in the shard's lane for this node; resolves once its forwards are through. */
  private async inLane(shard: ShardScope, work: (forwards: Promise<void>[]) => Promise<void>): Promise<void> {
    const forwards: Promise<void>[] = [];
    await shard.lane(this.node).run(() => guarded(shard, () => work(forwards)));
    await Promise.all(forwards);
  }

  private forward(
    shard: ShardScope,
    result: Outputs,
    position: Position,
    fromTimer: boolean,
    forwards: Promise<void>[],
  ): void {
    for (const [port, runners] of this.children) {
      const out = port === 'main' ? result.main : (result.sides.get(port) ?? []);
      // a batch is passed on even when empty (it moves the sinks' durable positions); a timer's
      // position is no news downstream, so only its records are
      if (fromTimer && out.length === 0) continue;
      const forward = deliver(runners, shard, out, position, fromTimer);
      // rejections are the caller's, once every forward is handed over
      forward.catch(() => {});
      forwards.push(forward);
    }
  }

  private timersOf(shard: ShardScope): NodeTimers {
    return shard.timers(this.node, () => {
      const timers: NodeTimers = new NodeTimers(
        this.node,
        this.env.clock,
        this.operator.onTimer !== undefined,
        () => this.onProcessingTime(shard, timers),
      );
      return timers;
    });
  }

  /** The clock reached the earliest processing-time timer: fire what is due, in the lane. */
  private onProcessingTime(shard: ShardScope, timers: NodeTimers): void {
    if (shard.failure) return;
    shard.track(
      timers.deliver(() => this.inLane(shard, (forwards) => this.fireDue(shard, timers, forwards))),
    );
  }

  /** Fires the due processing-time timers, then event-time timers until none is due; re-arms the clock. */
  private async fireDue(shard: ShardScope, timers: NodeTimers, forwards: Promise<void>[]): Promise<void> {
    const processing = timers.takeDue('processing-time');
    if (processing.length > 0) await this.fire(shard, timers, processing, forwards);
    for (;;) {
      const event = timers.takeDue('event-time');
      if (event.length === 0) break;
      await this.fire(shard, timers, event, forwards);
    }
    timers.arm();
  }

  private async fire(
    shard: ShardScope,
    timers: NodeTimers,
    fired: readonly FiredTimer[],
    forwards: Promise<void>[],
  ): Promise<void> {
    const onTimer = this.operator.onTimer!;
    const position = timers.position!;
    const started = performance.now();
    const result = await this.withRetry(shard, async () => {
      const ctx = new OperatorBatchContext(
        this.node,
        shard.shardId,
        position,
        this.env.clock,
        this.ports,
        timers.service,
        true,
        this.stateOf(shard),
        shard.reader,
      );
      const main = await onTimer(fired, ctx as TimerContext<SideOutputs>);
      return { main, sides: ctx.sides };
    });
    shard.retries.succeeded(this.node);
    this.metrics.timersFired += fired.length;
    this.observe(0, result, started);
    this.forward(shard, result, position, true, forwards);
  }

  private async execute(
    shard: ShardScope,
    records: readonly unknown[],
    position: Position,
    fromTimer: boolean,
    timers: NodeTimers,
    state: NodeState | undefined,
  ): Promise<Outputs> {
    if (records.length === 0) {
      return { main: records, sides: new Map<string, unknown[]>() };
    }
    const started = performance.now();
    const context = () =>
      new OperatorBatchContext(
        this.node,
        shard.shardId,
        position,
        this.env.clock,
        this.ports,
        timers.service,
        fromTimer,
        state,
        shard.reader,
      );
    const isolated = await attemptIsolating(
      records,
      async (part) => {
        const ctx = context();
        const main = await this.operator.process(part, ctx);
        return { main, sides: ctx.sides as ReadonlyMap<string, readonly unknown[]> };
      },
      this.isolates,
      this.retry,
      this.env,
      this.metrics,
      shard,
    );
    const result = mergeOutputs(isolated.results);
    if (this.isolates) {
      const letters = rejectedDeadLetters(isolated.rejected, context(), this.env, this.metrics);
      (result.sides as Map<string, readonly unknown[]>).set(REJECTED_PORT, letters);
    }
    this.observe(records.length, result, started);
    return result;
  }

  private withRetry<T>(shard: ShardScope, work: () => Promise<T>): Promise<T> {
    return withRetry(
      work,
      this.retry,
      this.env.clock,
      this.env.hardStop,
      onFailure(this.env, this.metrics, shard),
    );
  }

  private observe(recordsIn: number, result: Outputs, started: number): void {
    let out = result.main.length;
    for (const side of result.sides.values()) out += side.length;
    this.metrics.observe(recordsIn, out, performance.now() - started);
  }
}
