/**
 * Median and MAD of the last N readings, exact and cheap: beside the ring of readings in arrival order
 * the state keeps the same values sorted. A reading is one binary search and one shift to insert, the
 * evicted one the same to remove; the median is then read off, and the MAD is found by walking out from
 * the median (the deviations on each side are already in order) — O(N) per reading with small
 * constants, where sorting or selecting a copy each time cost 5–15 µs for N = 120. The sorted copy
 * doubles the ring's slots. Chosen over a streaming approximation (P², t-digest) because the ring is
 * small, the figures are exact, and a restored snapshot gives the very same answers.
 */

/** Inserts `value` into the ascending `d[o .. o + n)`, which has room for one more. */
export function sortedInsert(d: Float64Array, o: number, n: number, value: number): void {
  let lo = o;
  let hi = o + n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (d[mid]! <= value) lo = mid + 1;
    else hi = mid;
  }
  d.copyWithin(lo + 1, lo, o + n);
  d[lo] = value;
}

/** Removes one `value` (which it holds) from the ascending `d[o .. o + n)`. */
export function sortedRemove(d: Float64Array, o: number, n: number, value: number): void {
  let lo = o;
  let hi = o + n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (d[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  d.copyWithin(lo, lo + 1, o + n);
}

/** Median and median absolute deviation of the ascending `d[o .. o + n)`, n ≥ 1. */
export function sortedMedianAndMad(d: Float64Array, o: number, n: number): { median: number; mad: number } {
  const half = n >> 1;
  const median = n % 2 === 1 ? d[o + half]! : (d[o + half - 1]! + d[o + half]!) / 2;
  // the deviations below the median grow leftward, those at or above it rightward: merge them
  let right = o + half;
  while (right > o && d[right - 1]! >= median) right--;
  let left = right - 1;
  const end = o + n;
  let previous = 0;
  let current = 0;
  for (let k = 0; k <= half; k++) {
    const below = left >= o ? median - d[left]! : Number.POSITIVE_INFINITY;
    const above = right < end ? d[right]! - median : Number.POSITIVE_INFINITY;
    previous = current;
    if (below < above) {
      current = below;
      left--;
    } else {
      current = above;
      right++;
    }
  }
  return { median, mad: n % 2 === 1 ? current : (previous + current) / 2 };
}
