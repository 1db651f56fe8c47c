/**
 * Windowed aggregation: tumbling windows (1 h, 6 h, 1 day) of every numeric metric, keyed by product
 * and by device, and daily by customer × product, in event time, on the engine's keyed state (see
 * `topology/keyedState.ts`): the window state lives in the worker's memory for the shards it holds
 * and is snapshotted with each checkpoint, so a record touches no network.
 *
 * A batch updates its records' device windows in place (`aggregate.ts`, `deviceWindows.ts`) and
 * merges its product and customer × product partials into the shard's published partials
 * (`sharedWindows.ts`); then what is due is emitted. A processing-time tick per shard (`ticks.ts`)
 * reads the other workers' published watermarks (`watermark.ts`) and emits what is due there too,
 * the shared windows merged with the other workers' partials among it (a batch leaves those to the
 * tick, so it never waits on the network). Records too late for retention leave on `late`. A shard
 * far ahead of the others may wait for them (`alignment.ts`).
 */
import type {
  AggregateScope,
  Clock,
  Enriched,
  KeyedState,
  Operator,
  PublishedState,
  StateCodec,
  WindowAggregate,
} from '../../topology/index.ts';
import { batchApplier, type DeviceState } from './aggregate.ts';
import { shardAlignment } from './alignment.ts';
import { windowAssigner } from './assign.ts';
import { type WindowAggregateConfig, windowSlices } from './config.ts';
import { DeviceWindows } from './deviceWindows.ts';
import { flushSchedule } from './flush.ts';
import { PaneGeometry } from './panes.ts';
import { PARTIALS, SharedParts, SharedWindows } from './sharedWindows.ts';
import { type Slot, slotsCodec } from './slots.ts';
import { MIN_TICK_MS, shardTicks } from './ticks.ts';
import { GlobalWatermark } from './watermark.ts';

/** The state of the open device panes: one value (their slots) per partition key. */
const DEVICES = 'devices';
/** The state of the closed device panes kept for late records: one field per pane. */
const CLOSED = 'closed';
/** How long published partials outlive their last write: past any window's retention, with a margin. */
const PUBLISHED_MARGIN_MS = 7 * 86_400_000;

/** One shard's windows. */
interface ShardWindows {
  readonly state: KeyedState;
  readonly device: DeviceState;
  readonly devices: DeviceWindows;
  readonly shared: SharedWindows;
}

/** Tumbling window aggregates of numeric metrics, exactly once on the engine's keyed state. */
export function windowAggregate(
  config: WindowAggregateConfig,
): Operator<Enriched, WindowAggregate, { late: Enriched }> {
  const slices = windowSlices(config);
  const assign = windowAssigner(config.zone);
  const geometry = new PaneGeometry(
    assign,
    slices.filter((s) => s.scope === 'device').map((s) => s.size),
  );
  const applier = batchApplier(slices, assign, geometry, config.retentionMs);
  const codec = slotsCodec(applier.lists);
  const slotCodec: StateCodec<Slot> = {
    encode: (slot) => codec.encode([slot]),
    decode: (bytes) => codec.decode(bytes)[0]!,
  };
  const schedule = flushSchedule(config);
  const global = new GlobalWatermark(config);
  const align = shardAlignment(config, global);
  const shards = new Map<string, ShardWindows>();
  let published: PublishedState | undefined;
  const parts = new SharedParts(shards, () => published, global, applier.lists);
  let clock: Clock | undefined;

  /** The shard's windows, their indexes built from its restored state on first use. */
  const windowsOf = (shardId: string, state: KeyedState | undefined): ShardWindows => {
    let windows = shards.get(shardId);
    if (windows === undefined || windows.state !== state) {
      if (state === undefined)
        throw new Error('window-aggregate needs keyed state: run it with a state store');
      const device: DeviceState = {
        open: state.value<Slot[]>(DEVICES),
        closed: state.map<Slot>(CLOSED),
        closedUntil: Number.NEGATIVE_INFINITY,
      };
      windows = {
        state,
        device,
        devices: new DeviceWindows(device, geometry, applier.lists, config),
        shared: new SharedWindows(state.map<Slot>(PARTIALS), applier.lists, config),
      };
      windows.devices.rebuild();
      windows.shared.rebuild();
      shards.set(shardId, windows);
    }
    return windows;
  };

  /**
   * Emits what is due on the shard: finals, then running values of the due scopes (the shared ones
   * only when merging them needs no network, or `mayRead`). The shared windows go first: their read
   * may fail (Redis down), and nothing is marked emitted before it succeeded, so a retry loses nothing.
   */
  const emitDue = async (
    shardId: string,
    windows: ShardWindows,
    now: number,
    mayRead: boolean,
  ): Promise<WindowAggregate[]> => {
    const out: WindowAggregate[] = [];
    const watermark = global.current(now);
    const withShared = mayRead || !parts.remote;
    const able: readonly AggregateScope[] = withShared
      ? ['product', 'customer-product', 'device']
      : ['device'];
    const take = schedule.take(shardId, now, able);
    let flushed = 0;
    let left: AggregateScope | undefined;
    if (withShared) {
      const scopes = take.scopes.filter((s) => s !== 'device');
      try {
        ({ flushed, left } = await windows.shared.emit(parts, now, watermark, scopes, take.limit, out));
      } catch (error) {
        schedule.flushed(shardId, take, now, 0, take.scopes[0]);
        throw error;
      }
    }
    windows.devices.finals(watermark, out);
    if (left === undefined && take.scopes.includes('device')) {
      flushed += windows.devices.running(watermark, take.limit - flushed, out);
      if (windows.devices.pending) left = 'device';
    }
    schedule.flushed(shardId, take, now, flushed, left);
    return out;
  };

  // every second whatever the flush intervals: finals go out within a second of the watermark passing
  const ticks = shardTicks(MIN_TICK_MS);

  return {
    type: 'window-aggregate',
    // a tick reads the other workers' partials and watermarks from the state store: an outage stalls
    // the shard and is retried (a batch itself never fails once it changed the state)
    retry: 'like-sink',
    sideOutputs: ['late'],
    state: [
      { name: DEVICES, kind: 'value', codec },
      { name: CLOSED, kind: 'map', codec: slotCodec },
      {
        name: PARTIALS,
        kind: 'map',
        codec: slotCodec,
        publish: { ttlMs: config.retentionMs + PUBLISHED_MARGIN_MS },
      },
    ],
    open: (ctx) => {
      clock = ctx.clock;
      published = ctx.published;
    },
    gauges: () =>
      clock === undefined
        ? []
        : schedule.overdueMs(clock.now()).map(({ scope, ms }) => ({
            name: `window_flush_overdue_seconds_${scope.replace('-', '_')}`,
            help: `how long the ${scope} windows' running values have been due and not all emitted (0: on schedule)`,
            value: ms / 1000,
          })),
    openShard: async (ctx) => {
      const now = ctx.clock.now();
      windowsOf(ctx.shardId, ctx.state);
      // the restored watermark counts from the start: the shard holds the others back at once
      global.observe(ctx.shardId, ctx.timers.watermark, now);
      ticks.open(ctx.shardId, ctx.timers, now);
      // the other workers' shards, before the first batch: until read, a batch would take this worker
      // for the only one and emit shared windows (finals too) merged from its own parts alone
      await global.refresh(published);
    },
    holdShard: (shardId, signal) => {
      if (clock === undefined) return undefined;
      return align(global.watermarkOf(shardId), published, clock, signal);
    },
    closeShard: (ctx) => {
      shards.delete(ctx.shardId);
      global.forget(ctx.shardId);
      schedule.forget(ctx.shardId);
    },
    process: async function aggregateBatch(batch, ctx) {
      const now = ctx.clock.now();
      const windows = windowsOf(ctx.shardId, ctx.state);
      const watermark = global.current(now);
      const applied = applier.apply(batch, windows.device, watermark);
      for (const record of applied.late) ctx.side('late', record);
      windows.devices.changed(applied);
      windows.shared.merge(applied.shared);
      applier.merged(applied);
      const timers = ctx.timers!;
      if (Number.isFinite(applied.maxEventTime))
        timers.advanceWatermark(applied.maxEventTime - config.allowedOutOfOrdernessMs);
      global.observe(ctx.shardId, timers.watermark, now);
      return emitDue(ctx.shardId, windows, now, false);
    },
    onTimer: async function tickShard(fired, ctx) {
      const now = ctx.clock.now();
      if (!ticks.fire(ctx.shardId, fired, ctx.timers, now)) return [];
      await global.refresh(published);
      return emitDue(ctx.shardId, windowsOf(ctx.shardId, ctx.state), now, true);
    },
    close: () => shards.clear(),
  };
}
