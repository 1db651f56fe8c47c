/**
 * A rule of a detector kind (rate of change, out of band, anomaly, predictive) as its detector
 * (`detectors/`) takes it: the ruleset's keys turned into the detector's parameters, what feeds it
 * (each reading, and/or the completed hours of the device's readings) and how long its alarm waits to
 * clear. A parameter the detector refuses is reported at the ruleset's own key (`detector.window`,
 * `over`), never at the detector's internal name, so `shardflow rules validate` can point at the line.
 *
 * The mapping, and why:
 * - rate of change: `maxChange` per `per` between a device's consecutive readings; `over` is how far
 *   back the rule looks: the alarm stays until no reading within `over` changed too fast (it clears
 *   once the rate has stayed within the limit for `over`), so a noisy ramp is one episode, not one
 *   per reading.
 * - out of band: the band over the `last` N readings is an exponentially weighted one whose centre of
 *   mass is that of the N readings (weight 2/(N+1), the usual EWMA-for-SMA equivalence), judging
 *   after N readings; the detector keeps 10 slots instead of a ring of N.
 * - anomaly: `robust-z` {window, threshold}, `ewma` {alpha → λ, k → L}, `cusum` {k, h}; `baseline:
 *   hourOfDay` is the detector's hour-of-day baseline with its defaults (7 days before an hour judges,
 *   and no judging until then: a global baseline cannot follow the daily cycle the author asked for).
 * - predictive: the line through the hourly means of the last `over` (whole hours, 3 to 2,000), from
 *   the first full `over`; `>` and `>=` fear a crossing above, `<` and `<=` one below.
 */
import type { Rule, Ruleset } from '../../specs/rules/schema.ts';
import {
  anomalyDetector,
  type Detector,
  DetectorParamError,
  outOfBandDetector,
  predictiveDetector,
  rateOfChangeDetector,
} from './detectors/index.ts';

const HOUR_MS = 3_600_000;

/** The rule kinds a detector judges. */
export const DETECTOR_KINDS = ['rate-of-change', 'out-of-band', 'anomaly', 'predictive'] as const;
export type DetectorRuleKind = (typeof DETECTOR_KINDS)[number];
/** A rule of a detector kind, as the schema gives it. */
export type DetectorRuleSource = Extract<Rule, { kind: DetectorRuleKind }>;

/** What the operator does with a detector rule's readings. */
export interface DetectorPlan {
  readonly detector: Detector<never>;
  /** The detector's parameters. */
  readonly params: object;
  /** Each reading is judged by `update` (all but predictive). */
  readonly perReading: boolean;
  /** The completed hours of readings: `none`, the anomaly's hour cells, or predictive's points. */
  readonly hours: 'none' | 'hour-cells' | 'points';
  /** An active alarm clears once the verdict has stayed normal this long (0: at the first normal one). */
  readonly clearAfterMs: number;
  /** The ruleset key of each detector parameter, for messages. */
  readonly keys: Readonly<Record<string, string>>;
}

/** Whether a rule kind is judged by a detector. */
export function isDetectorKind(kind: string): kind is DetectorRuleKind {
  return (DETECTOR_KINDS as readonly string[]).includes(kind);
}

/** The detector plan of a rule (parameters not yet checked: see {@link detectorIssues}). */
export function planOf(rule: DetectorRuleSource): DetectorPlan {
  switch (rule.kind) {
    case 'rate-of-change':
      return {
        detector: rateOfChangeDetector as Detector<never>,
        params: { maxRate: rule.maxChange, unitMs: rule.per },
        perReading: true,
        hours: 'none',
        clearAfterMs: rule.over,
        keys: { maxRate: 'maxChange', unitMs: 'per' },
      };
    case 'out-of-band':
      return {
        detector: outOfBandDetector as Detector<never>,
        params: {
          k: rule.k,
          halfLifeReadings: Math.LN2 / -Math.log1p(-2 / (rule.last + 1)),
          warmup: rule.last,
        },
        perReading: true,
        hours: 'none',
        clearAfterMs: 0,
        keys: { k: 'k', halfLifeReadings: 'last', warmup: 'last' },
      };
    case 'anomaly': {
      const d = rule.detector;
      const hourOfDay = rule.baseline === 'hourOfDay' ? { hourOfDay: {} } : {};
      const common = {
        perReading: true,
        hours: rule.baseline === 'hourOfDay' ? 'hour-cells' : 'none',
      } as const;
      const detector = anomalyDetector as Detector<never>;
      if (d.method === 'robust-z')
        return {
          ...common,
          detector,
          params: { method: 'robust-z', window: d.window, threshold: d.threshold, ...hourOfDay },
          clearAfterMs: 0,
          keys: { window: 'detector.window', threshold: 'detector.threshold' },
        };
      if (d.method === 'ewma')
        return {
          ...common,
          detector,
          params: { method: 'ewma', lambda: d.alpha, threshold: d.k, ...hourOfDay },
          clearAfterMs: 0,
          keys: { lambda: 'detector.alpha', threshold: 'detector.k' },
        };
      return {
        ...common,
        detector,
        params: { method: 'cusum', k: d.k, threshold: d.h, ...hourOfDay },
        clearAfterMs: 0,
        keys: { k: 'detector.k', threshold: 'detector.h' },
      };
    }
    case 'predictive':
      return {
        detector: predictiveDetector as Detector<never>,
        params: {
          threshold: rule.threshold.value,
          crossing: rule.threshold.op.startsWith('>') ? 'above' : 'below',
          horizonMs: rule.horizon,
          points: rule.over / HOUR_MS,
          minR2: rule.minR2,
        },
        perReading: false,
        hours: 'points',
        clearAfterMs: 0,
        keys: {
          threshold: 'threshold.value',
          horizonMs: 'horizon',
          points: 'over',
          minPoints: 'over',
          minR2: 'minR2',
        },
      };
  }
}

/** A detector parameter a rule cannot have, at the ruleset's key. */
export interface DetectorIssue {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/**
 * The detector rules of a ruleset whose parameters their detector refuses: each at the rule's key,
 * naming the rule. Empty when every detector accepts its rule.
 */
export function detectorIssues(ruleset: Ruleset): DetectorIssue[] {
  const issues: DetectorIssue[] = [];
  ruleset.rules.forEach((rule, i) => {
    if (!isDetectorKind(rule.kind)) return;
    const plan = planOf(rule as DetectorRuleSource);
    try {
      plan.detector.create(plan.params as never);
    } catch (error) {
      if (!(error instanceof DetectorParamError)) throw error;
      const key = plan.keys[error.param] ?? error.param;
      const problem = error.message.replace(`${error.detector}: parameter \`${error.param}\` `, '');
      const said =
        key === 'over' && rule.kind === 'predictive'
          ? `is ${rule.over / HOUR_MS} h: the hourly points it makes ${problem}`
          : problem;
      issues.push({
        path: ['rules', i, ...key.split('.')],
        message: `rule "${rule.id}" (${rule.kind}): ${key} ${said}`,
      });
    }
  });
  return issues;
}
