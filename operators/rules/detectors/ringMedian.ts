/**
 * Median and MAD of a ring of values kept in a state, exactly, by sorting a copy: O(N log N) per
 * reading for a ring of N (N ≤ 1,024), no memory beyond the ring but one scratch array per process.
 * Chosen over a streaming approximation (P², t-digest) because the ring is small, the figures are
 * exact and a snapshot restores the very same answers.
 */

let scratch = new Float64Array(64);

/** Median and median absolute deviation of `d[o .. o + n)`. */
export function medianAndMad(d: Float64Array, o: number, n: number): { median: number; mad: number } {
  if (scratch.length < n) scratch = new Float64Array(Math.max(n, 2 * scratch.length));
  const values = scratch.subarray(0, n);
  values.set(d.subarray(o, o + n));
  values.sort();
  const median = middle(values);
  for (let i = 0; i < n; i++) values[i] = Math.abs(values[i]! - median);
  values.sort();
  return { median, mad: middle(values) };
}

function middle(sorted: Float64Array): number {
  const n = sorted.length;
  const half = n >> 1;
  return n % 2 === 1 ? sorted[half]! : (sorted[half - 1]! + sorted[half]!) / 2;
}
