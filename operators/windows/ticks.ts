/**
 * A processing-time tick per shard, every `tickMs` (`MIN_TICK_MS`), while batches flow and
 * while the shard is idle: it reads the global watermark and emits what is due, the merged product
 * and customer × product windows among it (only ticks read the other shards' partials, so a batch
 * never waits on the network). The tick is a keyed timer of the shard as a whole (key `''`), part of
 * the shard's state: a restored shard's old tick fires once more and is not renewed, since each
 * opening schedules its own.
 */
import type { FiredTimer, TimerService } from '../../topology/index.ts';

/** The period of a shard's tick. */
export const MIN_TICK_MS = 1_000;
const TICK = '';

type ProcessingTimers = Pick<TimerService, 'registerProcessingTime'>;

/** The ticks of an operator's shards, every `tickMs`. */
export function shardTicks(tickMs: number) {
  /** Shard → when its current tick is due. */
  const next = new Map<string, number>();
  const schedule = (shardId: string, timers: ProcessingTimers, now: number) => {
    const at = now + tickMs;
    next.set(shardId, at);
    timers.registerProcessingTime(TICK, at);
  };
  return {
    /** A new opening of the shard: its first tick scheduled. */
    open(shardId: string, timers: ProcessingTimers, now: number): void {
      schedule(shardId, timers, now);
    },
    /**
     * Timers of the shard fired at `now`: whether one of them is its current tick (then the next one
     * is scheduled). An old tick (restored from a snapshot) is not renewed.
     */
    fire(shardId: string, fired: readonly FiredTimer[], timers: ProcessingTimers, now: number): boolean {
      const due = next.get(shardId);
      if (!fired.some((t) => t.domain === 'processing-time' && t.key === TICK && t.timestamp === due))
        return false;
      schedule(shardId, timers, now);
      return true;
    },
  };
}
