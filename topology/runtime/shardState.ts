/**
 * The runtime's state for one shard: its lanes (one per node), its window of batches in flight,
 * its metrics and checkpoints, and whether a batch of it has failed for good.
 */
import type { ShardHandle } from '../components.ts';
import type { Position } from '../records.ts';
import { ShardCheckpoints } from './checkpoints.ts';
import { Lane } from './lane.ts';
import { ShardMetrics } from './metrics.ts';
import { Permits } from './permits.ts';
import type { ShardScope } from './runners.ts';

/** One shard assigned to this worker, as the runtime tracks it. */
export class ShardState implements ShardScope {
  readonly lanes = new Map<string, Lane>();
  readonly permits: Permits;
  readonly metrics: ShardMetrics;
  readonly checkpoints: ShardCheckpoints;
  readonly checkpointLane = new Lane();
  failure: { readonly error: unknown } | undefined;

  constructor(
    readonly source: string,
    readonly handle: ShardHandle<unknown>,
    sinks: readonly string[],
    window: number,
  ) {
    this.permits = new Permits(window);
    this.metrics = new ShardMetrics(source, handle.shardId);
    this.checkpoints = new ShardCheckpoints(sinks);
  }

  get shardId(): string {
    return this.handle.shardId;
  }

  lane(node: string): Lane {
    let lane = this.lanes.get(node);
    if (lane === undefined) {
      lane = new Lane();
      this.lanes.set(node, lane);
    }
    return lane;
  }

  markDurable(sink: string, position: Position): void {
    if (this.failure === undefined) this.checkpoints.markDurable(sink, position);
  }

  fail(error: unknown): void {
    this.failure ??= { error };
  }
}
