/**
 * Merging two partial statistics of one window and field, as objects and as ten slots of a
 * `Float64Array` (`MetricStats` order: count, sum, min, max, mean, m2, first, firstAt, last, lastAt).
 * The Lua script in `windowScripts.ts` does the same arithmetic in the same order, so both backends
 * produce bit-identical numbers.
 */
import type { MetricStats } from '../topology/index.ts';

/** Merges two partials (Chan et al. for mean and m2; ties of first/last broken by value, so order-free). */
export function mergeStats(a: MetricStats, b: MetricStats): MetricStats {
  if (a.count === 0) return b;
  if (b.count === 0) return a;
  const n = a.count + b.count;
  const delta = b.mean - a.mean;
  const mean = a.mean + (delta * b.count) / n;
  const m2 = a.m2 + b.m2 + (delta * delta * a.count * b.count) / n;
  const takeFirstB = b.firstAt < a.firstAt || (b.firstAt === a.firstAt && b.first < a.first);
  const takeLastB = b.lastAt > a.lastAt || (b.lastAt === a.lastAt && b.last > a.last);
  return {
    count: n,
    sum: a.sum + b.sum,
    min: Math.min(b.min, a.min),
    max: Math.max(b.max, a.max),
    mean,
    m2,
    first: takeFirstB ? b.first : a.first,
    firstAt: takeFirstB ? b.firstAt : a.firstAt,
    last: takeLastB ? b.last : a.last,
    lastAt: takeLastB ? b.lastAt : a.lastAt,
  };
}

/**
 * Merges statistics held in ten slots of `from` (at `f`, `MetricStats` order) into statistics stored
 * at `at` of a slab, with {@link mergeStats}'s arithmetic in its order.
 */
export function mergeSlots(d: Float64Array, at: number, from: Float64Array, f: number): void {
  const ac = d[at]!;
  const bc = from[f]!;
  if (ac === 0) {
    for (let k = 0; k < 10; k++) d[at + k] = from[f + k]!;
    return;
  }
  if (bc === 0) return;
  const n = ac + bc;
  const aMean = d[at + 4]!;
  const delta = from[f + 4]! - aMean;
  const mean = aMean + (delta * bc) / n;
  const m2 = d[at + 5]! + from[f + 5]! + (delta * delta * ac * bc) / n;
  const bFirst = from[f + 6]!;
  const bFirstAt = from[f + 7]!;
  const bLast = from[f + 8]!;
  const bLastAt = from[f + 9]!;
  const takeFirstB = bFirstAt < d[at + 7]! || (bFirstAt === d[at + 7]! && bFirst < d[at + 6]!);
  const takeLastB = bLastAt > d[at + 9]! || (bLastAt === d[at + 9]! && bLast > d[at + 8]!);
  d[at] = n;
  d[at + 1] = d[at + 1]! + from[f + 1]!;
  d[at + 2] = Math.min(from[f + 2]!, d[at + 2]!);
  d[at + 3] = Math.max(from[f + 3]!, d[at + 3]!);
  d[at + 4] = mean;
  d[at + 5] = m2;
  if (takeFirstB) {
    d[at + 6] = bFirst;
    d[at + 7] = bFirstAt;
  }
  if (takeLastB) {
    d[at + 8] = bLast;
    d[at + 9] = bLastAt;
  }
}

/** Reads ten slots at `at` of a slab into a new object. */
export function readStats(d: Float64Array, at: number): MetricStats {
  return {
    count: d[at]!,
    sum: d[at + 1]!,
    min: d[at + 2]!,
    max: d[at + 3]!,
    mean: d[at + 4]!,
    m2: d[at + 5]!,
    first: d[at + 6]!,
    firstAt: d[at + 7]!,
    last: d[at + 8]!,
    lastAt: d[at + 9]!,
  };
}
