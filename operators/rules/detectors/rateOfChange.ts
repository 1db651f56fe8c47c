/**
 * Rate of change: the change per unit of time between a device's consecutive readings of a metric and,
 * optionally, over a span of its last N readings (a slow climb that no single step shows), against a
 * maximum. A reading whose event time is not after the last one is not judged (there is no rate to a
 * reading before or at the same instant) and leaves the state as it was.
 *
 * The state is a ring of the last `span - 1` readings (one without a span), each (time, value).
 */
import { choiceParam, integerParam, knownKeys, numberParam } from './params.ts';
import { DetectorKind, detectorStateCodec, KIND } from './stateCodec.ts';
import { ignoredOf, notJudged, type Verdict } from './verdict.ts';

const NAME = 'rate-of-change';
const DIRECTIONS = ['both', 'rise', 'fall'] as const;

/** Parameters of a rate-of-change detector. */
export interface RateOfChangeParams {
  /** The largest change allowed per `unitMs` (in the metric's unit), > 0. */
  readonly maxRate: number;
  /** The unit of time of the rate, ms (default 1,000: per second). */
  readonly unitMs?: number;
  /** Which changes count: rises, falls or both (default). */
  readonly direction?: (typeof DIRECTIONS)[number];
  /** Also judge the rate over the last `span` readings (2 to 1,000; 2 is the consecutive rate again). */
  readonly span?: number;
  /** The maximum for the span's rate (default `maxRate`). */
  readonly spanMaxRate?: number;
}

/** A rate-of-change verdict: `score` is the rate over its maximum (> 1 is anomalous). */
export interface RateOfChangeVerdict extends Verdict {
  /** Change per `unitMs` since the previous reading; undefined when not judged. */
  readonly rate: number | undefined;
  /** Change per `unitMs` over the span; undefined without a span or before it is full. */
  readonly spanRate: number | undefined;
}

// the layout
const MAX_RATE = 1;
const UNIT_MS = 2;
const DIRECTION = 3;
const SPAN = 4;
const SPAN_MAX_RATE = 5;
const COUNT = 6;
const HEAD = 7;
const RING = 8;

const ringLength = (span: number): number => Math.max(1, span - 1);
const lengthOf = (span: number): number => RING + 2 * ringLength(span);

/** Snapshots rate-of-change states as bytes. */
export const rateOfChangeCodec = detectorStateCodec(NAME, DetectorKind.rateOfChange, (s) =>
  lengthOf(s[SPAN] ?? 0),
);

/** A new rate-of-change state; throws `DetectorParamError` naming a bad parameter. */
export function createRateOfChange(params: RateOfChangeParams): Float64Array {
  knownKeys(NAME, params, ['maxRate', 'unitMs', 'direction', 'span', 'spanMaxRate']);
  const maxRate = numberParam(NAME, 'maxRate', params.maxRate, { min: 0, exclusiveMin: true });
  const unitMs = numberParam(NAME, 'unitMs', params.unitMs, { min: 0, exclusiveMin: true, fallback: 1000 });
  const direction = choiceParam(NAME, 'direction', params.direction, DIRECTIONS, 'both');
  const span = params.span === undefined ? 0 : integerParam(NAME, 'span', params.span, { min: 2, max: 1000 });
  const spanMaxRate = numberParam(NAME, 'spanMaxRate', params.spanMaxRate, {
    min: 0,
    exclusiveMin: true,
    fallback: maxRate,
  });
  const s = new Float64Array(lengthOf(span));
  s[KIND] = DetectorKind.rateOfChange;
  s[MAX_RATE] = maxRate;
  s[UNIT_MS] = unitMs;
  s[DIRECTION] = DIRECTIONS.indexOf(direction);
  s[SPAN] = span;
  s[SPAN_MAX_RATE] = spanMaxRate;
  return s;
}

/** The rate's score against `max` for the direction watched (rises only, falls only, or both). */
function scoreOf(rate: number, max: number, direction: number): number {
  if (direction === 1) return rate > 0 ? rate / max : 0;
  if (direction === 2) return rate < 0 ? -rate / max : 0;
  return Math.abs(rate) / max;
}

/** Judges a reading and remembers it. */
export function updateRateOfChange(s: Float64Array, eventTimeMs: number, value: number): RateOfChangeVerdict {
  const count = s[COUNT]!;
  const ring = ringLength(s[SPAN]!);
  const head = s[HEAD]!;
  const last = RING + 2 * ((head + ring - 1) % ring);
  const ignored = ignoredOf(eventTimeMs, value, count === 0 ? Number.NEGATIVE_INFINITY : s[last]!);
  if (ignored !== undefined)
    return { ...notJudged(count > 0, ignored), rate: undefined, spanRate: undefined };

  let verdict: RateOfChangeVerdict;
  if (count === 0) {
    verdict = { ...notJudged(false), rate: undefined, spanRate: undefined };
  } else {
    const unit = s[UNIT_MS]!;
    const direction = s[DIRECTION]!;
    const rate = ((value - s[last + 1]!) * unit) / (eventTimeMs - s[last]!);
    let score = scoreOf(rate, s[MAX_RATE]!, direction);
    let signed = rate;
    let spanRate: number | undefined;
    if (s[SPAN]! > 0 && count >= ring) {
      const oldest = RING + 2 * head;
      spanRate = ((value - s[oldest + 1]!) * unit) / (eventTimeMs - s[oldest]!);
      const spanScore = scoreOf(spanRate, s[SPAN_MAX_RATE]!, direction);
      if (spanScore > score) {
        score = spanScore;
        signed = spanRate;
      }
    }
    verdict = {
      anomalous: score > 1,
      score,
      direction: score > 1 ? (signed > 0 ? 'level-up' : 'level-down') : undefined,
      ready: true,
      rate,
      spanRate,
    };
  }
  const at = RING + 2 * head;
  s[at] = eventTimeMs;
  s[at + 1] = value;
  s[HEAD] = (head + 1) % ring;
  s[COUNT] = Math.min(count + 1, ring);
  return verdict;
}
