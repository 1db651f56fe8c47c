/**
 * The two control charts of the anomaly detector, on standardized readings `e`, each step on
 * `CHART_STRIDE` slots of a state. Both take e clipped to ± clip (a lone spike cannot carry a chart
 * past its limit: spikes are the robust z-score's) and both answer a detection with the level they
 * estimate the signal has moved to, which the detector makes its new expected level.
 */
import { clamp } from './ewStats.ts';

// the layout: the EWMA chart uses the first and third slots
const SUM_UP = 0; // the EWMA chart's S, or CUSUM's S+
const SUM_DOWN = 1;
const RUN_UP = 2;
const RUN_DOWN = 3;

/** Slots of one chart. */
export const CHART_STRIDE = 4;

/** What a chart step found: its score, and the estimated new level in σ from the centre (0: none). */
export interface ChartStep {
  readonly score: number;
  readonly shift: number;
}

/**
 * One EWMA chart step: `S = λ·e + (1 − λ)·S`, its score |S| over the chart's σ `sqrt(λ / (2 − λ))`,
 * a detection past `limit` (L). On a detection the chart restarts from 0 and the shift is the chart's
 * value corrected for the readings it took to move (`S / (1 − (1 − λ)^n)`, n readings since S last
 * changed sign: the chart of a step of size d after n readings is d·(1 − (1 − λ)^n)).
 */
export function ewmaStep(
  d: Float64Array,
  o: number,
  e: number,
  lambda: number,
  limit: number,
  clip: number,
): ChartStep {
  const previous = d[o + SUM_UP]!;
  const chart = lambda * clamp(e, -clip, clip) + (1 - lambda) * previous;
  const run = chart > 0 === previous > 0 ? d[o + RUN_UP]! + 1 : 1;
  const score = Math.abs(chart) / Math.sqrt(lambda / (2 - lambda));
  if (score <= limit) {
    d[o + SUM_UP] = chart;
    d[o + RUN_UP] = run;
    return { score, shift: 0 };
  }
  d[o + SUM_UP] = 0;
  d[o + RUN_UP] = 0;
  return { score, shift: chart / (1 - (1 - lambda) ** run) };
}

/**
 * One two-sided CUSUM step: `S± = max(0, S± ± e − k)`, its score the larger sum, a detection past `h`.
 * On a detection both sums restart from 0 and the shift is the level the sum that passed h estimates:
 * `k + S / n`, n readings since it left 0.
 */
export function cusumStep(
  d: Float64Array,
  o: number,
  e: number,
  k: number,
  h: number,
  clip: number,
): ChartStep {
  const x = clamp(e, -clip, clip);
  const up = Math.max(0, d[o + SUM_UP]! + x - k);
  const down = Math.max(0, d[o + SUM_DOWN]! - x - k);
  const runUp = up > 0 ? d[o + RUN_UP]! + 1 : 0;
  const runDown = down > 0 ? d[o + RUN_DOWN]! + 1 : 0;
  const score = Math.max(up, down);
  if (score <= h) {
    d[o + SUM_UP] = up;
    d[o + SUM_DOWN] = down;
    d[o + RUN_UP] = runUp;
    d[o + RUN_DOWN] = runDown;
    return { score, shift: 0 };
  }
  d[o + SUM_UP] = 0;
  d[o + SUM_DOWN] = 0;
  d[o + RUN_UP] = 0;
  d[o + RUN_DOWN] = 0;
  return { score, shift: up >= down ? k + up / runUp : -(k + down / runDown) };
}
