/**
 * The four detectors behind one interface, as the rule operator holds them: by rule kind, each with
 * its parameters, its state's codec and its verdict.
 */
import type { StateCodec } from '../../../topology/index.ts';
import {
  type AnomalyParams,
  type AnomalyVerdict,
  anomalyCodec,
  createAnomaly,
  updateAnomaly,
} from './anomaly.ts';
import {
  createOutOfBand,
  type OutOfBandParams,
  type OutOfBandVerdict,
  outOfBandCodec,
  updateOutOfBand,
} from './outOfBand.ts';
import {
  createPredictive,
  type PredictiveParams,
  type PredictiveVerdict,
  predictiveCodec,
  updatePredictive,
} from './predictive.ts';
import {
  createRateOfChange,
  type RateOfChangeParams,
  type RateOfChangeVerdict,
  rateOfChangeCodec,
  updateRateOfChange,
} from './rateOfChange.ts';
import type { Verdict } from './verdict.ts';

/** One detector: a state from validated parameters, readings judged on it, its bytes for keyed state. */
export interface Detector<P, V extends Verdict = Verdict> {
  /** The rule kind it serves. */
  readonly kind: 'rate-of-change' | 'out-of-band' | 'anomaly' | 'predictive';
  /** Throws `DetectorParamError` naming a bad parameter. */
  create(params: P): Float64Array;
  /**
   * Judges a reading and learns it, in place. `hourOfDay` (the site's time of day in hours,
   * fractional) is read only by an anomaly detector with an hour-of-day baseline; predictive takes
   * hourly means at their hour's start.
   */
  update(state: Float64Array, eventTimeMs: number, value: number, hourOfDay?: number): V;
  readonly codec: StateCodec<Float64Array>;
}

/** Rate of change (`rateOfChange.ts`). */
export const rateOfChangeDetector: Detector<RateOfChangeParams, RateOfChangeVerdict> = {
  kind: 'rate-of-change',
  create: createRateOfChange,
  update: updateRateOfChange,
  codec: rateOfChangeCodec,
};

/** Out of band (`outOfBand.ts`). */
export const outOfBandDetector: Detector<OutOfBandParams, OutOfBandVerdict> = {
  kind: 'out-of-band',
  create: createOutOfBand,
  update: updateOutOfBand,
  codec: outOfBandCodec,
};

/** Anomaly (`anomaly.ts`); its hour cells are fed apart, with `feedAnomalyHour`. */
export const anomalyDetector: Detector<AnomalyParams, AnomalyVerdict> = {
  kind: 'anomaly',
  create: createAnomaly,
  update: updateAnomaly,
  codec: anomalyCodec,
};

/** Predictive (`predictive.ts`). */
export const predictiveDetector: Detector<PredictiveParams, PredictiveVerdict> = {
  kind: 'predictive',
  create: createPredictive,
  update: updatePredictive,
  codec: predictiveCodec,
};
