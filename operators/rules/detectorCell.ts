/**
 * What the rule operator keeps per (detector rule, device) besides the rule's episode state: one
 * `Float64Array`, a head of its own followed by the detector's state (`detectors/`), in one map field
 * so a reading writes one entry. The head holds
 * - a fingerprint of the rule's metric and detector parameters: a new ruleset version that changes
 *   them starts the detector afresh instead of reading slots laid out for other parameters;
 * - the running count, mean and M2 (Welford) of the device's readings in the current event-time hour,
 *   fed to the detector as one hourly mean (predictive) or one hour cell (anomaly by hour of day) once
 *   the hour is complete.
 *
 * Binary, not JSON: the detectors keep −∞ in slots (no reading yet), which JSON cannot carry, and a
 * round trip must be exact for a restored detector to answer as the one snapshotted.
 */
import type { StateCodec } from '../../topology/index.ts';
import {
  anomalyCodec,
  DetectorKind,
  float64Bytes,
  outOfBandCodec,
  predictiveCodec,
  rateOfChangeCodec,
} from './detectors/index.ts';

const FINGERPRINT = 0;
const HOUR_START = 1;
const HOUR_COUNT = 2;
const HOUR_MEAN = 3;
const HOUR_M2 = 4;
/** Slots before the detector's state. */
export const CELL_HEAD = 5;

/** A new cell around a fresh detector state. */
export function newCell(fingerprint: number, detector: Float64Array): Float64Array {
  const cell = new Float64Array(CELL_HEAD + detector.length);
  cell[FINGERPRINT] = fingerprint;
  cell[HOUR_START] = Number.NEGATIVE_INFINITY;
  cell.set(detector, CELL_HEAD);
  return cell;
}

/** The detector's state inside a cell (a view: the detector updates the cell in place). */
export function detectorOf(cell: Float64Array): Float64Array {
  return cell.subarray(CELL_HEAD);
}

/** The fingerprint the cell was made for. */
export function fingerprintOf(cell: Float64Array): number {
  return cell[FINGERPRINT]!;
}

/** FNV-1a (32 bits) of a text: the fingerprint of a rule's metric and detector parameters. */
export function fingerprint(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The hour being accumulated: its start and readings so far (count 0: none open). */
export function openHour(cell: Float64Array): { start: number; count: number } {
  return { start: cell[HOUR_START]!, count: cell[HOUR_COUNT]! };
}

/** Adds a reading of the hour starting at `hourStart` (the open one, or a new one when none is open). */
export function addToHour(cell: Float64Array, hourStart: number, value: number): void {
  if (cell[HOUR_COUNT] === 0) {
    cell[HOUR_START] = hourStart;
    cell[HOUR_MEAN] = 0;
    cell[HOUR_M2] = 0;
  }
  const n = ++cell[HOUR_COUNT]!;
  const delta = value - cell[HOUR_MEAN]!;
  cell[HOUR_MEAN]! += delta / n;
  cell[HOUR_M2]! += delta * (value - cell[HOUR_MEAN]!);
}

/**
 * Closes the open hour: its mean and the (sample) variance of its readings (0 for one reading). The
 * hour's end becomes the earliest start a next hour may have: a reading of a closed hour is not added.
 */
export function closeHour(cell: Float64Array, hourEnd: number): { mean: number; variance: number } {
  const n = cell[HOUR_COUNT]!;
  const closed = { mean: cell[HOUR_MEAN]!, variance: n > 1 ? cell[HOUR_M2]! / (n - 1) : 0 };
  cell[HOUR_START] = hourEnd;
  cell[HOUR_COUNT] = 0;
  cell[HOUR_MEAN] = 0;
  cell[HOUR_M2] = 0;
  return closed;
}

const byKind = new Map<number, StateCodec<Float64Array>>([
  [DetectorKind.rateOfChange, rateOfChangeCodec],
  [DetectorKind.outOfBand, outOfBandCodec],
  [DetectorKind.anomaly, anomalyCodec],
  [DetectorKind.predictive, predictiveCodec],
]);

/** Cells as little-endian doubles; decoding checks the detector's part with the detector's own codec. */
export const detectorCellCodec: StateCodec<Float64Array> = {
  encode: float64Bytes,
  decode(bytes) {
    if (bytes.length <= CELL_HEAD * 8)
      throw new Error(`detector cell: ${bytes.length} bytes is shorter than its head`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const kind = view.getFloat64(CELL_HEAD * 8, true);
    const codec = byKind.get(kind);
    if (codec === undefined) throw new Error(`detector cell: unknown detector kind ${kind}`);
    const detector = codec.decode(bytes.subarray(CELL_HEAD * 8));
    const cell = new Float64Array(CELL_HEAD + detector.length);
    for (let i = 0; i < CELL_HEAD; i++) cell[i] = view.getFloat64(i * 8, true);
    cell.set(detector, CELL_HEAD);
    return cell;
  },
};
