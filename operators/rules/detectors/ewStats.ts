/**
 * Exponentially weighted mean and variance in three slots (`EW_STRIDE`), the arithmetic the band and
 * the anomaly baselines share. Until `1 / count` falls below the weight asked for, a value is weighed
 * `1 / count`: the first readings give their exact (population) mean and variance instead of a
 * start biased toward the first value.
 */

const MEAN = 0;
const VAR = 1;
const COUNT = 2;

/** Slots of one EW statistic: mean, variance, count. */
export const EW_STRIDE = 3;

/** The mean at `o`. */
export function ewMean(d: Float64Array, o: number): number {
  return d[o + MEAN]!;
}

/** The standard deviation at `o`. */
export function ewSigma(d: Float64Array, o: number): number {
  return Math.sqrt(d[o + VAR]!);
}

/** The values folded in at `o`. */
export function ewCount(d: Float64Array, o: number): number {
  return d[o + COUNT]!;
}

/** Folds `x` in with weight `alpha` (at least `1 / count`), after clipping it to `[low, high]`. */
export function ewAdd(d: Float64Array, o: number, x: number, alpha: number, low: number, high: number): void {
  const count = ++d[o + COUNT]!;
  if (count === 1) {
    d[o + MEAN] = x;
    d[o + VAR] = 0;
    return;
  }
  const clipped = clamp(x, low, high);
  const a = Math.max(alpha, 1 / count);
  const diff = clipped - d[o + MEAN]!;
  const increment = a * diff;
  d[o + MEAN]! += increment;
  d[o + VAR] = (1 - a) * (d[o + VAR]! + diff * increment);
}

/** Moves the mean at `o` by `delta` (a level shift was detected), keeping the variance. */
export function ewShift(d: Float64Array, o: number, delta: number): void {
  d[o + MEAN]! += delta;
}

/** The weight whose influence halves after `halfLife` updates (or units of time). */
export function alphaOfHalfLife(halfLife: number): number {
  return 1 - 2 ** (-1 / halfLife);
}

/** `x` clipped to `[low, high]`. */
export function clamp(x: number, low: number, high: number): number {
  return Math.min(Math.max(x, low), high);
}

/** σ with its floors: the parameter's, and one relative to the mean so a flat signal never divides by 0. */
export function flooredSigma(sigma: number, mean: number, minSigma: number): number {
  return Math.max(sigma, minSigma, 1e-9 * Math.max(1, Math.abs(mean)));
}
