/**
 * Predictive: when will a device's metric cross a threshold, from the least-squares line through its
 * last N hourly means. Raised when the line is good enough (r² ≥ `minR2`), points toward the
 * threshold, and reaches it within `horizonMs` of the newest point (at once when the line is already
 * past it).
 *
 * The state is a ring of the last N points (time, mean) and the running sums of the fit over them
 * (Σx, Σy, Σx², Σxy, Σy²), x counted in `stepMs` from an anchor: a point entering adds to the sums and
 * the one it pushes out is taken off. Every N points the anchor moves to the newest point and the
 * sums are recomputed from the ring, so rounding cannot build up and x stays small.
 *
 * A point whose time is the newest's, or that of a point still in the ring, revises that point (a
 * window's final revised by late readings); an older point is ignored.
 */
import { choiceParam, integerParam, knownKeys, numberParam } from './params.ts';
import { DetectorKind, detectorStateCodec, KIND } from './stateCodec.ts';
import { notJudged, type Verdict } from './verdict.ts';

const NAME = 'predictive';
const CROSSINGS = ['above', 'below'] as const;

/** Parameters of a predictive detector. */
export interface PredictiveParams {
  readonly threshold: number;
  /** Whether the metric is feared to go above or below the threshold. */
  readonly crossing: (typeof CROSSINGS)[number];
  /** Raise when the predicted crossing is at most this far ahead, ms. */
  readonly horizonMs: number;
  /** Points in the fit (3 to 2,000; default 48). */
  readonly points?: number;
  /** Points before the detector judges (3 to `points`; default `points`). */
  readonly minPoints?: number;
  /** The least r² of the fit to raise, [0, 1] (default 0.8). */
  readonly minR2?: number;
  /** The spacing of the points, ms (default 3,600,000: hourly means); the unit of `slope`. */
  readonly stepMs?: number;
}

/** A predictive verdict: `score` is `horizonMs` over the time to the crossing (> 1 within the horizon). */
export interface PredictiveVerdict extends Verdict {
  /** Time from the newest point until the line crosses, ms; undefined when it heads away or is flat. */
  readonly timeToCrossMs: number | undefined;
  /** Change per `stepMs` of the line; undefined before two points. */
  readonly slope: number | undefined;
  readonly r2: number | undefined;
}

// the layout
const THRESHOLD = 1;
const CROSSING = 2;
const HORIZON_MS = 3;
const POINTS = 4;
const MIN_POINTS = 5;
const MIN_R2 = 6;
const STEP_MS = 7;
const ANCHOR = 8;
const HEAD = 9;
const FILL = 10;
const SX = 11;
const SY = 12;
const SXX = 13;
const SXY = 14;
const SYY = 15;
const SINCE_REBASE = 16;
const RING = 17;

const lengthOf = (points: number): number => RING + 2 * points;

/** Snapshots predictive states as bytes. */
export const predictiveCodec = detectorStateCodec(NAME, DetectorKind.predictive, (s) =>
  lengthOf(s[POINTS] ?? 0),
);

/** A new predictive state; throws `DetectorParamError` naming a bad parameter. */
export function createPredictive(params: PredictiveParams): Float64Array {
  knownKeys(NAME, params, ['threshold', 'crossing', 'horizonMs', 'points', 'minPoints', 'minR2', 'stepMs']);
  const threshold = numberParam(NAME, 'threshold', params.threshold, {});
  const crossing = choiceParam(NAME, 'crossing', params.crossing, CROSSINGS);
  const horizonMs = numberParam(NAME, 'horizonMs', params.horizonMs, { min: 0, exclusiveMin: true });
  const points = integerParam(NAME, 'points', params.points, { min: 3, max: 2000, fallback: 48 });
  const s = new Float64Array(lengthOf(points));
  s[KIND] = DetectorKind.predictive;
  s[THRESHOLD] = threshold;
  s[CROSSING] = CROSSINGS.indexOf(crossing);
  s[HORIZON_MS] = horizonMs;
  s[POINTS] = points;
  s[MIN_POINTS] = integerParam(NAME, 'minPoints', params.minPoints, {
    min: 3,
    max: points,
    fallback: points,
  });
  s[MIN_R2] = numberParam(NAME, 'minR2', params.minR2, { min: 0, max: 1, fallback: 0.8 });
  s[STEP_MS] = numberParam(NAME, 'stepMs', params.stepMs, {
    min: 0,
    exclusiveMin: true,
    fallback: 3_600_000,
  });
  return s;
}

/** Adds (or revises) a point, the mean of the step at `eventTimeMs`, and judges the line through the ring. */
export function updatePredictive(s: Float64Array, eventTimeMs: number, value: number): PredictiveVerdict {
  const n = s[POINTS]!;
  const fill = s[FILL]!;
  const ready = fill >= s[MIN_POINTS]!;
  const none = { timeToCrossMs: undefined, slope: undefined, r2: undefined };
  if (!Number.isFinite(value) || !Number.isFinite(eventTimeMs))
    return { ...notJudged(ready, 'not-finite'), ...none };
  const newest = RING + 2 * ((s[HEAD]! + n - 1) % n);
  if (fill === 0 || eventTimeMs > s[newest]!) {
    add(s, eventTimeMs, value);
  } else {
    const at = find(s, eventTimeMs);
    if (at < 0) return { ...notJudged(ready, 'out-of-order'), ...none };
    revise(s, at, value);
  }
  return judge(s);
}

function xOf(s: Float64Array, t: number): number {
  return (t - s[ANCHOR]!) / s[STEP_MS]!;
}

function addToSums(s: Float64Array, x: number, y: number, sign: number): void {
  s[SX]! += sign * x;
  s[SY]! += sign * y;
  s[SXX]! += sign * x * x;
  s[SXY]! += sign * x * y;
  s[SYY]! += sign * y * y;
}

function add(s: Float64Array, t: number, y: number): void {
  const n = s[POINTS]!;
  const head = s[HEAD]!;
  const at = RING + 2 * head;
  if (s[FILL]! === 0) s[ANCHOR] = t;
  if (s[FILL]! === n) addToSums(s, xOf(s, s[at]!), s[at + 1]!, -1);
  s[at] = t;
  s[at + 1] = y;
  addToSums(s, xOf(s, t), y, 1);
  s[HEAD] = (head + 1) % n;
  s[FILL] = Math.min(n, s[FILL]! + 1);
  if (++s[SINCE_REBASE]! >= n) rebase(s, t);
}

/** Moves the anchor to `t` and recomputes the sums from the ring. */
function rebase(s: Float64Array, t: number): void {
  s[ANCHOR] = t;
  s[SX] = s[SY] = s[SXX] = s[SXY] = s[SYY] = 0;
  s[SINCE_REBASE] = 0;
  const fill = s[FILL]!;
  for (let i = 0; i < fill; i++) addToSums(s, xOf(s, s[RING + 2 * i]!), s[RING + 2 * i + 1]!, 1);
}

function find(s: Float64Array, t: number): number {
  const fill = s[FILL]!;
  for (let i = 0; i < fill; i++) if (s[RING + 2 * i] === t) return RING + 2 * i;
  return -1;
}

function revise(s: Float64Array, at: number, y: number): void {
  addToSums(s, xOf(s, s[at]!), s[at + 1]!, -1);
  s[at + 1] = y;
  addToSums(s, xOf(s, s[at]!), y, 1);
}

function judge(s: Float64Array): PredictiveVerdict {
  const fill = s[FILL]!;
  const ready = fill >= s[MIN_POINTS]!;
  const sxx = s[SXX]! - (s[SX]! * s[SX]!) / fill;
  if (fill < 2 || !(sxx > 0))
    return { ...notJudged(ready), timeToCrossMs: undefined, slope: undefined, r2: undefined };
  const sxy = s[SXY]! - (s[SX]! * s[SY]!) / fill;
  const syy = s[SYY]! - (s[SY]! * s[SY]!) / fill;
  const slope = sxy / sxx;
  const r2 = syy > 0 ? Math.min(1, (sxy * sxy) / (sxx * syy)) : 0;
  const newest = RING + 2 * ((s[HEAD]! + s[POINTS]! - 1) % s[POINTS]!);
  const xNow = xOf(s, s[newest]!);
  const predicted = s[SY]! / fill + slope * (xNow - s[SX]! / fill);
  const threshold = s[THRESHOLD]!;
  const above = s[CROSSING] === 0;
  const toward = above ? slope > 0 : slope < 0;
  let timeToCrossMs: number | undefined;
  if (toward) {
    const past = above ? predicted >= threshold : predicted <= threshold;
    timeToCrossMs = past ? 0 : ((threshold - predicted) / slope) * s[STEP_MS]!;
  }
  const horizon = s[HORIZON_MS]!;
  const anomalous = ready && timeToCrossMs !== undefined && timeToCrossMs <= horizon && r2 >= s[MIN_R2]!;
  return {
    anomalous,
    score: timeToCrossMs === undefined ? 0 : horizon / Math.max(timeToCrossMs, 1),
    direction: anomalous ? (above ? 'level-up' : 'level-down') : undefined,
    ready,
    timeToCrossMs,
    slope,
    r2,
  };
}
