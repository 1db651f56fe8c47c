/**
 * The keyed timers of one operator on one shard: an event-time queue fired against the watermark the
 * operator reports, a processing-time queue fired against the runtime's clock (one sleep on the clock,
 * armed for the earliest timer, so timers fire while the shard is idle), and the last position the node
 * has seen on the shard, which a timer's outputs carry. In memory only; closed with the shard.
 */
import type { Clock } from '../clock.ts';
import type { FiredTimer, TimeDomain, TimerService } from '../components.ts';
import type { Position } from '../records.ts';
import { TimerQueue } from './timerQueue.ts';

/** The longest single sleep: `setTimeout` fires at once beyond 2^31 - 1 ms. */
const MAX_SLEEP_MS = 2 ** 31 - 1;

function checkTimestamp(timestamp: number): void {
  if (!Number.isFinite(timestamp)) throw new RangeError(`timer timestamp must be finite, got ${timestamp}`);
}

/** One operator's timers on one shard. */
export class NodeTimers {
  /** What the operator sees as `ctx.timers`. */
  readonly service: TimerService;
  /** The last position the node has seen on the shard (a batch's, or the shard's start position). */
  position: Position | undefined;
  private readonly queues: Record<TimeDomain, TimerQueue> = {
    'event-time': new TimerQueue(),
    'processing-time': new TimerQueue(),
  };
  private watermark = Number.NEGATIVE_INFINITY;
  private closed = false;
  /** Set while the outputs of a processing-time firing are on their way: the next one waits. */
  private delivering = false;
  private sleep: { readonly at: number; readonly abort: AbortController } | undefined;
  /** Told the key of every timer registered, deleted or fired (keyed state snapshots its timers). */
  onChange: ((key: string) => void) | undefined;

  /**
   * @param canFire whether the operator has an `onTimer`; registering a timer without one is a bug.
   * @param onDue called when the earliest processing-time timer's time has come.
   */
  constructor(
    node: string,
    private readonly clock: Clock,
    canFire: boolean,
    private readonly onDue: () => void,
  ) {
    const register = (domain: TimeDomain) => (key: string, timestamp: number) => {
      if (!canFire) throw new Error(`node "${node}" registers timers but has no onTimer`);
      checkTimestamp(timestamp);
      if (this.closed) return;
      // a timer registered again changes nothing, and its key need not be snapshotted again
      if (this.queues[domain].add(key, timestamp)) this.onChange?.(key);
      if (domain === 'processing-time') this.arm();
    };
    const timers = this;
    this.service = {
      get watermark() {
        return timers.watermark;
      },
      advanceWatermark: (watermark) => {
        if (Number.isNaN(watermark)) throw new RangeError('watermark must be a number, got NaN');
        if (watermark > this.watermark) this.watermark = watermark;
      },
      registerEventTime: register('event-time'),
      registerProcessingTime: register('processing-time'),
      deleteEventTime: (key, timestamp) => this.remove('event-time', key, timestamp),
      deleteProcessingTime: (key, timestamp) => this.remove('processing-time', key, timestamp),
    };
  }

  private remove(domain: TimeDomain, key: string, timestamp: number): void {
    if (this.queues[domain].delete(key, timestamp)) this.onChange?.(key);
  }

  /** The operator's watermark on the shard. */
  get currentWatermark(): number {
    return this.watermark;
  }

  /** A key's timers of one domain, ascending (what a snapshot keeps). */
  timestampsOf(domain: TimeDomain, key: string): number[] {
    return this.queues[domain].timestampsOf(key);
  }

  /** Puts back timers and the watermark from a snapshot, before the shard's first batch. */
  restore(domain: TimeDomain, key: string, timestamps: readonly number[]): void {
    for (const timestamp of timestamps) this.queues[domain].add(key, timestamp);
  }

  restoreWatermark(watermark: number): void {
    if (watermark > this.watermark) this.watermark = watermark;
  }

  /** Whether a timer may fire now: the shard is open and the node has a position for the outputs. */
  get ready(): boolean {
    return !this.closed && this.position !== undefined;
  }

  /** Timers registered and not yet fired or deleted, both domains. */
  get size(): number {
    return this.queues['event-time'].size + this.queues['processing-time'].size;
  }

  /** Takes the due timers of one domain (event time: at or below the watermark; processing: the clock). */
  takeDue(domain: TimeDomain): FiredTimer[] {
    if (!this.ready) return [];
    const time = domain === 'event-time' ? this.watermark : this.clock.now();
    const due = this.queues[domain].takeDue(time);
    if (this.onChange !== undefined) for (const t of due) this.onChange(t.key);
    return due.map((t) => ({ key: t.key, timestamp: t.timestamp, domain }));
  }

  /** Sleeps on the clock until the earliest processing-time timer, unless already asleep for earlier. */
  arm(): void {
    // without a position nothing can fire: the shard's first batch fires what came due meanwhile
    if (!this.ready || this.delivering) return;
    const next = this.queues['processing-time'].peek();
    if (next === undefined) return;
    if (this.sleep !== undefined && this.sleep.at <= next) return;
    this.sleep?.abort.abort();
    const sleep = { at: next, abort: new AbortController() };
    this.sleep = sleep;
    const ms = Math.min(MAX_SLEEP_MS, Math.max(0, next - this.clock.now()));
    this.clock.sleep(ms, sleep.abort.signal).then(
      () => {
        if (this.sleep !== sleep) return;
        this.sleep = undefined;
        this.onDue();
      },
      () => {},
    );
  }

  /**
   * Runs the delivery of a processing-time firing; the clock is armed again only once it is through,
   * so a stalled sink holds at most one firing per node and shard (timers take no in-flight permit).
   */
  async deliver(delivery: () => Promise<void>): Promise<void> {
    this.delivering = true;
    try {
      await delivery();
    } finally {
      this.delivering = false;
      this.arm();
    }
  }

  /**
   * Cancels every timer: none fires after this. The timers stay readable (a stateful operator's last
   * snapshot of the shard keeps them).
   */
  close(): void {
    this.closed = true;
    this.sleep?.abort.abort();
    this.sleep = undefined;
  }
}
