import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addToStats,
  clearStats,
  type MetricStats,
  mergeSlots,
  mergeStats,
  readStats,
  STAT,
  STATS_STRIDE,
  writeStats,
} from '../../../topology/index.ts';

const stats = fc.record({
  count: fc.integer({ min: 0, max: 1_000 }),
  sum: fc.double({ noNaN: true }),
  min: fc.double({ noNaN: true }),
  max: fc.double({ noNaN: true }),
  mean: fc.double({ noNaN: true }),
  m2: fc.double({ noNaN: true }),
  first: fc.double({ noNaN: true }),
  firstAt: fc.integer(),
  last: fc.double({ noNaN: true }),
  lastAt: fc.integer(),
}) satisfies fc.Arbitrary<MetricStats>;

describe('the statistics layout', () => {
  it('gives every statistic of MetricStats its own slot of a column', () => {
    const slots = Object.values(STAT).sort((a, b) => a - b);
    expect(slots).toEqual([...Array(STATS_STRIDE).keys()]);
    const names: (keyof MetricStats)[] = [
      'count',
      'sum',
      'min',
      'max',
      'mean',
      'm2',
      'first',
      'firstAt',
      'last',
      'lastAt',
    ];
    expect(Object.keys(STAT).sort()).toEqual([...names].sort());
  });

  it('writes and reads statistics at their slots, leaving the neighbouring columns alone', () => {
    fc.assert(
      fc.property(stats, (s) => {
        const d = new Float64Array(3 * STATS_STRIDE).fill(7);
        writeStats(d, STATS_STRIDE, s);
        expect(readStats(d, STATS_STRIDE)).toEqual(s);
        for (const [name, slot] of Object.entries(STAT))
          expect(d[STATS_STRIDE + slot]).toBe(s[name as keyof MetricStats]);
        expect([...d.subarray(0, STATS_STRIDE), ...d.subarray(2 * STATS_STRIDE)]).toEqual(
          Array(2 * STATS_STRIDE).fill(7),
        );
      }),
    );
  });

  it('merges in slots as mergeStats does on objects, and an empty column changes nothing', () => {
    fc.assert(
      fc.property(stats, stats, (a, b) => {
        const d = new Float64Array(2 * STATS_STRIDE);
        writeStats(d, 0, a);
        writeStats(d, STATS_STRIDE, b);
        mergeSlots(d, 0, d, STATS_STRIDE);
        expect(readStats(d, 0)).toEqual(mergeStats(a, b));
        const empty = new Float64Array(STATS_STRIDE);
        clearStats(empty, 0);
        if (a.count > 0) expect(mergeStats(a, readStats(empty, 0))).toEqual(a);
        expect(mergeStats(readStats(empty, 0), b)).toEqual(b);
      }),
    );
  });

  it('adds values one at a time into a cleared column', () => {
    const d = new Float64Array(STATS_STRIDE);
    clearStats(d, 0);
    for (const [value, at] of [
      [4, 20],
      [2, 10],
      [6, 30],
      [8, 10],
    ] as const)
      addToStats(d, 0, value, at);
    expect(readStats(d, 0)).toEqual({
      count: 4,
      sum: 20,
      min: 2,
      max: 8,
      mean: 5,
      m2: 20,
      first: 2,
      firstAt: 10,
      last: 6,
      lastAt: 30,
    });
  });
});
