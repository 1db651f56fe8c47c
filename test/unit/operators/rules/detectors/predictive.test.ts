import { describe, expect, it } from 'vitest';
import {
  createPredictive,
  DetectorParamError,
  type PredictiveParams,
  predictiveCodec,
  updatePredictive,
} from '../../../../../operators/rules/detectors/index.ts';
import { hourlyMeans, syntheticSignal } from '../../../../support/syntheticSignals.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The start of each hour the detector raised on, fed a signal's hourly means. */
function raisedAt(params: PredictiveParams, hours: ReturnType<typeof hourlyMeans>): number[] {
  const s = createPredictive(params);
  return hours.filter((h) => updatePredictive(s, h.start, h.mean).anomalous).map((h) => h.start);
}

describe('predictive', () => {
  const base = { horizonMs: DAY, points: 48, minR2: 0.8 } as const;

  it('raises nothing on 30 stationary days', () => {
    for (const seed of [41, 42, 43]) {
      const hours = hourlyMeans(syntheticSignal({ seed }));
      expect(raisedAt({ ...base, threshold: 23, crossing: 'above' }, hours)).toEqual([]);
      expect(raisedAt({ ...base, threshold: 17, crossing: 'below' }, hours)).toEqual([]);
    }
    const cycle = hourlyMeans(syntheticSignal({ seed: 44, dailyAmplitude: 1 }));
    expect(raisedAt({ ...base, threshold: 23, crossing: 'above' }, cycle)).toEqual([]);
  });

  it('raises before a slow drift crosses the threshold, not before the drift', () => {
    for (const [seed, perHour] of [
      [45, 0.05],
      [46, -0.05],
    ] as const) {
      const signal = syntheticSignal({ seed, drift: { startDay: 10, perHour } });
      const crossing = perHour > 0 ? 'above' : 'below';
      const threshold = 20 + Math.sign(perHour) * 6;
      // the level reaches the threshold 6 / 0.05 = 120 h after the drift starts
      const crossesAt = signal.times[0]! + 10 * DAY + 120 * HOUR;
      const raised = raisedAt({ ...base, threshold, crossing }, hourlyMeans(signal));
      expect(raised.length).toBeGreaterThan(0);
      expect(raised[0]!).toBeGreaterThan(signal.times[0]! + 10 * DAY);
      expect(raised[0]!).toBeLessThan(crossesAt);
      expect(raised[0]!).toBeGreaterThanOrEqual(crossesAt - 2 * DAY);
    }
  });

  it('says how long until the crossing and how good the fit is', () => {
    const s = createPredictive({ threshold: 100, crossing: 'above', horizonMs: 10 * HOUR, points: 5 });
    const verdicts = [0, 1, 2, 3, 4].map((i) => updatePredictive(s, i * HOUR, 10 * i));
    expect(verdicts.slice(0, 4).every((v) => !v.ready)).toBe(true);
    const v = verdicts[4]!;
    expect(v).toMatchObject({ ready: true, anomalous: true, direction: 'level-up', slope: 10, r2: 1 });
    expect(v.timeToCrossMs).toBeCloseTo(6 * HOUR, 3);
    expect(v.score).toBeCloseTo(10 / 6);
    // heading away: no time to cross
    const away = createPredictive({ threshold: 100, crossing: 'below', horizonMs: 10 * HOUR, points: 5 });
    for (let i = 0; i < 5; i++) updatePredictive(away, i * HOUR, 10 * i);
    expect(updatePredictive(away, 5 * HOUR, 50)).toMatchObject({
      anomalous: false,
      timeToCrossMs: undefined,
      score: 0,
    });
    // a poor fit does not raise
    const noisy = createPredictive({
      threshold: 12,
      crossing: 'above',
      horizonMs: 100 * HOUR,
      points: 6,
      minR2: 0.9,
    });
    const last = [10, 11, 9, 11.5, 9.5, 11].map((y, i) => updatePredictive(noisy, i * HOUR, y)).at(-1)!;
    expect(last.r2!).toBeLessThan(0.9);
    expect(last.anomalous).toBe(false);
  });

  it('revises a point of the same hour, ignores one older than the ring, never yields NaN on a flat signal', () => {
    const s = createPredictive({ threshold: 100, crossing: 'above', horizonMs: DAY, points: 4 });
    for (let i = 0; i < 6; i++) updatePredictive(s, i * HOUR, 5);
    const flat = updatePredictive(s, 6 * HOUR, 5);
    expect(flat).toMatchObject({ anomalous: false, slope: 0, r2: 0, timeToCrossMs: undefined });
    // hour 6 revised upward, then hour 5: the line through 5, 5, 7, 9
    updatePredictive(s, 6 * HOUR, 9);
    const revised = updatePredictive(s, 5 * HOUR, 7);
    const fresh = createPredictive({ threshold: 100, crossing: 'above', horizonMs: DAY, points: 4 });
    let expected = updatePredictive(fresh, 3 * HOUR, 5);
    for (const [h, y] of [
      [4, 5],
      [5, 7],
      [6, 9],
    ] as const)
      expected = updatePredictive(fresh, h * HOUR, y);
    expect(revised.slope).toBeCloseTo(expected.slope!, 9);
    expect(revised.r2).toBeCloseTo(expected.r2!, 9);
    expect(revised.timeToCrossMs).toBeCloseTo(expected.timeToCrossMs!, 0);
    const before = Float64Array.from(s);
    expect(updatePredictive(s, 2 * HOUR, 1000)).toMatchObject({ anomalous: false, ignored: 'out-of-order' });
    expect(updatePredictive(s, 7 * HOUR, Number.NaN)).toMatchObject({
      anomalous: false,
      ignored: 'not-finite',
    });
    expect(s).toEqual(before);
  });

  it('keeps its running sums exact over a long run (the anchor moves every ring)', () => {
    const s = createPredictive({ threshold: 1e9, crossing: 'above', horizonMs: DAY, points: 24 });
    const t0 = Date.UTC(2026, 0, 1);
    let v = updatePredictive(s, t0, 0);
    for (let i = 1; i < 20_000; i++) v = updatePredictive(s, t0 + i * HOUR, 1e4 + 0.5 * i);
    expect(v.slope).toBeCloseTo(0.5, 9);
    expect(v.r2).toBeCloseTo(1, 9);
  });

  it('keeps a fixed-size state that its codec round-trips exactly', () => {
    const s = createPredictive({ threshold: 30, crossing: 'above', horizonMs: DAY, points: 100 });
    const size = s.length;
    expect(size).toBe(17 + 200);
    for (let i = 0; i < 1000; i++) updatePredictive(s, i * HOUR, Math.sin(i) + i / 100);
    expect(s.length).toBe(size);
    const copy = predictiveCodec.decode(predictiveCodec.encode(s));
    expect(copy).toEqual(s);
    expect(updatePredictive(copy, 1000 * HOUR, 12)).toEqual(updatePredictive(s, 1000 * HOUR, 12));
  });

  it('refuses bad parameters by name', () => {
    const refusal = (params: object) => {
      try {
        createPredictive(params as never);
      } catch (error) {
        expect(error).toBeInstanceOf(DetectorParamError);
        return (error as DetectorParamError).param;
      }
      return undefined;
    };
    const ok = { threshold: 1, crossing: 'above', horizonMs: 1000 };
    expect(refusal(ok)).toBeUndefined();
    expect(refusal({ ...ok, threshold: '1' })).toBe('threshold');
    expect(refusal({ ...ok, crossing: 'over' })).toBe('crossing');
    expect(refusal({ ...ok, horizonMs: 0 })).toBe('horizonMs');
    expect(refusal({ ...ok, points: 2 })).toBe('points');
    expect(refusal({ ...ok, points: 10, minPoints: 11 })).toBe('minPoints');
    expect(refusal({ ...ok, minR2: 1.5 })).toBe('minR2');
    expect(refusal({ ...ok, stepMs: -1 })).toBe('stepMs');
    expect(refusal({ ...ok, horizon: 5 })).toBe('horizon');
  });
});
