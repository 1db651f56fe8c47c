/**
 * Watermark alignment (`maxShardDriftMs`): a shard whose watermark ran that far ahead of the global one
 * holds its batch (and so its source) after applying it, reading the global watermark again every
 * `ALIGN_POLL_MS`, until the other shards caught up, an idle one dropped out of the global watermark,
 * or the runtime stops. Without it the shards of a backlog are read at different speeds (the
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
  return async function align(
    shardWatermark: number,
    published: PublishedState | undefined,
    clock: Clock,
    stopping: AbortSignal | undefined,
  ): Promise<void> {
    const limit = config.maxShardDriftMs;
    if (limit === undefined || !Number.isFinite(shardWatermark)) return;
    while (shardWatermark - global.current(clock.now()) > limit && stopping?.aborted !== true) {
      await clock.sleep(ALIGN_POLL_MS, stopping).catch(() => {});
      // the batch is applied already: a failed read must not fail it (a retry would apply it twice);
      // the shard's tick reports the outage
      await global.refresh(published).catch(() => {});
    }
  };
}
