/**
 * Windowed aggregation: tumbling windows (1 h, 6 h, 1 day) of every numeric metric, keyed by product
 * and by device, and daily by customer × product, in event time. Each batch is pre-aggregated in memory
 * into one partial per window and key (`aggregate.ts`), then applied to the state backend in one
 * atomic call that also moves the shard's position, publishes its watermark and claims the windows to
 * emit (`apply.ts`): running values on the flush intervals, paced (`flush.ts`), finals once the global
 * watermark passes end + allowed lateness (later updates within retention re-emit them with the next
 * revision). Records too late for retention leave on `late`. Between batches each shard ticks
 * (`ticks.ts`); a shard far ahead of the others may wait for them (`alignment.ts`).
 */
import type { Clock, Enriched, Operator, WindowAggregate, WindowBackend } from '../../topology/index.ts';
import { batchAggregator } from './aggregate.ts';
import { shardAlignment } from './alignment.ts';
import { batchApplier } from './apply.ts';
import { windowAssigner } from './assign.ts';
import { type WindowAggregateConfig, windowSlices } from './config.ts';
import { flushSchedule } from './flush.ts';
import { aggregateOf } from './keys.ts';
import { MIN_TICK_MS, shardTicks } from './ticks.ts';
import { GlobalWatermark, watermarkPolicy } from './watermark.ts';

/** How the operator reads positions. */
export interface WindowAggregateOptions {
  /**
   * Records carry their Kinesis record's position (`rawRef.sequenceNumber`, sub-sequence 0) and a
   * batch's position is its last Kinesis record's, as with the worker's Kinesis sources: a batch then
   * names its first position, and one cut differently from an earlier delivery counts once. Off, a
   * batch is known by its last position only (sources that always cut batches the same way, tests
   * whose records carry made-up references).
   */
  readonly positionsFromRecords?: boolean;
}

/** Tumbling window aggregates of numeric metrics, exactly-once on the given state backend. */
export function windowAggregate(
  config: WindowAggregateConfig,
  backend: WindowBackend,
  options: WindowAggregateOptions = {},
): Operator<Enriched, WindowAggregate, { late: Enriched }> {
  const policy = watermarkPolicy(config);
  const schedule = flushSchedule(config);
  const global = new GlobalWatermark();
  const aggregator = batchAggregator(windowSlices(config), windowAssigner(config.zone), config.retentionMs);
  const applyBatch = batchApplier({
    backend,
    policy,
    aggregator,
    schedule,
    global,
    positionsFromRecords: options.positionsFromRecords,
  });
  const ticks = shardTicks(backend, policy, schedule, global, Math.max(MIN_TICK_MS, schedule.shortestMs));
  const align = shardAlignment(config, backend, policy, global);
  let stopping: AbortSignal | undefined;
  let clock: Clock | undefined;

  return {
    type: 'window-aggregate',
    // The state is a store (Redis): an outage stalls the shard and is retried; a batch applies once
    // per shard position, so a retry after a lost reply changes nothing. Lost state is fatal.
    retry: 'like-sink',
    sideOutputs: ['late'],
    stores: [{ name: 'state.windows', kind: backend.kind }],
    open: (ctx) => {
      stopping = ctx.signal;
      clock = ctx.clock;
      return backend.open();
    },
    gauges: () =>
      clock === undefined
        ? []
        : schedule.overdueMs(clock.now()).map(({ scope, ms }) => ({
            name: `window_flush_overdue_seconds_${scope.replace('-', '_')}`,
            help: `how long the ${scope} windows' running values have been due and not all emitted (0: on schedule)`,
            value: ms / 1000,
          })),
    process: async function aggregateBatch(batch, ctx) {
      const now = ctx.clock.now();
      const flush = schedule.take(now);
      const t = ticks.of(ctx.shardId);
      const out = await applyBatch(batch, ctx, now, flush, t);
      t.lastBatchAt = ctx.clock.now();
      t.seen = ctx.position;
      await align(ctx.shardId, t.maxEventTime, ctx.clock, stopping);
      return out;
    },
    openShard: (ctx) => ticks.open(ctx.shardId, ctx.timers, ctx.clock.now()),
    onTimer: async function tickShard(_fired, ctx) {
      const emissions = await ticks.fire(ctx.shardId, ctx.position, ctx.timers, ctx.clock.now());
      return emissions.map(aggregateOf);
    },
    close: () => backend.close(),
  };
}
