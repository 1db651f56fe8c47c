/**
 * Why a record could not become telemetry: a stable reason code (for dashboards, alerts and
 * `dlq list --reason`) and a human message. Decoders throw {@link DecodeError}; the decode operator
 * turns it into a dead letter. Anything else thrown is a bug and fails the worker.
 */

/** Stable reason codes of dead letters from decoding and validation. */
export const REASON_CODES = [
  'no-spec', // no spec matches the record
  'payload-too-large', // over the spec's maxBytes
  'invalid-envelope', // the ingest envelope is not valid
  'gateway-rejected', // a gateway could not take the bytes as a message (broken framing); its reason in the message
  'invalid-hex-text', // a hex-text payload has non-hex characters or an odd length
  'truncated', // the frame ends before a field, group or value
  'trailing-bytes', // bytes left after the last field
  'checksum-mismatch',
  'invalid-utf8',
  'invalid-json',
  'invalid-csv',
  'missing-field', // a field the spec maps is absent
  'bad-value', // a value cannot be read as its type (NaN, BCD digit > 9, …)
  'unknown-key', // a key-value key the spec does not know (unknownKeys: reject)
  'bad-timestamp',
  'no-device-id',
  'invalid-id', // a device or hub id that is too long, unprintable or off the configured pattern
  'bad-id-bytes', // an id read from ASCII bytes that are empty (NUL or spaces only) or hold control characters
  'invalid-text', // a text metric a store cannot hold (NUL, control characters, broken UTF-16, too long)
  'contract-missing', // a required metric is absent
  'contract-type',
  'contract-range',
  'contract-allowed',
  'contract-id', // a device id off the contract's deviceId rule (pattern, minLength, maxLength)
  'clock-skew', // timestamp too far in the future or too old
] as const;
/** One of {@link REASON_CODES}. */
export type ReasonCode = (typeof REASON_CODES)[number];

/** A record that cannot be decoded or breaks its contract. */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  constructor(
    readonly code: ReasonCode,
    message: string,
  ) {
    super(message);
  }
}
