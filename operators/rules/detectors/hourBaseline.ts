/**
 * The hour-of-day baseline: 24 cells (mean, variance, count), one per hour of the site's day, fed by
 * the device's hourly means (its 1 h window finals). A cell's mean is the level expected at that hour;
 * its variance is that of a *reading* about it: the spread of the hourly means from day to day plus
 * the spread of readings within the hour (the window's own variance), so a reading can be judged
 * against its hour's cell directly.
 *
 * A cell weighs its days `1 / count` until `count` reaches the memory, then by `1 / memory` (an
 * exponential forgetting of older days). Hourly means are fed as they are: a spike moves its hour's
 * mean by its size over the hour's readings, which a cell's day-to-day spread absorbs.
 */

const MEAN = 0;
const VAR = 1;
const COUNT = 2;
const CELL = 3;

/** Slots of the 24 cells. */
export const HOUR_CELLS_LENGTH = 24 * CELL;

/** Folds one hour's mean and within-hour variance into the cell of `hourOfDay`. */
export function feedHourCell(
  d: Float64Array,
  o: number,
  hourOfDay: number,
  mean: number,
  variance: number,
  memoryAlpha: number,
): void {
  const c = o + CELL * hourOfDay;
  const count = ++d[c + COUNT]!;
  if (count === 1) {
    d[c + MEAN] = mean;
    d[c + VAR] = variance;
    return;
  }
  const a = Math.max(1 / count, memoryAlpha);
  const diff = mean - d[c + MEAN]!;
  d[c + VAR] = (1 - a) * d[c + VAR]! + a * (diff * diff + variance);
  d[c + MEAN]! += a * diff;
}

/**
 * The level expected at `hourOfDay` (the site's time of day in hours, fractional: 13.25 is 13:15) and
 * the σ of a reading about it, or `undefined` while its cell has fewer than `minDays` days. A cell
 * stands for the middle of its hour; between two middles both are interpolated linearly (a cell whose
 * neighbour is not ready stands alone), so a daily cycle leaves no hourly sawtooth in what is judged.
 */
export function hourBaselineAt(
  d: Float64Array,
  o: number,
  hourOfDay: number,
  minDays: number,
): { mean: number; sigma: number } | undefined {
  const hour = Math.floor(hourOfDay);
  const c = o + CELL * hour;
  if (d[c + COUNT]! < minDays) return undefined;
  const offset = hourOfDay - hour - 0.5;
  const neighbour = o + CELL * ((hour + (offset < 0 ? 23 : 1)) % 24);
  if (d[neighbour + COUNT]! < minDays) return { mean: d[c + MEAN]!, sigma: Math.sqrt(d[c + VAR]!) };
  const w = Math.abs(offset);
  return {
    mean: (1 - w) * d[c + MEAN]! + w * d[neighbour + MEAN]!,
    sigma: Math.sqrt((1 - w) * d[c + VAR]! + w * d[neighbour + VAR]!),
  };
}
