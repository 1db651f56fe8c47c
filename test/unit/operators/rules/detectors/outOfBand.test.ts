import { describe, expect, it } from 'vitest';
import {
  createOutOfBand,
  DetectorParamError,
  outOfBandCodec,
  updateOutOfBand,
} from '../../../../../operators/rules/detectors/index.ts';
import {
  alarmsOf,
  scoreAlarms,
  seededRandom,
  syntheticSignal,
} from '../../../../support/syntheticSignals.ts';

const band = () => createOutOfBand({ k: 5, halfLifeReadings: 1440, warmup: 60 });

describe('out of band', () => {
  it('never raises during warm-up, then raises outside mean ± k·σ with the direction', () => {
    const s = createOutOfBand({ k: 3, halfLifeReadings: 100, warmup: 20 });
    const { normal } = seededRandom(5);
    for (let i = 0; i < 19; i++) {
      expect(updateOutOfBand(s, i * 1000, i === 5 ? 1000 : 10 + normal())).toMatchObject({
        ready: false,
        anomalous: false,
      });
    }
    // the spike learnt during warm-up (unclipped: no band yet) is forgotten after some half-lives
    for (let i = 19; i < 2000; i++) updateOutOfBand(s, i * 1000, 10 + normal());
    const high = updateOutOfBand(s, 2_000_000, 30);
    expect(high).toMatchObject({ ready: true, anomalous: true, direction: 'spike' });
    expect(high.score).toBeGreaterThan(3);
    expect(updateOutOfBand(s, 2_001_000, -10)).toMatchObject({ anomalous: true, direction: 'dip' });
    expect(updateOutOfBand(s, 2_002_000, 10)).toMatchObject({ anomalous: false });
  });

  it('learns a spike only as far as the band edge', () => {
    const s = createOutOfBand({ k: 4, halfLifeReadings: 50, warmup: 30 });
    const { normal } = seededRandom(9);
    for (let i = 0; i < 500; i++) updateOutOfBand(s, i, 10 + normal());
    const before = updateOutOfBand(s, 500, 10);
    const spike = updateOutOfBand(s, 501, 1e6);
    const after = updateOutOfBand(s, 502, 10);
    expect(spike.anomalous).toBe(true);
    // learnt as it is, the spike would move the mean by 1e6 / 72 (the weight of a reading at a half-life of
    // 50); clipped to the edge, by less than 4σ / 72
    expect(Math.abs(after.mean - before.mean)).toBeLessThan(0.1 * before.sigma);
    expect(after.sigma).toBeLessThan(1.2 * before.sigma);
  });

  it('weighs readings by event time with a half-life in ms', () => {
    const s = createOutOfBand({ k: 3, halfLifeMs: 60_000, warmup: 5 });
    for (let i = 0; i < 10; i++) updateOutOfBand(s, i * 1000, i % 2);
    // a long silence: the next reading weighs almost everything
    updateOutOfBand(s, 10 * 60 * 60_000, 50);
    expect(updateOutOfBand(s, 10 * 60 * 60_000 + 1, 50).mean).toBeGreaterThan(49);
  });

  it('ignores out-of-order and duplicate readings without NaN or alarms', () => {
    const s = band();
    for (let i = 0; i < 100; i++) updateOutOfBand(s, 1000 + i, i % 3);
    const before = Float64Array.from(s);
    for (const t of [1099, 1000, 5, -1e12]) {
      const v = updateOutOfBand(s, t, 1e9);
      expect(v.anomalous).toBe(false);
      expect(Number.isNaN(v.score) || Number.isNaN(v.mean) || Number.isNaN(v.sigma)).toBe(false);
    }
    expect(s).toEqual(before);
  });

  it('does not divide by a zero σ on a flat signal', () => {
    const s = createOutOfBand({ k: 3, halfLifeReadings: 10, warmup: 5, minSigma: 0.5 });
    for (let i = 0; i < 50; i++) expect(updateOutOfBand(s, i, 7).anomalous).toBe(false);
    expect(updateOutOfBand(s, 50, 8).anomalous).toBe(false);
    expect(updateOutOfBand(s, 51, 9).anomalous).toBe(true);
    const bare = createOutOfBand({ k: 3, halfLifeReadings: 10, warmup: 5 });
    for (let i = 0; i < 50; i++) updateOutOfBand(bare, i, 7);
    const v = updateOutOfBand(bare, 50, 7.001);
    expect(Number.isFinite(v.score)).toBe(true);
  });

  it('raises nothing over 30 stationary days, with or without a daily cycle', () => {
    for (const signal of [syntheticSignal({ seed: 21 }), syntheticSignal({ seed: 22, dailyAmplitude: 5 })]) {
      const s = band();
      expect(
        alarmsOf(signal, (i) => updateOutOfBand(s, signal.times[i]!, signal.values[i]!).anomalous),
      ).toEqual([]);
    }
  });

  it('finds spikes and dips of 8σ: recall and precision ≥ 0.95', () => {
    const signal = syntheticSignal({ seed: 23, spikes: { count: 100, size: 8 } });
    const s = band();
    const alarms = alarmsOf(signal, (i) => updateOutOfBand(s, signal.times[i]!, signal.values[i]!).anomalous);
    const scored = scoreAlarms(signal, alarms, { tolerance: 1 });
    expect(scored.recall).toBeGreaterThanOrEqual(0.95);
    expect(scored.precision).toBeGreaterThanOrEqual(0.95);
  });

  it('keeps a fixed-size state that its codec round-trips exactly', () => {
    const s = band();
    const size = s.length;
    const { normal } = seededRandom(3);
    for (let i = 0; i < 5000; i++) updateOutOfBand(s, i, normal());
    expect(s.length).toBe(size);
    const copy = outOfBandCodec.decode(outOfBandCodec.encode(s));
    expect(copy).toEqual(s);
    expect(updateOutOfBand(copy, 6000, 2)).toEqual(updateOutOfBand(s, 6000, 2));
    expect(() => outOfBandCodec.decode(new Uint8Array(8))).toThrow(/kind/);
  });

  it('refuses bad parameters by name', () => {
    const refusal = (params: object) => {
      try {
        createOutOfBand(params as never);
      } catch (error) {
        expect(error).toBeInstanceOf(DetectorParamError);
        return (error as DetectorParamError).param;
      }
      return undefined;
    };
    expect(refusal({ halfLifeReadings: 10 })).toBe('k');
    expect(refusal({ k: -1, halfLifeReadings: 10 })).toBe('k');
    expect(refusal({ k: 3 })).toBe('halfLifeReadings');
    expect(refusal({ k: 3, halfLifeReadings: 10, halfLifeMs: 1000 })).toBe('halfLifeReadings');
    expect(refusal({ k: 3, halfLifeMs: 0 })).toBe('halfLifeMs');
    expect(refusal({ k: 3, halfLifeReadings: 10, warmup: 1 })).toBe('warmup');
    expect(refusal({ k: 3, halfLifeReadings: 10, minSigma: -1 })).toBe('minSigma');
    expect(refusal({ k: 3, halfLifeReadings: 10 })).toBeUndefined();
  });
});
