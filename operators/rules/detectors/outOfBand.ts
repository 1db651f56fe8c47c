/**
 * Out of band: a reading outside mean ± k·σ of the device's recent readings of a metric, the mean and
 * variance exponentially weighted with a half-life counted in readings or in event time.
 *
 * Poisoning: a reading is folded into the band winsorized, clipped to the band's edge, so a spike
 * moves the band no more than a reading at its edge would, while a lasting change of level still
 * widens and moves it (by at most k·σ per reading's weight) until the band holds it again. The edge
 * is widened by `1 / (1 − weight)`: with a half-life in time, a reading after a long silence (weight
 * near 1) is not clipped to a band that is mostly forgotten. During warm-up readings are folded in
 * as they are (there is no band yet to clip to): a spike then widens the band for a few half-lives.
 */
import { alphaOfHalfLife, EW_STRIDE, ewAdd, ewCount, ewMean, ewSigma, flooredSigma } from './ewStats.ts';
import { DetectorParamError, integerParam, knownKeys, numberParam } from './params.ts';
import { DetectorKind, detectorStateCodec, KIND } from './stateCodec.ts';
import { ignoredOf, notJudged, type Verdict } from './verdict.ts';

const NAME = 'out-of-band';

/** Parameters of an out-of-band detector: exactly one of the two half-lives. */
export interface OutOfBandParams {
  /** Half-width of the band in standard deviations, > 0. */
  readonly k: number;
  /** The weight of a reading halves after this many later readings. */
  readonly halfLifeReadings?: number;
  /** The weight of a reading halves after this much event time, ms. */
  readonly halfLifeMs?: number;
  /** Readings folded in before the band judges (default 30, at least 2). */
  readonly warmup?: number;
  /** A floor under σ, in the metric's unit (default 0): a flat signal then tolerates this much. */
  readonly minSigma?: number;
}

/** An out-of-band verdict: `score` is the distance from the mean in σ (> k is anomalous). */
export interface OutOfBandVerdict extends Verdict {
  readonly mean: number;
  readonly sigma: number;
}

// the layout
const K = 1;
const ALPHA = 2;
const HALF_LIFE_MS = 3;
const WARMUP = 4;
const MIN_SIGMA = 5;
const LAST_AT = 6;
const STATS = 7;
const LENGTH = STATS + EW_STRIDE;

/** Snapshots out-of-band states as bytes. */
export const outOfBandCodec = detectorStateCodec(NAME, DetectorKind.outOfBand, () => LENGTH);

/** A new out-of-band state; throws `DetectorParamError` naming a bad parameter. */
export function createOutOfBand(params: OutOfBandParams): Float64Array {
  knownKeys(NAME, params, ['k', 'halfLifeReadings', 'halfLifeMs', 'warmup', 'minSigma']);
  const k = numberParam(NAME, 'k', params.k, { min: 0, exclusiveMin: true });
  if ((params.halfLifeReadings === undefined) === (params.halfLifeMs === undefined)) {
    throw new DetectorParamError(
      NAME,
      'halfLifeReadings',
      'or `halfLifeMs` must be given, not both nor neither',
    );
  }
  const s = new Float64Array(LENGTH);
  s[KIND] = DetectorKind.outOfBand;
  s[K] = k;
  if (params.halfLifeReadings !== undefined) {
    s[ALPHA] = alphaOfHalfLife(
      numberParam(NAME, 'halfLifeReadings', params.halfLifeReadings, { min: 1, max: 1e9 }),
    );
  } else {
    s[HALF_LIFE_MS] = numberParam(NAME, 'halfLifeMs', params.halfLifeMs, { min: 1, max: 1e13 });
  }
  s[WARMUP] = integerParam(NAME, 'warmup', params.warmup, { min: 2, max: 1e9, fallback: 30 });
  s[MIN_SIGMA] = numberParam(NAME, 'minSigma', params.minSigma, { min: 0, fallback: 0 });
  s[LAST_AT] = Number.NEGATIVE_INFINITY;
  return s;
}

/** Judges a reading against the band, then folds it in. */
export function updateOutOfBand(s: Float64Array, eventTimeMs: number, value: number): OutOfBandVerdict {
  const ready = ewCount(s, STATS) >= s[WARMUP]!;
  const mean = ewMean(s, STATS);
  const sigma = flooredSigma(ewSigma(s, STATS), mean, s[MIN_SIGMA]!);
  const ignored = ignoredOf(eventTimeMs, value, s[LAST_AT]!);
  if (ignored !== undefined) return { ...notJudged(ready, ignored), mean, sigma };

  const halfLifeMs = s[HALF_LIFE_MS]!;
  const alpha = halfLifeMs > 0 ? 1 - 2 ** (-(eventTimeMs - s[LAST_AT]!) / halfLifeMs) : s[ALPHA]!;
  // what the band forgot since the last reading is not held against this one: after a long silence
  // (alpha near 1) the reading is barely clipped and the band relearns
  const width = alpha < 1 ? (s[K]! * sigma) / (1 - alpha) : Number.POSITIVE_INFINITY;
  const score = ready ? Math.abs(value - mean) / sigma : 0;
  ewAdd(s, STATS, value, alpha, ready ? mean - width : -Infinity, ready ? mean + width : Infinity);
  s[LAST_AT] = eventTimeMs;
  const anomalous = ready && score > s[K]!;
  return {
    anomalous,
    score,
    direction: anomalous ? (value > mean ? 'spike' : 'dip') : undefined,
    ready,
    mean,
    sigma,
  };
}
