/**
 * The topology runtime: one pipeline per shard, in order within a shard, a bounded window of batches
 * in flight per shard (a full window stops the source from fetching), operators' keyed timers per
 * shard, metrics for every node, and a checkpoint coordinator that hands each source the minimum
 * durable position over its sinks.
 */
import { Subject } from 'rxjs';
import { MAIN_PORT, type SinkNode, type SourceNode, type Topology } from '../builder.ts';
import { type Clock, systemClock } from '../clock.ts';
import type { ShardHandle } from '../components.ts';
import type { StateStore } from '../keyedState.ts';
import { errorMessage, type Logger, silentLogger } from '../logger.ts';
import type { Position } from '../records.ts';
import { DrainTimeoutError, type UndrainedShard } from './drainTimeout.ts';
import { captureQuiet, deliverKeyed, openKeyedState, writeDueSnapshot } from './keyedShards.ts';
import { NodeMetrics, type RuntimeMetricsSnapshot, snapshotNode, snapshotShard } from './metrics.ts';
import { publishedStateOf } from './publishedState.ts';
import { OPERATOR_RETRY, type RetryPolicy, SINK_RETRY } from './retry.ts';
import { deliver, OperatorRunner, type Runner, type RunnerEnv } from './runners.ts';
import { ShardState } from './shardState.ts';
import { SinkRunner } from './sinkRunner.ts';
import { STATE_DURABILITY } from './snapshots.ts';

/** How often a stop past its drain timeout logs the shards it still waits for. */
const STOP_REPORT_MS = 30_000;

/** How the runtime runs a topology. */
export interface RuntimeOptions {
  readonly clock?: Clock;
  readonly log?: Logger;
  /** Source batches in flight per shard before the source is no longer pulled. Default 4. */
  readonly maxInFlightBatches?: number;
  /** How often advanced checkpoints are handed to sources; 0 hands each advance at once. Default 1000. */
  readonly checkpointIntervalMs?: number;
  /** How long `stop()` lets in-flight batches finish before it aborts retries. Default 30 s. */
  readonly drainTimeoutMs?: number;
  readonly sinkRetry?: RetryPolicy;
  readonly operatorRetry?: RetryPolicy;
  /** After this long retrying one batch, its shard is reported stuck (it is still retried). Default 60 s. */
  readonly maxRetryAgeMs?: number;
  /**
   * Where keyed state is snapshotted; required when an operator declares `state`. Snapshots are taken
   * at most every `checkpointIntervalMs` (at every batch with 0).
   */
  readonly stateStore?: StateStore;
}

/** Something that happened in the runtime, for logs, progress and the visualiser. */
export type RuntimeEvent =
  | { readonly type: 'shard-opened'; readonly source: string; readonly shardId: string }
  | {
      readonly type: 'shard-released';
      readonly source: string;
      readonly shardId: string;
      readonly position: Position | undefined;
    }
  | {
      readonly type: 'checkpoint';
      readonly source: string;
      readonly shardId: string;
      readonly position: Position;
    }
  | { readonly type: 'failed'; readonly error: unknown };

interface SubTopology {
  readonly source: SourceNode;
  readonly roots: readonly Runner[];
  readonly operators: readonly OperatorRunner[];
  /** The operators that declare keyed state. */
  readonly stateful: readonly OperatorRunner[];
  readonly sinks: readonly SinkRunner[];
  readonly shards: Map<string, ShardState>;
}

/** Which shard, and where its loop is. */
function whereShardIs(s: ShardState) {
  return { source: s.source, shardId: s.shardId, phase: s.phase, inFlightBatches: s.permits.inUse };
}

/** Runs a built topology until its sources end or `stop()` is called. */
export class TopologyRuntime {
  /** Events as they happen (rxjs: subscribe for logs, progress and the admin page). */
  readonly events = new Subject<RuntimeEvent>();
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly window: number;
  private readonly checkpointIntervalMs: number;
  private readonly drainTimeoutMs: number;
  private readonly maxRetryAgeMs: number;
  private readonly soft = new AbortController();
  private readonly hard = new AbortController();
  private readonly nodeMetrics = new Map<string, NodeMetrics>();
  private readonly subTopologies: SubTopology[] = [];
  private failure: { error: unknown } | undefined;
  private running: Promise<void> | undefined;
  private readonly stateStore: StateStore | undefined;
  private readonly sinkRetry: RetryPolicy;

  constructor(
    private readonly topology: Topology,
    options: RuntimeOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? silentLogger;
    this.window = options.maxInFlightBatches ?? 4;
    this.checkpointIntervalMs = options.checkpointIntervalMs ?? 1000;
    this.drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
    this.maxRetryAgeMs = options.maxRetryAgeMs ?? 60_000;
    this.stateStore = options.stateStore;
    this.sinkRetry = options.sinkRetry ?? SINK_RETRY;
    const env: RunnerEnv = { clock: this.clock, log: this.log, hardStop: this.hard.signal };
    this.plan(env, options.operatorRetry ?? OPERATOR_RETRY, this.sinkRetry);
    const stateful = this.subTopologies.flatMap((sub) => sub.stateful.map((r) => r.node));
    if (stateful.length > 0 && this.stateStore === undefined)
      throw new Error(
        `operators ${stateful.map((n) => `"${n}"`).join(', ')} declare keyed state: the runtime needs a stateStore`,
      );
  }

  private plan(env: RunnerEnv, operatorRetry: RetryPolicy, sinkRetry: RetryPolicy): void {
    const runners = new Map<string, Runner>();
    const childrenOf = new Map<string, Map<string, Runner[]>>();
    for (const node of this.topology.nodes) {
      const metrics = new NodeMetrics(node.name, node.kind);
      this.nodeMetrics.set(node.name, metrics);
      if (node.kind === 'source') {
        childrenOf.set(node.name, new Map());
        continue;
      }
      const runner =
        node.kind === 'operator'
          ? new OperatorRunner(
              node.name,
              node.component,
              metrics,
              // an operator that reads a store declares its own retry (a store outage is not a bug)
              node.component.retry === 'like-sink' ? sinkRetry : operatorRetry,
              env,
            )
          : new SinkRunner(node.name, node.component, metrics, sinkRetry, env);
      childrenOf.set(node.name, runner.children);
      runners.set(node.name, runner);
      const siblings = childrenOf.get(node.input.node)!;
      siblings.set(node.input.port, [...(siblings.get(node.input.port) ?? []), runner]);
    }
    for (const source of this.topology.nodes) {
      if (source.kind !== 'source') continue;
      const members = this.topology.describe().subTopologies.find((s) => s.source === source.name)!.nodes;
      const runnersOf = members.map((name) => runners.get(name));
      const sinks = runnersOf.filter((r): r is SinkRunner => r instanceof SinkRunner);
      const operators = runnersOf.filter((r): r is OperatorRunner => r instanceof OperatorRunner);
      this.subTopologies.push({
        source,
        roots: childrenOf.get(source.name)!.get(MAIN_PORT) ?? [],
        operators,
        stateful: operators.filter((o) => o.stateful),
        sinks,
        shards: new Map(),
      });
    }
  }

  /** Opens every component, runs until the sources end or `stop()` drains, then closes everything. */
  run(): Promise<void> {
    this.running ??= this.runToEnd();
    return this.running;
  }

  /** Stops fetching, drains in-flight batches (up to the drain timeout), checkpoints, closes. */
  async stop(): Promise<void> {
    if (!this.soft.signal.aborted) this.soft.abort(new Error('runtime stopping'));
    const running = this.running ?? Promise.resolve();
    const timeout = new AbortController();
    const timer = this.clock.sleep(this.drainTimeoutMs, timeout.signal).then(
      async () => {
        const undrained = this.undrainedShards();
        // the reason the runtime stops is that these shards could not drain, whatever the aborted
        // retries throw next
        if (undrained.length > 0)
          this.failure ??= { error: new DrainTimeoutError(this.drainTimeoutMs, undrained) };
        this.log.error(
          { drainTimeoutMs: this.drainTimeoutMs, shards: undrained },
          'drain timeout: retries aborted; these shards were not drained, their records after the checkpoint are read again by the next owner',
        );
        this.hard.abort(new Error('drain timeout'));
        // a stop that still does not end says, now and then, what it is waiting for; the sleep is
        // cut short (rejects) once the run has ended, which ends this loop and nothing else
        for (;;) {
          await this.clock.sleep(STOP_REPORT_MS, timeout.signal);
          this.log.warn({ shards: this.openShards() }, 'still stopping; waiting for these shards');
        }
      },
      () => {},
    );
    const reported = timer.catch(() => {});
    try {
      await running;
    } finally {
      timeout.abort();
      await reported;
    }
  }

  /** The shards not released yet, with where each one's loop is and what it has in flight. */
  openShards(): {
    source: string;
    shardId: string;
    phase: string;
    inFlightBatches: number;
    inFlightTimers: number;
  }[] {
    return this.shardStates().map((s) => ({ ...whereShardIs(s), inFlightTimers: s.metrics.inFlightTimers }));
  }

  /** The shards not released yet, with the nodes retrying on them and their last checkpoint. */
  private undrainedShards(): UndrainedShard[] {
    return this.shardStates().map((s) => ({
      ...whereShardIs(s),
      retrying: s.retries.retrying(),
      checkpoint: s.checkpoints.lastCommitted,
    }));
  }

  private shardStates(): ShardState[] {
    return this.subTopologies.flatMap((sub) => [...sub.shards.values()]);
  }

  /** The error that stopped the runtime, if one did. */
  get error(): unknown {
    return this.failure?.error;
  }

  /** Current figures for every node and shard. */
  metrics(): RuntimeMetricsSnapshot {
    const depth = new Map<string, number>();
    const shards = [];
    for (const sub of this.subTopologies) {
      for (const shard of sub.shards.values()) {
        shards.push(snapshotShard(shard.metrics, shard.retries, shard.snapshots?.figures));
        for (const [node, lane] of shard.lanes) depth.set(node, (depth.get(node) ?? 0) + lane.depth);
      }
    }
    const nodes = [...this.nodeMetrics.values()].map((m) => snapshotNode(m, depth.get(m.node) ?? 0));
    const gauges = [
      ...this.subTopologies.flatMap(({ source }) =>
        (source.component.gauges?.() ?? []).map((g) => ({ source: source.name, ...g })),
      ),
      ...this.topology.nodes.flatMap((n) =>
        n.kind === 'operator'
          ? (n.component.gauges?.() ?? []).map((g) => ({ source: n.name, kind: 'operator' as const, ...g }))
          : [],
      ),
    ];
    return { at: this.clock.now(), nodes, shards, gauges };
  }

  private async openComponents(): Promise<void> {
    if (this.subTopologies.some((sub) => sub.stateful.length > 0)) await this.stateStore!.open();
    for (const node of this.topology.nodes) {
      const ctx = { node: node.name, clock: this.clock, signal: this.soft.signal };
      if (node.kind === 'sink') {
        await node.component.open?.({
          ...ctx,
          markDurable: (shardId, p) => this.sinkDurable(node, shardId, p),
        });
      } else if (node.kind === 'operator') {
        const published = publishedStateOf(this.stateStore, node.name, node.component.state);
        await node.component.open?.(published === undefined ? ctx : { ...ctx, published });
      }
    }
  }

  private async runToEnd(): Promise<void> {
    const components = this.topology.nodes.map((n) => ({ name: n.name, component: n.component }));
    let ticker: Promise<void> | undefined;
    try {
      await this.openComponents();
      ticker = this.checkpointTicker();
      await Promise.all(this.subTopologies.map((sub) => this.runSource(sub)));
    } finally {
      this.soft.abort(new Error('runtime stopped'));
      await ticker;
      // every component is closed, including those opened before one failed to open
      for (const { name, component } of components.reverse()) {
        try {
          await component.close?.();
        } catch (error) {
          this.log.error({ node: name, error: errorMessage(error) }, 'close failed');
        }
      }
      await this.stateStore?.close().catch((error: unknown) => {
        this.log.error({ error: errorMessage(error) }, 'state store close failed');
      });
      this.events.complete();
    }
    if (this.failure) throw this.failure.error;
  }

  private sinkDurable(sink: SinkNode, shardId: string, position: Position): void {
    for (const sub of this.subTopologies) {
      if (sub.sinks.some((s) => s.node === sink.name))
        sub.shards.get(shardId)?.markDurable(sink.name, position);
    }
  }

  private fail(error: unknown): void {
    if (this.failure) return;
    this.failure = { error };
    this.log.error({ error: errorMessage(error) }, 'runtime failed; stopping');
    this.events.next({ type: 'failed', error });
    this.soft.abort(error);
  }

  private async runSource(sub: SubTopology): Promise<void> {
    const pipelines = new Set<Promise<void>>();
    const ctx = { node: sub.source.name, clock: this.clock, signal: this.soft.signal };
    try {
      for await (const handle of sub.source.component.shards(ctx)) {
        const pipeline = this.runShard(sub, handle).catch((error) => this.fail(error));
        pipelines.add(pipeline);
        void pipeline.finally(() => pipelines.delete(pipeline));
      }
    } catch (error) {
      this.fail(error);
    }
    await Promise.all(pipelines);
  }

  private async runShard(sub: SubTopology, handle: ShardHandle<unknown>): Promise<void> {
    const source = sub.source.name;
    if (sub.shards.has(handle.shardId)) throw new Error(`shard ${handle.shardId} of ${source} opened twice`);
    const stateful = sub.stateful.length > 0;
    const shard = new ShardState(
      source,
      handle,
      [...sub.sinks.map((s) => s.node), ...(stateful ? [STATE_DURABILITY] : [])],
      this.window,
      { clock: this.clock, log: this.log, maxRetryAgeMs: this.maxRetryAgeMs },
      (error) => this.fail(error),
    );
    sub.shards.set(handle.shardId, shard);
    this.events.next({ type: 'shard-opened', source, shardId: handle.shardId });
    const sourceMetrics = this.nodeMetrics.get(source)!;
    let last = handle.startPosition;
    try {
      if (stateful)
        await openKeyedState(
          shard,
          sub.stateful,
          {
            store: this.stateStore!,
            clock: this.clock,
            intervalMs: this.checkpointIntervalMs,
            log: this.log,
            retry: this.sinkRetry,
          },
          this.hard.signal,
        );
      // queued in each operator's lane ahead of the first batch
      for (const operator of sub.operators) operator.openShard(shard);
      const batches = handle.batches[Symbol.asyncIterator]();
      for (;;) {
        shard.phase = 'waiting for a permit (batches in flight)';
        await shard.permits.acquire();
        if (this.failure) {
          shard.permits.release();
          break;
        }
        for (const operator of sub.operators) {
          const held = operator.hold(shard, this.soft.signal);
          if (held === undefined) continue;
          shard.phase = 'held by an operator (watermark alignment)';
          await held;
        }
        shard.phase = 'waiting for the source';
        const next = await batches.next();
        if (next.done) {
          shard.permits.release();
          break;
        }
        const { records, position, millisBehindLatest } = next.value;
        shard.metrics.admit(records.length);
        if (millisBehindLatest !== undefined) shard.metrics.millisBehindLatest = millisBehindLatest;
        sourceMetrics.observe(records.length, records.length, 0);
        last = position;
        (shard.snapshots === undefined
          ? deliver(sub.roots, shard, records, position)
          : deliverKeyed(sub.roots, shard, shard.snapshots, records, position, sub.source)
        ).then(
          async () => {
            shard.metrics.complete(records.length);
            // With checkpoints at every advance, a batch stays in flight until its checkpoint is
            // written: after a crash at most the window of batches is read again.
            if (this.checkpointIntervalMs === 0) await this.commit(shard);
            shard.permits.release();
          },
          (error) => {
            shard.metrics.complete(records.length);
            shard.permits.release();
            // batches after the failed one reject too; report the failure that stopped the shard
            this.fail(shard.failure?.error ?? error);
          },
        );
      }
    } finally {
      // Drain: every permit back means every batch of this shard has left the pipeline; then no timer
      // fires any more, and those that fired have left it too.
      shard.phase = 'draining batches in flight';
      for (let i = 0; i < shard.permits.size; i++) await shard.permits.acquire();
      shard.phase = 'waiting for timer deliveries';
      await shard.closeTimers();
      if (!shard.failure) {
        shard.snapshots?.captureFinal(last);
        for (const operator of sub.operators) await operator.closeShard(shard);
      }
      shard.phase = 'flushing sinks';
      await this.flushExplicitSinks(sub);
      shard.phase = 'checkpointing';
      await this.commit(shard);
      const final = shard.checkpoints.lastCommitted;
      sub.shards.delete(handle.shardId);
      try {
        await handle.release(final);
      } finally {
        this.events.next({ type: 'shard-released', source, shardId: handle.shardId, position: final });
      }
    }
  }

  private async flushExplicitSinks(sub: SubTopology): Promise<void> {
    for (const sink of sub.sinks) {
      if (!sink.explicitDurability) continue;
      const node = this.topology.nodes.find((n) => n.name === sink.node) as SinkNode;
      try {
        await node.component.flush?.();
      } catch (error) {
        this.log.error({ node: sink.node, error: errorMessage(error) }, 'flush failed');
      }
    }
  }

  /** Hands the shard's advanced safe position to its source, one call at a time, in order. */
  private commit(shard: ShardState): Promise<void> {
    return shard.checkpointLane.run(async () => {
      if (shard.snapshots !== undefined && !shard.failure) {
        try {
          if (!(await writeDueSnapshot(shard, shard.snapshots, this.log))) return;
        } catch (error) {
          this.fail(error); // the state store lost its state
          return;
        }
      }
      const position = shard.checkpoints.nextAdvance();
      if (position === undefined) return;
      try {
        await shard.handle.checkpoint(position);
        shard.checkpoints.confirm(position);
        shard.metrics.checkpoint = position;
        this.events.next({ type: 'checkpoint', source: shard.source, shardId: shard.shardId, position });
      } catch (error) {
        this.log.warn({ shardId: shard.shardId, error: errorMessage(error) }, 'checkpoint failed');
      }
    });
  }

  private async checkpointTicker(): Promise<void> {
    if (this.checkpointIntervalMs === 0) return;
    for (;;) {
      try {
        await this.clock.sleep(this.checkpointIntervalMs, this.soft.signal);
      } catch {
        return;
      }
      const commits = this.subTopologies.flatMap((sub) =>
        [...sub.shards.values()].map((s) => {
          // a shard whose records stopped: what changed after its last barrier is captured now
          if (s.snapshots !== undefined)
            captureQuiet(
              s,
              s.snapshots,
              sub.stateful.map((r) => r.node),
            );
          return this.commit(s);
        }),
      );
      await Promise.all(commits);
    }
  }
}
