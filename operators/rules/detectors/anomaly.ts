/**
 * Anomaly: spikes, dips and level shifts of a device's metric against its own history, by one of
 * three methods, optionally against an hour-of-day baseline.
 *
 * Every method first standardizes a reading: `e = (value − center) / σ`, where center and σ come from
 * the reading's hour of the day once its cell has `minDays` days (`hourBaseline.ts`; the level moved
 * by detections is added, see below), and otherwise from the method's global baseline:
 * - `robust-z`: the median and MAD (× 1.4826) of a ring of the last `window` readings, exact, kept
 *   sorted beside the ring (`ringMedian.ts`); anomalous when |e| > `threshold`. Spikes and dips.
 * - `ewma`: an exponentially weighted mean and variance (`baselineHalfLife` readings) as the centre
 *   line; the chart `S = λ·e + (1 − λ)·S`, e clipped to ± `clip`, is anomalous beyond ± `threshold`
 *   (L) times its own σ, `sqrt(λ / (2 − λ))`. Level shifts (the clip keeps a lone spike from carrying
 *   S past the limit: spikes are robust-z's).
 * - `cusum`: the same baseline; two-sided `S± = max(0, S± ± e − k)` on e clipped to ± `clip`, so a
 *   lone spike cannot reach `h` (`threshold`) alone; anomalous when either passes h. Level shifts.
 *
 * A chart's detection is a level shift: the chart restarts from 0, the expected level moves to the
 * one the chart estimates (the global baseline's mean, or an offset added to the hour cells, which
 * are then fed hourly means less that offset), and is relearnt fast for a few readings after: the new
 * level becomes normal instead of raising again every few readings, and returning to the old level is
 * the next shift. `robust-z` detects no shifts: with the hour baseline its level follows the
 * residuals instead (winsorized, half-life `window / 2`), as the median of its global ring would.
 *
 * Poisoning: once the baseline is ready, a reading enters it winsorized, clipped to center ± `clip`·σ
 * (the ring of `robust-z` too): a spike weighs no more than a reading at the clip, a lasting level
 * still moves the baseline. The hour cells are fed only hourly means (see `feedAnomalyHour`).
 * Readings whose event time is not after the last one are not judged and not learnt.
 */

import { CHART_STRIDE, cusumStep, ewmaStep } from './charts.ts';
import {
  alphaOfHalfLife,
  clamp,
  EW_STRIDE,
  ewAdd,
  ewCount,
  ewMean,
  ewShift,
  ewSigma,
  flooredSigma,
} from './ewStats.ts';
import { feedHourCell, HOUR_CELLS_LENGTH, hourBaselineAt } from './hourBaseline.ts';
import { choiceParam, DetectorParamError, integerParam, knownKeys, numberParam } from './params.ts';
import { sortedInsert, sortedMedianAndMad, sortedRemove } from './ringMedian.ts';
import { DetectorKind, detectorStateCodec, KIND } from './stateCodec.ts';
import { type Direction, ignoredOf, notJudged, type Verdict } from './verdict.ts';

const NAME = 'anomaly';
const METHODS = ['robust-z', 'ewma', 'cusum'] as const;
const FALLBACKS = ['wait', 'global'] as const;

/** Parameters of an anomaly detector. */
export interface AnomalyParams {
  readonly method: (typeof METHODS)[number];
  /** robust-z: |z| limit (default 6); ewma: L (default 5); cusum: h in σ (default 14). */
  readonly threshold?: number;
  /** robust-z: readings in the ring (5 to 1,024; default 120). */
  readonly window?: number;
  /** ewma: weight λ of the newest reading in the chart, (0, 1] (default 0.2). */
  readonly lambda?: number;
  /** cusum: allowance k in σ (default 0.5). */
  readonly k?: number;
  /** ewma, cusum: half-life of the global baseline, readings (default 1,440). */
  readonly baselineHalfLife?: number;
  /** Readings before the global baseline judges (default: `window` for robust-z, else 120). */
  readonly warmup?: number;
  /** Winsorizing bound in σ for what the baseline learns (default 3). */
  readonly clip?: number;
  /** A floor under σ in the metric's unit (default 0). */
  readonly minSigma?: number;
  /** Judge against the reading's hour of the site's day (`update` is then given it). */
  readonly hourOfDay?: {
    /** Days fed into an hour's cell before it judges (default 7). */
    readonly minDays?: number;
    /** Days a cell remembers, its exponential forgetting (default 28). */
    readonly memoryDays?: number;
    /** Hours whose cell is not ready: not judged (`wait`, default) or judged by the global baseline. */
    readonly fallback?: (typeof FALLBACKS)[number];
  };
}

/** An anomaly verdict: `score` is |e| (robust-z), |S| in the chart's σ (ewma), or max(S+, S−) (cusum). */
export interface AnomalyVerdict extends Verdict {
  /** Whether the reading was judged against its hour's cell. */
  readonly byHour: boolean;
}

// the layout
const METHOD = 1;
const THRESHOLD = 2;
const LAMBDA = 3;
const CUSUM_K = 4;
const WARMUP = 5;
const ALPHA = 6;
const CLIP = 7;
const MIN_SIGMA = 8;
const WINDOW = 9;
const HOURS = 10;
const HOUR_MIN_DAYS = 11;
const HOUR_ALPHA = 12;
const HOUR_FALLBACK = 13;
const LAST_AT = 14;
const CHART = 15; // CHART_STRIDE slots: the chart's sums (charts.ts)
const RING_HEAD = CHART + CHART_STRIDE;
const RING_FILL = RING_HEAD + 1;
const OFFSET = RING_HEAD + 2; // the level added to the hour cells (moved by detections; robust-z follows)
const RELEARN = RING_HEAD + 3; // readings since a detection while the level is relearnt fast (0: not relearning)
const BASELINE = RING_HEAD + 4;
const CELLS = BASELINE + EW_STRIDE;

const ROBUST = 0;
const EWMA = 1;
const CUSUM = 2;

const ringAt = (s: Float64Array): number => CELLS + (s[HOURS]! > 0 ? HOUR_CELLS_LENGTH : 0);
// robust-z: the ring in arrival order, then the same values sorted (ringMedian.ts)
const lengthOf = (window: number, hours: boolean): number =>
  CELLS + (hours ? HOUR_CELLS_LENGTH : 0) + 2 * window;

/** Snapshots anomaly states as bytes. */
export const anomalyCodec = detectorStateCodec(NAME, DetectorKind.anomaly, (s) =>
  lengthOf(s[WINDOW] ?? 0, (s[HOURS] ?? 0) > 0),
);

/** A new anomaly state; throws `DetectorParamError` naming a bad parameter. */
export function createAnomaly(params: AnomalyParams): Float64Array {
  knownKeys(NAME, params, [
    'method',
    'threshold',
    'window',
    'lambda',
    'k',
    'baselineHalfLife',
    'warmup',
    'clip',
    'minSigma',
    'hourOfDay',
  ]);
  const method = METHODS.indexOf(choiceParam(NAME, 'method', params.method, METHODS));
  const only = (param: keyof AnomalyParams, m: number) => {
    if (params[param] !== undefined && method !== m) {
      throw new DetectorParamError(NAME, param, `applies only to method '${METHODS[m]}'`);
    }
  };
  only('window', ROBUST);
  only('lambda', EWMA);
  only('k', CUSUM);
  if (params.baselineHalfLife !== undefined && method === ROBUST) {
    throw new DetectorParamError(
      NAME,
      'baselineHalfLife',
      "does not apply to method 'robust-z' (its ring is `window`)",
    );
  }
  const window =
    method === ROBUST ? integerParam(NAME, 'window', params.window, { min: 5, max: 1024, fallback: 120 }) : 0;
  const positive = { min: 0, exclusiveMin: true };
  const hours = params.hourOfDay;
  const s = new Float64Array(lengthOf(window, hours !== undefined));
  s[KIND] = DetectorKind.anomaly;
  s[METHOD] = method;
  s[THRESHOLD] = numberParam(NAME, 'threshold', params.threshold, {
    ...positive,
    fallback: [6, 5, 14][method]!,
  });
  s[LAMBDA] =
    method === EWMA ? numberParam(NAME, 'lambda', params.lambda, { ...positive, max: 1, fallback: 0.2 }) : 0;
  s[CUSUM_K] = method === CUSUM ? numberParam(NAME, 'k', params.k, { min: 0, fallback: 0.5 }) : 0;
  s[WARMUP] = integerParam(NAME, 'warmup', params.warmup, {
    min: 2,
    max: method === ROBUST ? window : 1e9,
    fallback: method === ROBUST ? window : 120,
  });
  s[ALPHA] = alphaOfHalfLife(
    numberParam(NAME, 'baselineHalfLife', params.baselineHalfLife, { min: 1, max: 1e9, fallback: 1440 }),
  );
  s[CLIP] = numberParam(NAME, 'clip', params.clip, { ...positive, fallback: 3 });
  s[MIN_SIGMA] = numberParam(NAME, 'minSigma', params.minSigma, { min: 0, fallback: 0 });
  s[WINDOW] = window;
  if (hours !== undefined) {
    knownKeys(NAME, hours, ['minDays', 'memoryDays', 'fallback'], 'hourOfDay.');
    s[HOURS] = 1;
    s[HOUR_MIN_DAYS] = integerParam(NAME, 'hourOfDay.minDays', hours.minDays, {
      min: 1,
      max: 365,
      fallback: 7,
    });
    s[HOUR_ALPHA] =
      1 / integerParam(NAME, 'hourOfDay.memoryDays', hours.memoryDays, { min: 1, max: 3650, fallback: 28 });
    s[HOUR_FALLBACK] = FALLBACKS.indexOf(
      choiceParam(NAME, 'hourOfDay.fallback', hours.fallback, FALLBACKS, 'wait'),
    );
  }
  s[LAST_AT] = Number.NEGATIVE_INFINITY;
  return s;
}

/**
 * Feeds one hour of the device's readings (its 1 h window final: mean, and variance of the readings
 * within the hour, 0 when unknown) into the cell of `hourOfDay` (0–23, the site's time).
 */
export function feedAnomalyHour(s: Float64Array, hourOfDay: number, mean: number, variance: number): void {
  if (s[HOURS] !== 1) throw new Error('anomaly: this detector has no hour-of-day baseline');
  if (!Number.isInteger(checkHour(hourOfDay))) {
    throw new RangeError(`anomaly: an hour is fed by its whole hour of the day (got ${hourOfDay})`);
  }
  if (!Number.isFinite(mean) || !Number.isFinite(variance) || variance < 0) return;
  // the cells keep the day's shape about the level detections moved to
  feedHourCell(s, CELLS, hourOfDay, mean - s[OFFSET]!, variance, s[HOUR_ALPHA]!);
}

function checkHour(hourOfDay: number): number {
  if (!(hourOfDay >= 0 && hourOfDay < 24)) {
    throw new RangeError(`anomaly: hourOfDay must be in [0, 24) (got ${hourOfDay})`);
  }
  return hourOfDay;
}

/** Judges a reading (at `hourOfDay` of the site's day when the detector has the hour baseline), then learns it. */
export function updateAnomaly(
  s: Float64Array,
  eventTimeMs: number,
  value: number,
  hourOfDay?: number,
): AnomalyVerdict {
  const method = s[METHOD]!;
  const minSigma = s[MIN_SIGMA]!;
  // the global baseline
  let center: number;
  let sigma: number;
  let ready: boolean;
  if (method === ROBUST) {
    const fill = s[RING_FILL]!;
    ready = fill >= s[WARMUP]!;
    const { median, mad } =
      fill > 0 ? sortedMedianAndMad(s, ringAt(s) + s[WINDOW]!, fill) : { median: 0, mad: 0 };
    center = median;
    sigma = flooredSigma(1.4826 * mad, median, minSigma);
  } else {
    ready = ewCount(s, BASELINE) >= s[WARMUP]!;
    center = ewMean(s, BASELINE);
    sigma = flooredSigma(ewSigma(s, BASELINE), center, minSigma);
  }
  const globalCenter = center;
  const globalSigma = sigma;
  const globalReady = ready;
  // the hour's cell instead, once it has enough days
  let byHour = false;
  if (s[HOURS] === 1) {
    const expected =
      hourOfDay === undefined ? undefined : hourBaselineAt(s, CELLS, checkHour(hourOfDay), s[HOUR_MIN_DAYS]!);
    if (expected !== undefined) {
      byHour = true;
      ready = true;
      center = expected.mean + s[OFFSET]!;
      sigma = flooredSigma(expected.sigma, center, minSigma);
    } else if (s[HOUR_FALLBACK] === 0) {
      ready = false;
    }
  }

  const ignored = ignoredOf(eventTimeMs, value, s[LAST_AT]!);
  if (ignored !== undefined) return { ...notJudged(ready, ignored), byHour };
  s[LAST_AT] = eventTimeMs;

  const e = (value - center) / sigma;
  let score = 0;
  let direction: Direction | undefined;
  if (ready && method === ROBUST) {
    score = Math.abs(e);
    if (score > s[THRESHOLD]!) direction = e > 0 ? 'spike' : 'dip';
    // robust-z has no detection of shifts to move the hour cells' level: it follows the residuals,
    // winsorized, with a half-life of half its window (the time the global ring's median takes)
    if (byHour) s[OFFSET]! += alphaOfHalfLife(s[WINDOW]! / 2) * clamp(e, -s[CLIP]!, s[CLIP]!) * sigma;
  } else if (ready) {
    const clip = s[CLIP]!;
    const step =
      method === EWMA
        ? ewmaStep(s, CHART, e, s[LAMBDA]!, s[THRESHOLD]!, clip)
        : cusumStep(s, CHART, e, s[CUSUM_K]!, s[THRESHOLD]!, clip);
    score = step.score;
    if (step.shift !== 0) {
      direction = step.shift > 0 ? 'level-up' : 'level-down';
      // the new level becomes the expected one
      if (byHour) s[OFFSET]! += step.shift * sigma;
      else ewShift(s, BASELINE, step.shift * sigma);
      s[RELEARN] = RELEARN_FROM;
    } else if (s[RELEARN]! > 0) {
      relearn(s, e, sigma, byHour);
    }
  }
  // a detection may have moved the baseline's mean: winsorize about where it is now
  const learnCenter = method === ROBUST ? globalCenter : ewMean(s, BASELINE);
  learn(s, method, value, globalReady ? learnCenter : Number.NaN, globalSigma);
  return { anomalous: direction !== undefined, score, direction, ready, byHour };
}

/**
 * After a detection the chart's estimate of the new level is off by its noise (a few tenths of σ,
 * enough for a second detection of the same shift some 30–90 readings later): the level then also
 * moves toward each reading by `1 / n`, n counting on from `RELEARN_FROM`, as if it had only been
 * learnt from the readings since, until that weight falls to the baseline's own.
 */
const RELEARN_FROM = 8;

function relearn(s: Float64Array, e: number, sigma: number, byHour: boolean): void {
  const n = ++s[RELEARN]!;
  const clip = s[CLIP]!;
  const step = (clamp(e, -clip, clip) * sigma) / n;
  if (byHour) s[OFFSET]! += step;
  else ewShift(s, BASELINE, step);
  if (1 / n < s[ALPHA]!) s[RELEARN] = 0;
}

/** Folds a judged reading into the global baseline, winsorized about `center` (NaN: not ready, as it is). */
function learn(s: Float64Array, method: number, value: number, center: number, sigma: number): void {
  const bound = s[CLIP]! * sigma;
  const low = Number.isNaN(center) ? Number.NEGATIVE_INFINITY : center - bound;
  const high = Number.isNaN(center) ? Number.POSITIVE_INFINITY : center + bound;
  if (method === ROBUST) {
    const window = s[WINDOW]!;
    const head = s[RING_HEAD]!;
    const ring = ringAt(s);
    const sorted = ring + window;
    const fill = s[RING_FILL]!;
    const x = clamp(value, low, high);
    if (fill === window) {
      sortedRemove(s, sorted, fill, s[ring + head]!);
      sortedInsert(s, sorted, fill - 1, x);
    } else {
      sortedInsert(s, sorted, fill, x);
      s[RING_FILL] = fill + 1;
    }
    s[ring + head] = x;
    s[RING_HEAD] = (head + 1) % window;
  } else {
    ewAdd(s, BASELINE, value, s[ALPHA]!, low, high);
  }
}
