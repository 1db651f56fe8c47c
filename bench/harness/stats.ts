/**
 * The statistics the harness reports: latency percentiles of one run, and the median and spread of
 * a figure over repeated runs of one sweep point.
 */

/** Latency percentiles (ms) over the markers of one run. */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/**
 * The `q`-quantile (0..1) of ascending `sorted` values, interpolating linearly between the two
 * closest ranks (numpy's default, R type 7); NaN for no values.
 */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  if (q <= 0) return sorted[0]!;
  if (q >= 1) return sorted[sorted.length - 1]!;
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/** The worst latency of the markers received in each bucket of a run's window (null: no marker). */
export interface LatencyTimeline {
  readonly bucketMs: number;
  readonly maxMs: readonly (number | null)[];
}

/** p50, p95, p99, max and mean of `values`; undefined when there are none. */
export function summarizeLatency(values: readonly number[]): LatencySummary | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50: quantile(sorted, 0.5),
    p95: quantile(sorted, 0.95),
    p99: quantile(sorted, 0.99),
    max: sorted[sorted.length - 1]!,
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
  };
}

/** The median of repeated runs and how far they spread. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** (max − min) / median; 0 for one run. */
  readonly relative: number;
  readonly runs: readonly number[];
}

/** Median (mean of the middle two for an even count), min, max of `values`; undefined for none. */
export function spreadOf(values: readonly (number | undefined)[]): Spread | undefined {
  const runs = values.filter((v): v is number => v !== undefined && Number.isFinite(v));
  if (runs.length === 0) return undefined;
  const sorted = [...runs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const min = sorted[0]!;
  const max = sorted[sorted.length - 1]!;
  return { median, min, max, relative: median === 0 ? 0 : (max - min) / median, runs };
}
