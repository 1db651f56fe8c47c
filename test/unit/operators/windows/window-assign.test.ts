import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { windowAssigner } from '../../../../operators/windows/index.ts';
import { mergeStats } from '../../../../topology/index.ts';
import { RunningStats } from '../../../support/runningStats.ts';
import { statsOf } from '../../../support/windowBruteForce.ts';

const HOUR = 3_600_000;
const utc = (iso: string) => Date.parse(iso);

describe('window assignment', () => {
  it('cuts UTC windows on hour, six-hour and day boundaries', () => {
    const assign = windowAssigner();
    const t = utc('2026-01-05T13:42:10Z');
    expect(assign(t, '1h')).toEqual({ start: utc('2026-01-05T13:00:00Z'), end: utc('2026-01-05T14:00:00Z') });
    expect(assign(t, '6h')).toEqual({ start: utc('2026-01-05T12:00:00Z'), end: utc('2026-01-05T18:00:00Z') });
    expect(assign(t, '1d')).toEqual({ start: utc('2026-01-05T00:00:00Z'), end: utc('2026-01-06T00:00:00Z') });
  });

  it('follows the local wall clock of a zone across a daylight-saving change', () => {
    const berlin = windowAssigner('Europe/Berlin');
    // 29 March 2026: clocks go from 02:00 CET to 03:00 CEST, the day has 23 hours
    const t = utc('2026-03-29T12:00:00Z');
    expect(berlin(t, '1d')).toEqual({ start: utc('2026-03-28T23:00:00Z'), end: utc('2026-03-29T22:00:00Z') });
    expect(berlin(utc('2026-03-29T01:30:00Z'), '6h')).toEqual({
      start: utc('2026-03-28T23:00:00Z'),
      end: utc('2026-03-29T04:00:00Z'),
    });
    const kolkata = windowAssigner('Asia/Kolkata');
    expect(kolkata(utc('2026-01-05T10:10:00Z'), '1h')).toEqual({
      start: utc('2026-01-05T09:30:00Z'),
      end: utc('2026-01-05T10:30:00Z'),
    });
  });

  it('tiles time: every instant lies in exactly one window, and each window starts where the last ended', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: utc('2020-01-01T00:00:00Z'), max: utc('2030-01-01T00:00:00Z') }),
        fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kathmandu', 'Australia/Lord_Howe'),
        fc.constantFrom('1h' as const, '6h' as const, '1d' as const),
        (t, zone, size) => {
          const assign = windowAssigner(zone);
          const w = assign(t, size);
          expect(w.start).toBeLessThanOrEqual(t);
          expect(w.end).toBeGreaterThan(t);
          expect(assign(w.end, size).start).toBe(w.end);
          expect(w.end - w.start).toBeGreaterThanOrEqual(
            size === '1h' ? HOUR : size === '6h' ? 5 * HOUR : 23 * HOUR,
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('running statistics', () => {
  it('built one value at a time and merged in any split, equal the statistics of the whole', () => {
    const point = fc.tuple(
      fc.integer({ min: 0, max: 10_000 }),
      fc.double({ min: -1e6, max: 1e6, noNaN: true }),
    );
    fc.assert(
      fc.property(fc.array(point, { minLength: 2, maxLength: 80 }), fc.nat(), (points, cut) => {
        const clean = points.map(([t, v]): [number, number] => [t, v === 0 ? 0 : v]); // no -0
        const k = 1 + (cut % (clean.length - 1));
        const build = (list: [number, number][]) => {
          const s = new RunningStats();
          for (const [t, v] of list) s.add(v, t);
          return s;
        };
        const merged = mergeStats(build(clean.slice(0, k)), build(clean.slice(k)));
        const want = statsOf(clean);
        expect(merged.count).toBe(want.count);
        expect([merged.min, merged.max, merged.first, merged.firstAt, merged.last, merged.lastAt]).toEqual([
          want.min,
          want.max,
          want.first,
          want.firstAt,
          want.last,
          want.lastAt,
        ]);
        const scale = Math.max(Math.abs(want.min), Math.abs(want.max), 1);
        expect(Math.abs(merged.sum - want.sum)).toBeLessThanOrEqual(1e-9 * scale * want.count);
        expect(Math.abs(merged.mean - want.mean)).toBeLessThanOrEqual(1e-9 * scale);
        expect(Math.abs(merged.m2 / merged.count - want.m2 / want.count)).toBeLessThanOrEqual(
          1e-9 * scale * scale,
        );
      }),
      { numRuns: 300 },
    );
  });
});
