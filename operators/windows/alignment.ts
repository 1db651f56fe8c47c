/**
 * Watermark alignment (`maxShardDriftMs`): a shard whose watermark ran that far ahead of the global one
 * holds its source (`Operator.holdShard`: the runtime pulls its next batch only once the hold ends),
 * reading the global watermark again every `ALIGN_POLL_MS`, until the other shards caught up, an idle
 * one dropped out of the global watermark, or the runtime stops. Its batches in flight meanwhile finish
 * and are snapshotted, so its watermark is published: were it held inside a batch, its published
 * watermark would stay behind, and two workers' shards could each wait for the other's. Without it the shards of a backlog are read at different speeds (the
 * reference workload measured 21 h of event time between the fastest and the slowest of 4 shards
 * after 20 s), the global watermark follows the slowest, and open state and the late decision depend
 * on that skew.
 */
import type { Clock, PublishedState } from '../../topology/index.ts';
import type { WindowAggregateConfig } from './config.ts';
import type { GlobalWatermark } from './watermark.ts';

/** How often a shard held back by `maxShardDriftMs` reads the global watermark again. */
const ALIGN_POLL_MS = 200;

/** Holds a shard at `shardWatermark` while it runs more than `maxShardDriftMs` ahead (a no-op when unset). */
export function shardAlignment(config: WindowAggregateConfig, global: GlobalWatermark) {
  return function align(
    shardWatermark: number,
    published: PublishedState | undefined,
    clock: Clock,
    stopping: AbortSignal,
  ): Promise<void> | undefined {
    const limit = config.maxShardDriftMs;
    if (limit === undefined || !Number.isFinite(shardWatermark)) return undefined;
    if (shardWatermark - global.current(clock.now()) <= limit) return undefined;
    return hold(shardWatermark, limit, published, clock, stopping);
  };

  async function hold(
    shardWatermark: number,
    limit: number,
    published: PublishedState | undefined,
    clock: Clock,
    stopping: AbortSignal,
  ): Promise<void> {
    while (shardWatermark - global.current(clock.now()) > limit && !stopping.aborted) {
      await clock.sleep(ALIGN_POLL_MS, stopping).catch(() => {});
      // the shard's tick reports an outage
      await global.refresh(published).catch(() => {});
    }
  }
}
