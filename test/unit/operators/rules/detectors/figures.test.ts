/**
 * The recall and precision table of `operators/rules/detectors/README.md`: every detector on every
 * synthetic signal, three seeds each, printed as Markdown. It takes 10–40 s, so it runs only when
 * asked:
 *
 *   DETECTOR_FIGURES=1 npx vitest run --project unit test/unit/operators/rules/detectors/figures.test.ts
 *
 * An alarm *event* is a run of alarms at most 5 readings apart; it is a true positive when it starts on
 * an injected anomaly or within the tolerance after it (2 readings for spikes, 60 for level shifts).
 */
import { expect, it } from 'vitest';
import {
  createAnomaly,
  createOutOfBand,
  createPredictive,
  createRateOfChange,
  feedAnomalyHour,
  updateAnomaly,
  updateOutOfBand,
  updatePredictive,
  updateRateOfChange,
} from '../../../../../operators/rules/detectors/index.ts';
import {
  alarmsOf,
  type HourlyMean,
  hourlyMeans,
  type Signal,
  type SignalOptions,
  scoreAlarms,
  syntheticSignal,
} from '../../../../support/syntheticSignals.ts';

const SEEDS = [101, 102, 103];
const HOUR = 3_600_000;

interface Runner {
  judge(signal: Signal, i: number): boolean;
  feed?(hour: HourlyMean): void;
}

const anomaly = (params: Parameters<typeof createAnomaly>[0]) => (): Runner => {
  const s = createAnomaly(params);
  return {
    judge: (g, i) => updateAnomaly(s, g.times[i]!, g.values[i]!, g.hours[i]).anomalous,
    feed: params.hourOfDay ? (h) => feedAnomalyHour(s, h.hourOfDay, h.mean, h.variance) : undefined,
  };
};

const DETECTORS: Record<string, () => Runner> = {
  'rate of change, 7σ/min': () => {
    const s = createRateOfChange({ maxRate: 7, unitMs: 60_000 });
    return { judge: (g, i) => updateRateOfChange(s, g.times[i]!, g.values[i]!).anomalous };
  },
  'out of band, k 5': () => {
    const s = createOutOfBand({ k: 5, halfLifeReadings: 1440, warmup: 60 });
    return { judge: (g, i) => updateOutOfBand(s, g.times[i]!, g.values[i]!).anomalous };
  },
  'robust-z': anomaly({ method: 'robust-z' }),
  'robust-z + hours': anomaly({ method: 'robust-z', hourOfDay: { minDays: 3 } }),
  ewma: anomaly({ method: 'ewma' }),
  'ewma + hours': anomaly({ method: 'ewma', hourOfDay: { minDays: 3 } }),
  cusum: anomaly({ method: 'cusum' }),
  'cusum + hours': anomaly({ method: 'cusum', hourOfDay: { minDays: 3 } }),
};

const SIGNALS: Record<string, { options: Omit<SignalOptions, 'seed'>; tolerance: number }> = {
  stationary: { options: {}, tolerance: 0 },
  'daily cycle 5σ': { options: { dailyAmplitude: 5 }, tolerance: 0 },
  'spikes 6σ': { options: { spikes: { count: 100, size: 6 } }, tolerance: 2 },
  'spikes 8σ': { options: { spikes: { count: 100, size: 8 } }, tolerance: 2 },
  'cycle + spikes 8σ': { options: { dailyAmplitude: 5, spikes: { count: 100, size: 8 } }, tolerance: 2 },
  'shifts 3σ': { options: { shifts: { count: 20, size: 3 } }, tolerance: 60 },
  'shifts 1σ': { options: { shifts: { count: 20, size: 1 } }, tolerance: 60 },
  'cycle + shifts 3σ': { options: { dailyAmplitude: 5, shifts: { count: 20, size: 3 } }, tolerance: 60 },
};

it.runIf(process.env.DETECTOR_FIGURES === '1')(
  'prints the recall and precision table',
  { timeout: 600_000 },
  () => {
    const names = Object.keys(SIGNALS);
    const lines = [`| detector | ${names.join(' | ')} |`, `|---|${names.map(() => '---').join('|')}|`];
    for (const [detector, make] of Object.entries(DETECTORS)) {
      const cells: string[] = [];
      for (const { options, tolerance } of Object.values(SIGNALS)) {
        let events = 0;
        let truePositives = 0;
        let detected = 0;
        let anomalies = 0;
        for (const seed of SEEDS) {
          const signal = syntheticSignal({ seed, ...options });
          const runner = make();
          const scored = scoreAlarms(
            signal,
            alarmsOf(signal, (i) => runner.judge(signal, i), runner.feed),
            { tolerance },
          );
          events += scored.events;
          truePositives += scored.truePositives;
          detected += scored.detected;
          anomalies += scored.anomalies;
        }
        cells.push(
          anomalies === 0
            ? `${events} false alarms`
            : `R ${(detected / anomalies).toFixed(2)} · P ${events === 0 ? '–' : (truePositives / events).toFixed(2)}`,
        );
      }
      lines.push(`| ${detector} | ${cells.join(' | ')} |`);
    }

    // false alarms over more seeds: each detector on 20 × 30 days of noise (with the daily cycle for the
    // hour-baseline variants)
    const quiet: string[] = [];
    for (const [detector, make] of Object.entries(DETECTORS)) {
      let events = 0;
      for (let seed = 200; seed < 220; seed++) {
        const signal = syntheticSignal({ seed, dailyAmplitude: detector.endsWith('hours') ? 5 : 0 });
        const runner = make();
        events += scoreAlarms(
          signal,
          alarmsOf(signal, (i) => runner.judge(signal, i), runner.feed),
          {
            tolerance: 0,
          },
        ).events;
      }
      quiet.push(`| ${detector} | ${events} |`);
    }
    lines.push('', '| detector | false alarms in 20 × 30 days (seeds 200–219) |', '|---|---|', ...quiet);

    // predictive: drifts of ±0.05σ per hour toward a threshold 6σ away (crossed 120 h after the drift starts)
    const predictive: string[] = [];
    for (const [label, perHour] of [
      ['drift up', 0.05],
      ['drift down', -0.05],
    ] as const) {
      const leads: number[] = [];
      let stationaryRaises = 0;
      for (const seed of SEEDS) {
        const params = {
          threshold: 20 + Math.sign(perHour) * 6,
          crossing: perHour > 0 ? ('above' as const) : ('below' as const),
          horizonMs: 24 * HOUR,
          points: 48,
          minR2: 0.8,
        };
        const signal = syntheticSignal({ seed, drift: { startDay: 10, perHour } });
        const crossesAt = signal.times[0]! + 10 * 24 * HOUR + 120 * HOUR;
        const s = createPredictive(params);
        const first = hourlyMeans(signal).find((h) => updatePredictive(s, h.start, h.mean).anomalous);
        leads.push(first === undefined ? Number.NaN : (crossesAt - first.start) / HOUR);
        const quiet = createPredictive(params);
        for (const h of hourlyMeans(syntheticSignal({ seed }))) {
          if (updatePredictive(quiet, h.start, h.mean).anomalous) stationaryRaises++;
        }
      }
      predictive.push(
        `| predictive, ${label} | ${leads.map((h) => `${h.toFixed(0)} h`).join(', ')} | ${stationaryRaises} |`,
      );
    }
    lines.push(
      '',
      '| detector | first raise before the crossing (3 seeds) | raises on stationary hourly means |',
      '|---|---|---|',
      ...predictive,
    );
    console.log(lines.join('\n'));
    expect(lines.length).toBeGreaterThan(0);
  },
);
