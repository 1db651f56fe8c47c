/**
 * A processing-time tick per shard, so an idle shard still emits: every flush interval (at least
 * `MIN_TICK_MS`) it asks the backend for running values and for finals the global watermark passed
 * meanwhile. A tick right after a batch is skipped (the batch claimed what was due). Each opening of
 * a shard ticks in a session of its own, its ticks numbered, so the backend can tell a tick whose
 * predecessor's outputs are through from a retried one or a new owner's (see `WindowBackend.tick`).
 */
import { randomUUID } from 'node:crypto';
import {
  comparePositions,
  type Emission,
  type Position,
  type TimerService,
  type WatermarkPolicy,
  type WindowBackend,
} from '../../topology/index.ts';
import type { FlushSchedule } from './flush.ts';
import type { GlobalWatermark } from './watermark.ts';

/** The shortest period of a shard's tick: a flush interval of 0 (flush with every batch) must not spin. */
export const MIN_TICK_MS = 1_000;
const TICK = 'window-tick';

/** A shard's ticks: who ticks (one session per opening of the shard), how many were acknowledged. */
export interface ShardTicks {
  readonly session: string;
  /** Maximum event time of the batches this operator applied on the shard. */
  maxEventTime: number;
  sequence: number;
  lastBatchAt: number;
  /** The last position seen in the lane: a timer firing at another one follows a batch (maybe empty). */
  seen: Position | undefined;
  next: number | undefined;
}

function newShardTicks(): ShardTicks {
  return {
    session: randomUUID(),
    sequence: 0,
    maxEventTime: Number.NEGATIVE_INFINITY,
    lastBatchAt: Number.NEGATIVE_INFINITY,
    seen: undefined,
    next: undefined,
  };
}

type ProcessingTimers = Pick<TimerService, 'registerProcessingTime' | 'deleteProcessingTime'>;

/** The ticks of an operator's shards, every `tickMs`. */
export function shardTicks(
  backend: WindowBackend,
  policy: WatermarkPolicy,
  schedule: FlushSchedule,
  global: GlobalWatermark,
  tickMs: number,
) {
  const ticks = new Map<string, ShardTicks>();

  const scheduleTick = (t: ShardTicks, timers: ProcessingTimers, now: number) => {
    if (t.next !== undefined) timers.deleteProcessingTime(TICK, t.next);
    t.next = now + tickMs;
    timers.registerProcessingTime(TICK, t.next);
  };

  /** A shard's ticks, made on first use. */
  const of = (shardId: string): ShardTicks => {
    let t = ticks.get(shardId);
    if (t === undefined) {
      t = newShardTicks();
      ticks.set(shardId, t);
    }
    return t;
  };

  return {
    of,
    /** A new opening of the shard: a new session, its first tick scheduled. */
    open(shardId: string, timers: ProcessingTimers, now: number): void {
      const t = newShardTicks();
      ticks.set(shardId, t);
      scheduleTick(t, timers, now);
    },
    /** A shard's tick fired at `now` in its lane at `position`: what it claims (none when skipped). */
    async fire(
      shardId: string,
      position: Position,
      timers: ProcessingTimers,
      now: number,
    ): Promise<readonly Emission[]> {
      const t = of(shardId);
      t.next = undefined;
      // a batch ran lately: it claimed what was due, and this firing may follow it before its
      // outputs are through (a tick's pending finals rely on the previous tick's being through).
      // A batch the operator never saw (empty after upstream filtering) shows in the position.
      if (t.seen === undefined || comparePositions(position, t.seen) !== 0) {
        t.seen = position;
        t.lastBatchAt = now;
      }
      if (now - t.lastBatchAt < tickMs) {
        scheduleTick(t, timers, now);
        return [];
      }
      const flush = schedule.take(now);
      const result = await backend.tick({
        shardId,
        now,
        policy,
        flush: flush.selection,
        flushLimit: flush.limit,
        session: t.session,
        sequence: t.sequence + 1,
      });
      t.sequence++;
      schedule.flushed(flush, now, result.moreToFlush, result.emissions);
      global.raise(result.globalWatermark);
      scheduleTick(t, timers, now);
      return result.emissions;
    },
  };
}
