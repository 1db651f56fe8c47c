import { describe, expect, it } from 'vitest';
import {
  createRateOfChange,
  DetectorParamError,
  rateOfChangeCodec,
  updateRateOfChange,
} from '../../../../../operators/rules/detectors/index.ts';
import { alarmsOf, scoreAlarms, syntheticSignal } from '../../../../support/syntheticSignals.ts';

const MINUTE = 60_000;

describe('rate of change', () => {
  it('raises on a change faster than the maximum, in the direction of the change', () => {
    const s = createRateOfChange({ maxRate: 1, unitMs: MINUTE });
    expect(updateRateOfChange(s, 0, 10)).toMatchObject({ ready: false, anomalous: false });
    expect(updateRateOfChange(s, MINUTE, 10.5)).toMatchObject({ ready: true, anomalous: false, rate: 0.5 });
    expect(updateRateOfChange(s, 2 * MINUTE, 13)).toMatchObject({
      anomalous: true,
      rate: 2.5,
      score: 2.5,
      direction: 'level-up',
    });
    // a slower reading rate makes the same step a smaller rate
    expect(updateRateOfChange(s, 12 * MINUTE, 9)).toMatchObject({ anomalous: false, rate: -0.4 });
    expect(updateRateOfChange(s, 12.5 * MINUTE, 7)).toMatchObject({
      anomalous: true,
      direction: 'level-down',
    });
  });

  it('watches rises only when asked', () => {
    const s = createRateOfChange({ maxRate: 1, direction: 'rise' });
    updateRateOfChange(s, 0, 10);
    expect(updateRateOfChange(s, 1000, 0).anomalous).toBe(false);
    expect(updateRateOfChange(s, 2000, 5)).toMatchObject({ anomalous: true, direction: 'level-up' });
  });

  it('catches over a span a climb that no single step shows', () => {
    const s = createRateOfChange({ maxRate: 1, span: 5, spanMaxRate: 0.5 });
    const verdicts = [0, 0.6, 1.2, 1.8, 2.4, 3.0].map((v, i) => updateRateOfChange(s, i * 1000, v));
    expect(verdicts.slice(0, 4).every((v) => !v.anomalous && v.spanRate === undefined)).toBe(true);
    expect(verdicts[4]).toMatchObject({ anomalous: true, spanRate: 0.6, direction: 'level-up' });
    expect(verdicts[4]!.rate).toBeCloseTo(0.6);
  });

  it('ignores out-of-order and duplicate readings: no NaN, no alarm, the state unchanged', () => {
    const s = createRateOfChange({ maxRate: 1, span: 3 });
    updateRateOfChange(s, 1000, 1);
    updateRateOfChange(s, 2000, 1.5);
    const before = Float64Array.from(s);
    expect(updateRateOfChange(s, 2000, 50)).toMatchObject({
      anomalous: false,
      ignored: 'duplicate',
      score: 0,
    });
    expect(updateRateOfChange(s, 500, -50)).toMatchObject({ anomalous: false, ignored: 'out-of-order' });
    expect(updateRateOfChange(s, 3000, Number.NaN)).toMatchObject({
      anomalous: false,
      ignored: 'not-finite',
    });
    expect(s).toEqual(before);
    const next = updateRateOfChange(s, 3000, 2);
    expect(next).toMatchObject({ anomalous: false, rate: 0.5, spanRate: 0.5 });
  });

  it('raises nothing on 30 days of stationary noise and finds spikes of 10σ by their edges', () => {
    const judge = (signalSeed: number, spikes: boolean) => {
      const signal = syntheticSignal({
        seed: signalSeed,
        spikes: spikes ? { count: 60, size: 10 } : undefined,
      });
      // consecutive noise differences have σ √2 ≈ 1.41 per minute: 7 per minute is about 5 of those
      const s = createRateOfChange({ maxRate: 7, unitMs: MINUTE });
      const alarms = alarmsOf(
        signal,
        (i) => updateRateOfChange(s, signal.times[i]!, signal.values[i]!).anomalous,
      );
      // a spike is a step up and a step down: both edges count, within 2 readings
      return scoreAlarms(signal, alarms, { tolerance: 2 });
    };
    expect(judge(11, false).events).toBe(0);
    const spikes = judge(12, true);
    expect(spikes.recall).toBeGreaterThanOrEqual(0.95);
    expect(spikes.precision).toBeGreaterThanOrEqual(0.95);
  });

  it('keeps a fixed-size state that its codec round-trips exactly', () => {
    const s = createRateOfChange({ maxRate: 2, span: 10 });
    const size = s.length;
    for (let i = 0; i < 1000; i++) updateRateOfChange(s, i * 1000, Math.sin(i));
    expect(s.length).toBe(size);
    expect(size).toBe(8 + 2 * 9);
    const copy = rateOfChangeCodec.decode(rateOfChangeCodec.encode(s));
    expect(copy).toEqual(s);
    expect(updateRateOfChange(copy, 1_000_000, 3)).toEqual(updateRateOfChange(s, 1_000_000, 3));
    expect(() => rateOfChangeCodec.decode(rateOfChangeCodec.encode(s).subarray(0, 64))).toThrow(/slots/);
  });

  it('refuses bad parameters by name', () => {
    const refusal = (params: object) => {
      try {
        createRateOfChange(params as never);
      } catch (error) {
        expect(error).toBeInstanceOf(DetectorParamError);
        return (error as DetectorParamError).param;
      }
      return undefined;
    };
    expect(refusal({})).toBe('maxRate');
    expect(refusal({ maxRate: 0 })).toBe('maxRate');
    expect(refusal({ maxRate: 1, unitMs: -5 })).toBe('unitMs');
    expect(refusal({ maxRate: 1, direction: 'up' })).toBe('direction');
    expect(refusal({ maxRate: 1, span: 1 })).toBe('span');
    expect(refusal({ maxRate: 1, span: 2.5 })).toBe('span');
    expect(refusal({ maxRate: 1, maxrate: 2 })).toBe('maxrate');
    expect(() => createRateOfChange({ maxRate: Number.NaN })).toThrow('rate-of-change: parameter `maxRate`');
  });
});
