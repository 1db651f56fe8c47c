/**
 * The runtime's wrappers around components. Each node gets one runner, shared by all shards; a runner
 * runs its component in the shard's lane for that node (in order), measures it, retries it, and hands
 * its outputs to the runners downstream. Components never see any of this.
 */

import type { Clock } from '../clock.ts';
import type { BatchContext, Operator, OperatorContext, SideOutputs, Sink } from '../components.ts';
import { errorMessage, type Logger } from '../logger.ts';
import type { Position } from '../records.ts';
import type { Lane } from './lane.ts';
import type { NodeMetrics } from './metrics.ts';
import { type RetryPolicy, withRetry } from './retry.ts';

/** What a runner needs from the shard it is running for. */
export interface ShardScope {
  readonly shardId: string;
  lane(node: string): Lane;
  markDurable(sink: string, position: Position): void;
  /**
   * Set by the first batch that fails for good. From then on no later batch of the shard runs
   * anywhere or becomes durable: its records must be read again after a restart, in order.
   */
  readonly failure: { readonly error: unknown } | undefined;
  fail(error: unknown): void;
}

/** Raised for batches that follow a failed batch of the same shard; they were not processed. */
export class ShardStoppedError extends Error {
  override readonly name = 'ShardStoppedError';
}

/** Runs `work` unless the shard has failed; marks the shard failed if `work` fails. */
async function guarded<T>(shard: ShardScope, work: () => Promise<T>): Promise<T> {
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
  /** Resolves when this node and everything downstream of it has finished the batch. */
  accept(shard: ShardScope, records: readonly unknown[], position: Position): Promise<void>;
}

/** Hands one batch to several runners at once (fan-out); each keeps its own order. */
export function deliver(
  runners: readonly Runner[],
  shard: ShardScope,
  records: readonly unknown[],
  position: Position,
): Promise<void> {
  if (runners.length === 1) return runners[0]!.accept(shard, records, position);
  return Promise.all(runners.map((r) => r.accept(shard, records, position))).then(() => undefined);
}

class OperatorBatchContext implements OperatorContext<SideOutputs> {
  readonly sides = new Map<string, unknown[]>();

  constructor(
    readonly node: string,
    readonly shardId: string,
    readonly position: Position,
    readonly clock: Clock,
    ports: readonly string[],
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

function onFailure(env: RunnerEnv, metrics: NodeMetrics, shardId: string) {
  return (error: unknown, attempt: number) => {
    metrics.errors++;
    env.log.warn({ node: metrics.node, shardId, attempt, error: errorMessage(error) }, 'batch failed');
  };
}

/** Runs an operator and routes its main and side outputs. */
export class OperatorRunner implements Runner {
  /** Downstream runners by port (`main` or a side output). */
  readonly children = new Map<string, Runner[]>();

  constructor(
    readonly node: string,
    private readonly operator: Operator<unknown, unknown, SideOutputs>,
    private readonly metrics: NodeMetrics,
    private readonly retry: RetryPolicy,
    private readonly env: RunnerEnv,
  ) {}

  async accept(shard: ShardScope, records: readonly unknown[], position: Position): Promise<void> {
    const result = await shard
      .lane(this.node)
      .run(() => guarded(shard, () => this.execute(shard.shardId, records, position)));
    const forwards: Promise<void>[] = [];
    for (const [port, runners] of this.children) {
      const out = port === 'main' ? result.main : (result.sides.get(port) ?? []);
      forwards.push(deliver(runners, shard, out, position));
    }
    await Promise.all(forwards);
  }

  private async execute(shardId: string, records: readonly unknown[], position: Position) {
    const ports = this.operator.sideOutputs ?? [];
    if (records.length === 0) {
      return { main: records, sides: new Map<string, unknown[]>() };
    }
    const started = performance.now();
    const run = async () => {
      const ctx = new OperatorBatchContext(this.node, shardId, position, this.env.clock, ports);
      const main = await this.operator.process(records, ctx);
      return { main, sides: ctx.sides };
    };
    const result = await withRetry(
      run,
      this.retry,
      this.env.clock,
      this.env.hardStop,
      onFailure(this.env, this.metrics, shardId),
    );
    let out = result.main.length;
    for (const side of result.sides.values()) out += side.length;
    this.metrics.observe(records.length, out, performance.now() - started);
    return result;
  }
}

/** Runs a sink and reports durability for `on-write` sinks. */
export class SinkRunner implements Runner {
  constructor(
    readonly node: string,
    private readonly sink: Sink<unknown>,
    private readonly metrics: NodeMetrics,
    private readonly retry: RetryPolicy,
    private readonly env: RunnerEnv,
  ) {}

  get explicitDurability(): boolean {
    return this.sink.durability === 'explicit';
  }

  accept(shard: ShardScope, records: readonly unknown[], position: Position): Promise<void> {
    return shard.lane(this.node).run(() => guarded(shard, () => this.write(shard, records, position)));
  }

  private async write(shard: ShardScope, records: readonly unknown[], position: Position): Promise<void> {
    // An empty batch still moves the sink's durable position: every record before it is written.
    if (records.length > 0 || this.explicitDurability) {
      const started = performance.now();
      const ctx: BatchContext = {
        node: this.node,
        shardId: shard.shardId,
        position,
        clock: this.env.clock,
      };
      await withRetry(
        () => this.sink.write(records, ctx),
        this.retry,
        this.env.clock,
        this.env.hardStop,
        onFailure(this.env, this.metrics, shard.shardId),
      );
      this.metrics.observe(records.length, 0, performance.now() - started);
    }
    if (!this.explicitDurability) shard.markDurable(this.node, position);
  }
}
