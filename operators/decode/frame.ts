/**
 * What every format compiler produces: a function from payload bytes to decoded records (one frame
 * may hold several: repeated groups, JSON arrays of readings, CSV rows). Compiled once per spec
 * version; the per-record path never looks at the spec's YAML tree again.
 */

/** A decoded value. */
export type FieldValue = number | string | boolean | null;

/** One decoded record: field name → value (`undefined`: the field said "not available"; the metric is absent). */
export type DecodedFields = Record<string, FieldValue | undefined>;

/**
 * Decodes one payload; throws `DecodeError` (with a reason code) for anything it cannot decode.
 * A binary decoder compiled with a projection returns records of the kept fields only and leaves
 * the other wanted values in `aux` (record `i`'s at `i * width`), valid until its next call.
 */
export interface FrameDecoder {
  (payload: Uint8Array): DecodedFields[];
  aux?: FieldValue[];
}
