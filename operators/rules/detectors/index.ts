/**
 * The per-device detectors behind the rule kinds rate of change, out of band, anomaly and predictive:
 * pure functions over a fixed-size `Float64Array` state per (device, metric), each with its codec for
 * keyed state. See `README.md`.
 */
export {
  type AnomalyParams,
  type AnomalyVerdict,
  anomalyCodec,
  createAnomaly,
  feedAnomalyHour,
  updateAnomaly,
} from './anomaly.ts';
export {
  anomalyDetector,
  type Detector,
  outOfBandDetector,
  predictiveDetector,
  rateOfChangeDetector,
} from './detectors.ts';
export {
  createOutOfBand,
  type OutOfBandParams,
  type OutOfBandVerdict,
  outOfBandCodec,
  updateOutOfBand,
} from './outOfBand.ts';
export { DetectorParamError } from './params.ts';
export {
  createPredictive,
  type PredictiveParams,
  type PredictiveVerdict,
  predictiveCodec,
  updatePredictive,
} from './predictive.ts';
export {
  createRateOfChange,
  type RateOfChangeParams,
  type RateOfChangeVerdict,
  rateOfChangeCodec,
  updateRateOfChange,
} from './rateOfChange.ts';
export { DetectorKind, float64Bytes, float64Slots } from './stateCodec.ts';
export type { Direction, Ignored, Verdict } from './verdict.ts';
