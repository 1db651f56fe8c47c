/**
 * What every detector answers for one reading, and the check of a reading's order they share. A
 * verdict is plain data the rule operator reads once and drops; a detector's memory is only its
 * `Float64Array` state.
 */

/** Which way a reading departs: a short excursion (`spike`, `dip`) or a move of the level. */
export type Direction = 'spike' | 'dip' | 'level-up' | 'level-down';

/**
 * Why a reading was not judged: its event time is before (`out-of-order`) or at (`duplicate`) the
 * last one judged, or its value is not a finite number (`not-finite`).
 */
export type Ignored = 'out-of-order' | 'duplicate' | 'not-finite';

/** A detector's answer for one reading. */
export interface Verdict {
  /** Never true while `ready` is false. */
  readonly anomalous: boolean;
  /** How far the reading is from normal, in the detector's own unit (see each detector); 0 when not judged. */
  readonly score: number;
  readonly direction: Direction | undefined;
  /** False during warm-up: the detector has not seen enough to judge. */
  readonly ready: boolean;
  /** Set when the reading was not judged because of its event time (the state is then unchanged). */
  readonly ignored?: Ignored;
}

/** The verdict on a reading that was not judged. */
export function notJudged(ready: boolean, ignored?: Ignored): Verdict {
  return ignored === undefined
    ? { anomalous: false, score: 0, direction: undefined, ready }
    : { anomalous: false, score: 0, direction: undefined, ready, ignored };
}

/** Why a reading at `eventTimeMs` after one at `lastMs` is not judged, or `undefined` when it is. */
export function ignoredOf(eventTimeMs: number, value: number, lastMs: number): Ignored | undefined {
  if (!Number.isFinite(value) || !Number.isFinite(eventTimeMs)) return 'not-finite';
  if (eventTimeMs > lastMs) return undefined;
  return eventTimeMs === lastMs ? 'duplicate' : 'out-of-order';
}
