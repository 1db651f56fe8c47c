import { describe, expect, it } from 'vitest';
import {
  feedHourCell,
  HOUR_CELLS_LENGTH,
  hourBaselineAt,
} from '../../../../../operators/rules/detectors/hourBaseline.ts';

describe('the hour-of-day baseline', () => {
  const cells = (fed: Record<number, readonly [mean: number, variance: number][]>) => {
    const d = new Float64Array(HOUR_CELLS_LENGTH + 2);
    for (const [hour, days] of Object.entries(fed)) {
      for (const [mean, variance] of days) feedHourCell(d, 1, Number(hour), mean, variance, 1 / 28);
    }
    return d;
  };

  it('holds for a reading the spread of hourly means over days plus the spread within the hour', () => {
    const d = cells({
      3: [
        [10, 1],
        [12, 1],
      ],
    });
    const at = hourBaselineAt(d, 1, 3.5, 2)!;
    expect(at.mean).toBe(11);
    // the second day: half the first day's variance, half (difference² + its own)
    expect(at.sigma ** 2).toBeCloseTo(0.5 * 1 + 0.5 * (2 * 2 + 1));
    expect(hourBaselineAt(d, 1, 3.5, 3)).toBeUndefined();
    expect([d[0], d[HOUR_CELLS_LENGTH + 1]]).toEqual([0, 0]);
  });

  it('interpolates between the middles of neighbouring hours, across midnight too', () => {
    const d = cells({ 3: [[10, 1]], 4: [[20, 4]], 23: [[0, 1]], 0: [[8, 1]] });
    expect(hourBaselineAt(d, 1, 3.5, 1)!.mean).toBe(10);
    expect(hourBaselineAt(d, 1, 4, 1)!.mean).toBe(15);
    expect(hourBaselineAt(d, 1, 4, 1)!.sigma).toBeCloseTo(Math.sqrt(2.5));
    expect(hourBaselineAt(d, 1, 4.25, 1)!.mean).toBe(17.5);
    expect(hourBaselineAt(d, 1, 0, 1)!.mean).toBe(4);
    expect(hourBaselineAt(d, 1, 23.75, 1)!.mean).toBe(2);
    // hour 2 has no days: 3:00 is judged by hour 3 alone, and hour 5 not at all
    expect(hourBaselineAt(d, 1, 3, 1)!.mean).toBe(10);
    expect(hourBaselineAt(d, 1, 5.5, 1)).toBeUndefined();
  });

  it('forgets old days at 1 / memory once it has that many', () => {
    const d = new Float64Array(HOUR_CELLS_LENGTH);
    for (let day = 0; day < 100; day++) feedHourCell(d, 0, 7, day < 50 ? 0 : 10, 0, 1 / 10);
    // 50 days at the new level with a memory of 10 days: (1 − 1/10)^50 of the old level is left
    expect(hourBaselineAt(d, 0, 7.5, 1)!.mean).toBeCloseTo(10 * (1 - 0.9 ** 50), 6);
  });
});
