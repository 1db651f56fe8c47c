/**
 * The tests' reference for a window's statistics: one metric's `MetricStats` as a plain object, built
 * one value at a time (Welford's update), against which the operator's rows
 * (`operators/windows/rows.ts`, `addToStats` of `topology/metricStats.ts`) are checked.
 */
import type { MetricStats } from '../../topology/index.ts';

/** Statistics that grow by one value at a time. */
export class RunningStats implements MetricStats {
  count = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  mean = 0;
  m2 = 0;
  first = 0;
  firstAt = Number.POSITIVE_INFINITY;
  last = 0;
  lastAt = Number.NEGATIVE_INFINITY;

  /** Adds one value observed at an event time; ties in time keep the smaller first and larger last. */
  add(value: number, at: number): void {
    this.count++;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    const delta = value - this.mean;
    this.mean += delta / this.count;
    this.m2 += delta * (value - this.mean);
    if (at < this.firstAt || (at === this.firstAt && value < this.first)) {
      this.first = value;
      this.firstAt = at;
    }
    if (at > this.lastAt || (at === this.lastAt && value > this.last)) {
      this.last = value;
      this.lastAt = at;
    }
  }
}
