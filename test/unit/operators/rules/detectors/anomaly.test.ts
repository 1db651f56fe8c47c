import { describe, expect, it } from 'vitest';
import {
  type AnomalyParams,
  anomalyCodec,
  createAnomaly,
  DetectorParamError,
  feedAnomalyHour,
  updateAnomaly,
} from '../../../../../operators/rules/detectors/index.ts';
import {
  alarmsOf,
  type Signal,
  type SignalOptions,
  scoreAlarms,
  seededRandom,
  syntheticSignal,
} from '../../../../support/syntheticSignals.ts';

const METHODS: readonly AnomalyParams[] = [{ method: 'robust-z' }, { method: 'ewma' }, { method: 'cusum' }];
const HOURS = { minDays: 3 } as const;

/** The readings of `signal` a detector raises on, fed the signal's hourly means when it has the hour baseline. */
function run(params: AnomalyParams, signal: Signal): number[] {
  const s = createAnomaly(params);
  return alarmsOf(
    signal,
    (i) => updateAnomaly(s, signal.times[i]!, signal.values[i]!, signal.hours[i]).anomalous,
    params.hourOfDay ? (h) => feedAnomalyHour(s, h.hourOfDay, h.mean, h.variance) : undefined,
  );
}

function scored(params: AnomalyParams, options: SignalOptions, tolerance: number) {
  const signal = syntheticSignal(options);
  return scoreAlarms(signal, run(params, signal), { tolerance });
}

describe('anomaly', () => {
  it('raises nothing over 30 stationary days, and nothing on a daily cycle with the hour baseline', () => {
    for (const params of METHODS) {
      expect(run(params, syntheticSignal({ seed: 31 })), params.method).toEqual([]);
      const cycle = syntheticSignal({ seed: 32, dailyAmplitude: 5 });
      expect(run({ ...params, hourOfDay: HOURS }, cycle), params.method).toEqual([]);
    }
  });

  it('robust-z finds spikes and dips of 8σ, with and without a daily cycle', () => {
    const plain = scored({ method: 'robust-z' }, { seed: 33, spikes: { count: 100, size: 8 } }, 1);
    // at the default |z| > 6 (chosen for silence on stationary noise): 0.89–0.98 over seeds 30–41
    expect(plain.recall).toBeGreaterThanOrEqual(0.85);
    expect(plain.precision).toBeGreaterThanOrEqual(0.95);
    const cycle = scored(
      { method: 'robust-z', hourOfDay: HOURS },
      { seed: 34, dailyAmplitude: 5, spikes: { count: 100, size: 8 } },
      1,
    );
    // the hour cells' σ includes the within-hour variance, which the spikes themselves raise (README):
    // 0.83–0.91 over seeds 30–41
    expect(cycle.recall).toBeGreaterThanOrEqual(0.8);
    expect(cycle.precision).toBeGreaterThanOrEqual(0.95);
  });

  it('ewma and cusum find level shifts of 3σ within an hour, once each, with and without a daily cycle', () => {
    for (const method of ['ewma', 'cusum'] as const) {
      const plain = scored({ method }, { seed: 35, shifts: { count: 20, size: 3 } }, 60);
      expect(plain.recall, method).toBeGreaterThanOrEqual(0.95);
      expect(plain.precision, method).toBeGreaterThanOrEqual(0.95);
      const cycle = scored(
        { method, hourOfDay: HOURS },
        { seed: 36, dailyAmplitude: 5, shifts: { count: 20, size: 3 } },
        60,
      );
      expect(cycle.recall, method).toBeGreaterThanOrEqual(0.95);
      expect(cycle.precision, method).toBeGreaterThanOrEqual(0.95);
    }
  });

  it('robust-z with the hour baseline follows a level shift instead of raising on it for days', () => {
    const shifts = scored(
      { method: 'robust-z', hourOfDay: HOURS },
      { seed: 47, dailyAmplitude: 5, shifts: { count: 20, size: 3 } },
      60,
    );
    // a 3σ step is under its 5σ limit: at most the odd reading past it while the level is followed
    expect(shifts.events).toBeLessThanOrEqual(20);
  });

  it('tells the direction: spike and dip for robust-z, level-up and level-down for the charts', () => {
    for (const params of METHODS) {
      const s = createAnomaly(params);
      const { normal } = seededRandom(37);
      let t = 0;
      for (; t < 3000; t++) updateAnomaly(s, t, 10 + normal());
      if (params.method === 'robust-z') {
        expect(updateAnomaly(s, t++, 30).direction).toBe('spike');
        expect(updateAnomaly(s, t++, -10).direction).toBe('dip');
        continue;
      }
      const directions = new Set<string | undefined>();
      for (let i = 0; i < 100; i++) directions.add(updateAnomaly(s, t++, 15 + normal()).direction);
      for (let i = 0; i < 100; i++) directions.add(updateAnomaly(s, t++, 10 + normal()).direction);
      expect(directions, params.method).toEqual(new Set([undefined, 'level-up', 'level-down']));
    }
  });

  it('is not poisoned by a spike: the next readings are judged as before it', () => {
    for (const params of METHODS) {
      const s = createAnomaly(params);
      const { normal } = seededRandom(38);
      for (let t = 0; t < 3000; t++) updateAnomaly(s, t, 10 + normal());
      const before = updateAnomaly(s, 3000, 10.5).score;
      const spike = updateAnomaly(s, 3001, 1e9);
      // a lone spike is the robust z-score's to find; the charts clip it
      expect(spike.anomalous, params.method).toBe(params.method === 'robust-z');
      const after = updateAnomaly(s, 3002, 10.5);
      expect(after.anomalous, params.method).toBe(false);
      if (params.method === 'robust-z') expect(Math.abs(after.score - before)).toBeLessThan(0.25);
    }
  });

  it('never raises before it is ready; with the hour baseline it waits for the hour cell unless told to fall back', () => {
    const s = createAnomaly({ method: 'ewma', warmup: 50 });
    for (let t = 0; t < 50; t++)
      expect(updateAnomaly(s, t, t % 2 === 0 ? 0 : 1e6)).toMatchObject({ ready: false, anomalous: false });
    expect(updateAnomaly(s, 50, 1).ready).toBe(true);

    const wait = createAnomaly({ method: 'robust-z', window: 20, hourOfDay: { minDays: 2 } });
    const global = createAnomaly({
      method: 'robust-z',
      window: 20,
      hourOfDay: { minDays: 2, fallback: 'global' },
    });
    for (let t = 0; t < 30; t++) {
      expect(updateAnomaly(wait, t, 5, 7).ready).toBe(false);
      expect(updateAnomaly(global, t, 5, 7)).toMatchObject({ ready: t >= 20, byHour: false });
    }
    feedAnomalyHour(wait, 7, 5, 1);
    feedAnomalyHour(wait, 7, 5.2, 1);
    expect(updateAnomaly(wait, 30, 5, 7.5)).toMatchObject({ ready: true, byHour: true, anomalous: false });
    expect(updateAnomaly(wait, 31, 50, 7.5)).toMatchObject({ anomalous: true, direction: 'spike' });
    expect(updateAnomaly(wait, 32, 5, 8.5).ready).toBe(false);
    // with the hour baseline, a reading without its hour is one whose cell is not ready
    expect(updateAnomaly(wait, 33, 5).ready).toBe(false);
    expect(updateAnomaly(global, 33, 5)).toMatchObject({ ready: true, byHour: false });
  });

  it('ignores out-of-order and duplicate readings without NaN or alarms', () => {
    for (const params of METHODS) {
      const s = createAnomaly(params);
      const { normal } = seededRandom(39);
      for (let t = 1000; t < 3000; t++) updateAnomaly(s, t, normal());
      const before = Float64Array.from(s);
      for (const t of [2999, 2000, 0]) {
        const v = updateAnomaly(s, t, 1e9);
        expect(v).toMatchObject({ anomalous: false, score: 0 });
        expect(v.ignored).toBe(t === 2999 ? 'duplicate' : 'out-of-order');
      }
      expect(updateAnomaly(s, 3000, Number.POSITIVE_INFINITY).ignored).toBe('not-finite');
      expect(s).toEqual(before);
    }
  });

  it('keeps a fixed-size state that its codec round-trips exactly', () => {
    for (const params of METHODS) {
      for (const hourOfDay of [undefined, HOURS]) {
        const s = createAnomaly({ ...params, hourOfDay });
        const size = s.length;
        const signal = syntheticSignal({ seed: 40, days: 5, dailyAmplitude: 2 });
        const half = signal.values.length / 2;
        const feed = hourOfDay
          ? (h: { hourOfDay: number; mean: number; variance: number }) =>
              feedAnomalyHour(s, h.hourOfDay, h.mean, h.variance)
          : undefined;
        alarmsOf(
          signal,
          (i) => i < half && updateAnomaly(s, signal.times[i]!, signal.values[i]!, signal.hours[i]).anomalous,
          feed,
        );
        expect(s.length).toBe(size);
        const copy = anomalyCodec.decode(anomalyCodec.encode(s));
        expect(copy).toEqual(s);
        const t = signal.times[half]! + 1;
        expect(updateAnomaly(copy, t, 25, 3.5)).toEqual(updateAnomaly(s, t, 25, 3.5));
      }
    }
    expect(createAnomaly({ method: 'robust-z', window: 200 }).length).toBe(
      createAnomaly({ method: 'robust-z', window: 100 }).length + 200,
    );
    expect(createAnomaly({ method: 'cusum', hourOfDay: {} }).length).toBe(
      createAnomaly({ method: 'cusum' }).length + 72,
    );
  });

  it('refuses bad parameters by name, and hours it cannot use', () => {
    const refusal = (params: object) => {
      try {
        createAnomaly(params as never);
      } catch (error) {
        expect(error).toBeInstanceOf(DetectorParamError);
        return (error as DetectorParamError).param;
      }
      return undefined;
    };
    expect(refusal({})).toBe('method');
    expect(refusal({ method: 'zscore' })).toBe('method');
    expect(refusal({ method: 'ewma', window: 10 })).toBe('window');
    expect(refusal({ method: 'robust-z', lambda: 0.2 })).toBe('lambda');
    expect(refusal({ method: 'ewma', lambda: 1.5 })).toBe('lambda');
    expect(refusal({ method: 'ewma', k: 1 })).toBe('k');
    expect(refusal({ method: 'robust-z', baselineHalfLife: 100 })).toBe('baselineHalfLife');
    expect(refusal({ method: 'robust-z', window: 50, warmup: 60 })).toBe('warmup');
    expect(refusal({ method: 'cusum', threshold: 0 })).toBe('threshold');
    expect(refusal({ method: 'cusum', clip: -1 })).toBe('clip');
    expect(refusal({ method: 'cusum', hourOfDay: { minDays: 0 } })).toBe('hourOfDay.minDays');
    expect(refusal({ method: 'cusum', hourOfDay: { memory: 3 } })).toBe('hourOfDay.memory');
    expect(refusal({ method: 'cusum', hourOfDay: { fallback: 'never' } })).toBe('hourOfDay.fallback');
    expect(refusal({ method: 'cusum', hourOfDay: {} })).toBeUndefined();
    expect(refusal({ method: 'cusum', hourOfDay: null })).toBe('hourOfDay');

    expect(() => feedAnomalyHour(createAnomaly({ method: 'ewma' }), 3, 1, 1)).toThrow(
      /no hour-of-day baseline/,
    );
    const s = createAnomaly({ method: 'ewma', hourOfDay: {} });
    expect(() => feedAnomalyHour(s, 3.5, 1, 1)).toThrow(/whole hour/);
    expect(() => updateAnomaly(s, 1, 1, 24)).toThrow(/hourOfDay/);
  });
});
