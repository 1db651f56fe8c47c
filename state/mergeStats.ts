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
