/**
 * Merging two partial statistics of one window and field, and their binary form (little-endian
 * float64s) as Redis stores them. The Lua script in `windowScripts.ts` does the same arithmetic in the
 * same order, so both backends produce bit-identical numbers.
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

/** Slots of one stored window in a `Float64Array`: the ten statistics in `packStats` order, then the revision. */
export const STORED_SLOTS = 11;

/**
 * Merges a partial into statistics stored at `at` of a slab (the {@link STORED_SLOTS} layout), with
 * {@link mergeStats}'s arithmetic in its order, so the numbers are the same to the bit.
 */
export function mergeInto(d: Float64Array, at: number, b: MetricStats): void {
  const ac = d[at]!;
  if (ac === 0) {
    writeStats(d, at, b);
    return;
  }
  if (b.count === 0) return;
  const n = ac + b.count;
  const aMean = d[at + 4]!;
  const delta = b.mean - aMean;
  const mean = aMean + (delta * b.count) / n;
  const m2 = d[at + 5]! + b.m2 + (delta * delta * ac * b.count) / n;
  const takeFirstB = b.firstAt < d[at + 7]! || (b.firstAt === d[at + 7]! && b.first < d[at + 6]!);
  const takeLastB = b.lastAt > d[at + 9]! || (b.lastAt === d[at + 9]! && b.last > d[at + 8]!);
  d[at] = n;
  d[at + 1] = d[at + 1]! + b.sum;
  d[at + 2] = Math.min(b.min, d[at + 2]!);
  d[at + 3] = Math.max(b.max, d[at + 3]!);
  d[at + 4] = mean;
  d[at + 5] = m2;
  if (takeFirstB) {
    d[at + 6] = b.first;
    d[at + 7] = b.firstAt;
  }
  if (takeLastB) {
    d[at + 8] = b.last;
    d[at + 9] = b.lastAt;
  }
}

/** Writes statistics at `at` of a slab (the revision slot is left alone). */
export function writeStats(d: Float64Array, at: number, s: MetricStats): void {
  d[at] = s.count;
  d[at + 1] = s.sum;
  d[at + 2] = s.min;
  d[at + 3] = s.max;
  d[at + 4] = s.mean;
  d[at + 5] = s.m2;
  d[at + 6] = s.first;
  d[at + 7] = s.firstAt;
  d[at + 8] = s.last;
  d[at + 9] = s.lastAt;
}

/** Reads statistics stored at `at` of a slab into a new object. */
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

/** Bytes of packed statistics: ten float64s. */
export const PACKED_STATS_BYTES = 80;

/** Writes statistics as ten little-endian float64s at `offset`. */
export function packStats(
  s: MetricStats,
  into: Buffer = Buffer.allocUnsafe(PACKED_STATS_BYTES),
  offset = 0,
): Buffer {
  into.writeDoubleLE(s.count, offset);
  into.writeDoubleLE(s.sum, offset + 8);
  into.writeDoubleLE(s.min, offset + 16);
  into.writeDoubleLE(s.max, offset + 24);
  into.writeDoubleLE(s.mean, offset + 32);
  into.writeDoubleLE(s.m2, offset + 40);
  into.writeDoubleLE(s.first, offset + 48);
  into.writeDoubleLE(s.firstAt, offset + 56);
  into.writeDoubleLE(s.last, offset + 64);
  into.writeDoubleLE(s.lastAt, offset + 72);
  return into;
}

/** Reads statistics packed by {@link packStats}. */
export function unpackStats(b: Buffer, offset = 0): MetricStats {
  return {
    count: b.readDoubleLE(offset),
    sum: b.readDoubleLE(offset + 8),
    min: b.readDoubleLE(offset + 16),
    max: b.readDoubleLE(offset + 24),
    mean: b.readDoubleLE(offset + 32),
    m2: b.readDoubleLE(offset + 40),
    first: b.readDoubleLE(offset + 48),
    firstAt: b.readDoubleLE(offset + 56),
    last: b.readDoubleLE(offset + 64),
    lastAt: b.readDoubleLE(offset + 72),
  };
}
