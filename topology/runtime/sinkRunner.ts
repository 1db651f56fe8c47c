/**
 * The runtime's wrapper around a sink (`runners.ts` has the runner contract and the operators'): it
 * writes in the shard's lane for the node, isolates refused records, and reports durability.
 */
import type { BatchContext, Sink } from '../components.ts';
import { REJECTED_PORT } from '../graph.ts';
import type { DeadLetter, Position } from '../records.ts';
import { attemptIsolating, rejectedDeadLetters } from './isolation.ts';
import type { NodeMetrics } from './metrics.ts';
import type { RetryPolicy } from './retry.ts';
import { deliver, guarded, type Runner, type RunnerEnv, type ShardScope } from './runners.ts';

/**
 * Runs a sink and reports durability for `on-write` sinks. A sink that isolates refused records hands
 * their dead letters to the runners on its `rejected` output, and counts a batch as written only once
 * they have them: an empty batch goes there too, as an operator's side output does, so that the
 * dead-letter sink's durable position follows the batches.
 */
export class SinkRunner implements Runner {
  /** Downstream runners by port (only `rejected`). */
  readonly children = new Map<string, Runner[]>();

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

  accept(
    shard: ShardScope,
    records: readonly unknown[],
    position: Position,
    fromTimer = false,
  ): Promise<void> {
    return shard
      .lane(this.node)
      .run(() => guarded(shard, () => this.write(shard, records, position, fromTimer)));
  }

  private async write(
    shard: ShardScope,
    records: readonly unknown[],
    position: Position,
    fromTimer: boolean,
  ): Promise<void> {
    // An empty batch still moves the sink's durable position: every record before it is written.
    const ctx: BatchContext = {
      node: this.node,
      shardId: shard.shardId,
      position,
      clock: this.env.clock,
      ...(fromTimer ? { fromTimer } : {}),
      reader: shard.reader,
    };
    let letters: DeadLetter[] = [];
    if (records.length > 0 || this.explicitDurability) {
      const started = performance.now();
      const isolated = await attemptIsolating(
        records,
        (part) => this.sink.write(part, ctx),
        this.sink.rejects === 'isolate',
        this.retry,
        this.env,
        this.metrics,
        shard,
      );
      letters = rejectedDeadLetters(isolated.rejected, ctx, this.env, this.metrics);
      this.metrics.observe(records.length, letters.length, performance.now() - started);
    }
    const rejectedTo = this.children.get(REJECTED_PORT);
    if (rejectedTo !== undefined && (letters.length > 0 || !fromTimer))
      await deliver(rejectedTo, shard, letters, position, fromTimer);
    if (!this.explicitDurability) shard.markDurable(this.node, position);
  }
}
