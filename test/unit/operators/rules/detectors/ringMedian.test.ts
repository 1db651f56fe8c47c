import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  sortedInsert,
  sortedMedianAndMad,
  sortedRemove,
} from '../../../../../operators/rules/detectors/ringMedian.ts';

/** Median and MAD by sorting, the reference. */
function bruteForce(values: readonly number[]): { median: number; mad: number } {
  const middle = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const h = s.length >> 1;
    return s.length % 2 === 1 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
  };
  const median = middle([...values]);
  return { median, mad: middle(values.map((v) => Math.abs(v - median))) };
}

describe('the sorted ring of robust-z', () => {
  it('gives the exact median and MAD of the last N values, leaving the slots around it alone', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        // small integers make ties and repeated values common
        fc.array(fc.oneof(fc.integer({ min: -3, max: 3 }), fc.double({ min: -1e6, max: 1e6, noNaN: true })), {
          minLength: 1,
          maxLength: 200,
        }),
        (n, values) => {
          const d = new Float64Array(n + 2).fill(77);
          const window: number[] = [];
          for (const x of values) {
            if (window.length === n) {
              sortedRemove(d, 1, n, window.shift()!);
              sortedInsert(d, 1, n - 1, x);
            } else {
              sortedInsert(d, 1, window.length, x);
            }
            window.push(x);
            const got = sortedMedianAndMad(d, 1, window.length);
            const want = bruteForce(window);
            expect(got.median).toBeCloseTo(want.median, 6);
            expect(got.mad).toBeCloseTo(want.mad, 6);
          }
          expect([d[0], d[n + 1]]).toEqual([77, 77]);
        },
      ),
      { numRuns: 300 },
    );
  });
});
