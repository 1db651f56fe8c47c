/**
 * The one layout of `MetricStats` as slots of a `Float64Array`, and the arithmetic of the mergeable
 * form on it: adding one value (Welford) and merging two partials (Chan et al.). The window operator
 * builds a batch's statistics in slabs of this layout (`operators/windows/rows.ts`), the state backends
 * keep and merge them so (`state/`), and the Redis backend's Lua script is built with these slot
 * numbers written into its source (`state/windowScripts.ts`). A column of statistics takes
 * `STATS_STRIDE` slots, statistic `name` at `column + STAT[name]`.
 *
 * The arithmetic lives here, beside the slot numbers it uses as module constants: V8 folds those into
 * the code, where reading them from an imported object costs the per-record loop about a tenth.
 */
import type { MetricStats } from './records.ts';

// the layout: one slot per field of MetricStats
const COUNT = 0;
const SUM = 1;
const MIN = 2;
const MAX = 3;
const MEAN = 4;
const M2 = 5;
const FIRST = 6;
const FIRST_AT = 7;
const LAST = 8;
const LAST_AT = 9;

/** Each statistic's slot from the first of its column. */
export const STAT: { readonly [K in keyof MetricStats]: number } = Object.freeze({
  count: COUNT,
  sum: SUM,
  min: MIN,
  max: MAX,
  mean: MEAN,
  m2: M2,
  first: FIRST,
  firstAt: FIRST_AT,
  last: LAST,
  lastAt: LAST_AT,
});

/** Slots of one column: its statistics. */
export const STATS_STRIDE = 10;

/** Empties the column at `o`: no value yet (what merging anything into leaves that thing). */
export function clearStats(d: Float64Array, o: number): void {
  d[o + COUNT] = 0;
  d[o + SUM] = 0;
  d[o + MIN] = Number.POSITIVE_INFINITY;
  d[o + MAX] = Number.NEGATIVE_INFINITY;
  d[o + MEAN] = 0;
  d[o + M2] = 0;
  d[o + FIRST] = 0;
  d[o + FIRST_AT] = Number.POSITIVE_INFINITY;
  d[o + LAST] = 0;
  d[o + LAST_AT] = Number.NEGATIVE_INFINITY;
}

/** Reads the column at `o` of a slab into a new object. */
export function readStats(d: Float64Array, o: number): MetricStats {
  return {
    count: d[o + COUNT]!,
    sum: d[o + SUM]!,
    min: d[o + MIN]!,
    max: d[o + MAX]!,
    mean: d[o + MEAN]!,
    m2: d[o + M2]!,
    first: d[o + FIRST]!,
    firstAt: d[o + FIRST_AT]!,
    last: d[o + LAST]!,
    lastAt: d[o + LAST_AT]!,
  };
}

/** Writes statistics into the column at `o` of a slab. */
export function writeStats(d: Float64Array, o: number, s: MetricStats): void {
  d[o + COUNT] = s.count;
  d[o + SUM] = s.sum;
  d[o + MIN] = s.min;
  d[o + MAX] = s.max;
  d[o + MEAN] = s.mean;
  d[o + M2] = s.m2;
  d[o + FIRST] = s.first;
  d[o + FIRST_AT] = s.firstAt;
  d[o + LAST] = s.last;
  d[o + LAST_AT] = s.lastAt;
}

/**
 * Adds a value observed at event time `time` to the column at `o` (Welford's update); ties in time
 * keep the smaller first and the larger last.
 */
export function addToStats(d: Float64Array, o: number, value: number, time: number): void {
  const count = ++d[o + COUNT]!;
  d[o + SUM]! += value;
  if (value < d[o + MIN]!) d[o + MIN] = value;
  if (value > d[o + MAX]!) d[o + MAX] = value;
  const delta = value - d[o + MEAN]!;
  d[o + MEAN]! += delta / count;
  d[o + M2]! += delta * (value - d[o + MEAN]!);
  if (time < d[o + FIRST_AT]! || (time === d[o + FIRST_AT]! && value < d[o + FIRST]!)) {
    d[o + FIRST] = value;
    d[o + FIRST_AT] = time;
  }
  if (time > d[o + LAST_AT]! || (time === d[o + LAST_AT]! && value > d[o + LAST]!)) {
    d[o + LAST] = value;
    d[o + LAST_AT] = time;
  }
}

/**
 * Merges the column at `f` of `from` into the column at `o` of `d` (Chan et al. for mean and m2;
 * ties of first/last broken by value, so the merge is order-free). The Lua script in
 * `state/windowScripts.ts` does the same arithmetic in the same order, so both backends give
 * bit-identical numbers.
 */
export function mergeSlots(d: Float64Array, o: number, from: Float64Array, f: number): void {
  const ac = d[o + COUNT]!;
  const bc = from[f + COUNT]!;
  if (ac === 0) {
    for (let k = 0; k < STATS_STRIDE; k++) d[o + k] = from[f + k]!;
    return;
  }
  if (bc === 0) return;
  const n = ac + bc;
  const aMean = d[o + MEAN]!;
  const delta = from[f + MEAN]! - aMean;
  const mean = aMean + (delta * bc) / n;
  const m2 = d[o + M2]! + from[f + M2]! + (delta * delta * ac * bc) / n;
  const bFirst = from[f + FIRST]!;
  const bFirstAt = from[f + FIRST_AT]!;
  const bLast = from[f + LAST]!;
  const bLastAt = from[f + LAST_AT]!;
  const takeFirstB = bFirstAt < d[o + FIRST_AT]! || (bFirstAt === d[o + FIRST_AT]! && bFirst < d[o + FIRST]!);
  const takeLastB = bLastAt > d[o + LAST_AT]! || (bLastAt === d[o + LAST_AT]! && bLast > d[o + LAST]!);
  d[o + COUNT] = n;
  d[o + SUM] = d[o + SUM]! + from[f + SUM]!;
  d[o + MIN] = Math.min(from[f + MIN]!, d[o + MIN]!);
  d[o + MAX] = Math.max(from[f + MAX]!, d[o + MAX]!);
  d[o + MEAN] = mean;
  d[o + M2] = m2;
  if (takeFirstB) {
    d[o + FIRST] = bFirst;
    d[o + FIRST_AT] = bFirstAt;
  }
  if (takeLastB) {
    d[o + LAST] = bLast;
    d[o + LAST_AT] = bLastAt;
  }
}

// the two partials of `mergeStats`, side by side
const pair = new Float64Array(2 * STATS_STRIDE);

/** Merges two partials of one metric in one window: {@link mergeSlots} on objects. */
export function mergeStats(a: MetricStats, b: MetricStats): MetricStats {
  writeStats(pair, 0, a);
  writeStats(pair, STATS_STRIDE, b);
  mergeSlots(pair, 0, pair, STATS_STRIDE);
  return readStats(pair, 0);
}
