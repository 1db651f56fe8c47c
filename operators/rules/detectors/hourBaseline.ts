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

/** The days fed into the cell of `hourOfDay`. */
export function hourCellCount(d: Float64Array, o: number, hourOfDay: number): number {
  return d[o + CELL * hourOfDay + COUNT]!;
}

/** The expected level at `hourOfDay`. */
export function hourCellMean(d: Float64Array, o: number, hourOfDay: number): number {
  return d[o + CELL * hourOfDay + MEAN]!;
}

/** The standard deviation of a reading about its hour's mean. */
export function hourCellSigma(d: Float64Array, o: number, hourOfDay: number): number {
  return Math.sqrt(d[o + CELL * hourOfDay + VAR]!);
}
