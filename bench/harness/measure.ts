/**
 * What the harness watches while a run goes on: marker visibility in the store (polled, so latency
 * is what a reader of the store sees, to within the poll interval), peak RSS, and how far the shard
 * readers are behind the stream tip.
 */
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import type { Clock, Logger, RuntimeMetricsSnapshot } from '../../topology/index.ts';
import type { Marker, VisibilityProbe } from './probe.ts';
import { type LatencySummary, type LatencyTimeline, summarizeLatency } from './stats.ts';

/** Buckets of a latency timeline: at most this many over a run, each a multiple of 100 ms. */
const TIMELINE_BUCKETS = 120;

/** Polls the store for markers and keeps when each became visible. */
export class VisibilityTracker {
  private readonly seen = new Map<Marker, number>();
  private polling: Promise<void> | undefined;

  constructor(
    private readonly probe: VisibilityProbe,
    private readonly markers: () => readonly Marker[],
    private readonly clock: Clock,
  ) {}

  /** One pass: asks the store about every marker not yet seen (one pass at a time). */
  poll(): Promise<void> {
    if (this.polling === undefined) {
      const pass = this.pass();
      this.polling = pass;
      void pass
        .finally(() => {
          if (this.polling === pass) this.polling = undefined;
        })
        .catch(() => {});
    }
    return this.polling;
  }

  private async pass(): Promise<void> {
    const pending = this.markers().filter((m) => !this.seen.has(m));
    if (pending.length === 0) return;
    const visible = await this.probe.visible(pending);
    const at = this.clock.now();
    for (const m of visible) this.seen.set(m, at);
  }

  /** Markers sent but not yet seen in the store. */
  pending(): number {
    return this.markers().length - this.seen.size;
  }

  /**
   * Latency of the markers received in [from, to): visible minus received (ms). A marker never seen
   * counts as `stoppedAt` minus received, so the percentiles are lower bounds rather than figures of
   * the markers that made it alone; `unseen` says how many. `timeline` is the worst latency of the
   * markers received in each bucket of the window: a stall shows as a ramp where the percentiles
   * only say that some markers were slow.
   */
  latencies(
    from: number,
    to: number,
    stoppedAt = this.clock.now(),
  ): { summary: LatencySummary | undefined; sent: number; unseen: number; timeline: LatencyTimeline } {
    const inWindow = this.markers().filter((m) => m.receivedAt >= from && m.receivedAt < to);
    const bucketMs = Math.max(1, Math.ceil((to - from) / 100 / TIMELINE_BUCKETS)) * 100;
    const maxMs: (number | null)[] = Array.from({ length: Math.ceil((to - from) / bucketMs) }, () => null);
    const values: number[] = [];
    let unseen = 0;
    for (const m of inWindow) {
      const at = this.seen.get(m);
      if (at === undefined) unseen++;
      const latency = (at ?? stoppedAt) - m.receivedAt;
      values.push(latency);
      const bucket = Math.floor((m.receivedAt - from) / bucketMs);
      maxMs[bucket] = Math.max(maxMs[bucket] ?? latency, latency);
    }
    return {
      summary: summarizeLatency(values),
      sent: inWindow.length,
      unseen,
      timeline: { bucketMs, maxMs },
    };
  }
}

/**
 * Peak RSS and millisBehindLatest, sampled; and the event loop's delay over the measured window (the
 * worker's process: a long synchronous step, such as encoding a Cold commit's Parquet files or a
 * major garbage collection, delays every shard's batches and the harness's markers alike).
 */
export class Sampler {
  peakRssBytes = 0;
  private lagMax = 0;
  private lagSum = 0;
  private lagSamples = 0;
  private readonly loopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  private loopDelayOn = false;

  /** Takes one sample of memory and, from `metrics`, the readers' lag. */
  sample(metrics: RuntimeMetricsSnapshot | undefined, measuring: boolean): void {
    const rss = process.memoryUsage.rss();
    if (rss > this.peakRssBytes) this.peakRssBytes = rss;
    if (measuring && !this.loopDelayOn) {
      this.loopDelay.enable();
      this.loopDelayOn = true;
    }
    if (!measuring || metrics === undefined) return;
    const lags = metrics.shards.map((s) => s.millisBehindLatest).filter((l): l is number => l !== undefined);
    if (lags.length === 0) return;
    const worst = Math.max(...lags);
    this.lagMax = Math.max(this.lagMax, worst);
    this.lagSum += worst;
    this.lagSamples++;
  }

  /** The event loop's delay since measuring began (ms): its p99 and maximum; stops the monitor. */
  eventLoopDelayMs(): { p99: number; max: number } | undefined {
    this.loopDelay.disable();
    if (!this.loopDelayOn || this.loopDelay.count === 0) return undefined;
    return { p99: this.loopDelay.percentile(99) / 1e6, max: this.loopDelay.max / 1e6 };
  }

  /** The worst shard's lag: its maximum and its mean over the samples; undefined when none was reported. */
  millisBehindLatest(): { max: number; mean: number } | undefined {
    if (this.lagSamples === 0) return undefined;
    return { max: this.lagMax, mean: Math.round(this.lagSum / this.lagSamples) };
  }
}

/**
 * Records per second of each node (and its mean time per batch), and completed source records,
 * between two snapshots.
 */
export function ratesBetween(
  a: RuntimeMetricsSnapshot,
  b: RuntimeMetricsSnapshot,
  seconds: number,
): {
  stages: Record<string, { in: number; out: number; batchMs?: number }>;
  completed: number;
  read: number;
  sinkBatches: Record<string, number>;
  /** Batches each node took. */
  batches: Record<string, number>;
} {
  const stages: Record<string, { in: number; out: number; batchMs?: number }> = {};
  const sinkBatches: Record<string, number> = {};
  const nodeBatches: Record<string, number> = {};
  for (const nb of b.nodes) {
    const na = a.nodes.find((n) => n.node === nb.node);
    stages[nb.node] = {
      in: (nb.recordsIn - (na?.recordsIn ?? 0)) / seconds,
      out: (nb.recordsOut - (na?.recordsOut ?? 0)) / seconds,
    };
    const batches = nb.batches - (na?.batches ?? 0);
    nodeBatches[nb.node] = batches;
    if (batches > 0) stages[nb.node]!.batchMs = (nb.latencySumMs - (na?.latencySumMs ?? 0)) / batches;
    if (nb.kind === 'sink') sinkBatches[nb.node] = nb.batches - (na?.batches ?? 0);
  }
  return {
    stages,
    completed: completedRecords(b) - completedRecords(a),
    read: readRecords(b) - readRecords(a),
    sinkBatches,
    batches: nodeBatches,
  };
}

/**
 * Round trips between two readings of a counter, per batch; undefined when a reading is missing (the
 * store does not count) or there were no batches.
 */
export function tripsPerBatch(
  a: number | undefined,
  b: number | undefined,
  batches: number | undefined,
): number | undefined {
  return a === undefined || b === undefined || !batches ? undefined : (b - a) / batches;
}

/** Source records whose batches every sink has finished. */
export function completedRecords(m: RuntimeMetricsSnapshot): number {
  return m.shards.reduce((sum, s) => sum + s.records - s.bufferedRecords, 0);
}

/** Source records read so far. */
function readRecords(m: RuntimeMetricsSnapshot): number {
  return m.shards.reduce((sum, s) => sum + s.records, 0);
}

/**
 * The worker's logger, passed through, counting its warnings and errors by message ("lease lost",
 * "slow lease write", …): a run's figures are read together with what went wrong during it.
 */
export function countingLogger(log: Logger): Logger & { counts(): Record<string, number> } {
  const counts = new Map<string, number>();
  const count = (message: string) => counts.set(message, (counts.get(message) ?? 0) + 1);
  return {
    debug: (fields, message) => log.debug(fields, message),
    info: (fields, message) => log.info(fields, message),
    warn(fields, message) {
      count(message);
      log.warn(fields, message);
    },
    error(fields, message) {
      count(message);
      log.error(fields, message);
    },
    counts: () => Object.fromEntries([...counts].sort(([a], [b]) => a.localeCompare(b))),
  };
}
