/**
 * The two shapes a stream record may have: an ingest envelope (JSON, `v: 1`, payload encoded as
 * utf8, base64 or hex) written by a gateway, or a bare device payload, whose spec's `match` alone
 * decides what it is.
 */
import type { IngestEnvelope, RawRecord } from '../../topology/index.ts';
import { DecodeError } from './errors.ts';
import { isPlausibleEpoch, isPrintable, quoted } from './storable.ts';

/** A record's payload, with its envelope when it came in one. */
export interface Incoming {
  readonly envelope: IngestEnvelope | undefined;
  readonly payload: Uint8Array;
}

const OPEN_BRACE = 0x7b;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function payloadBytes(envelope: IngestEnvelope): Uint8Array {
  switch (envelope.encoding) {
    case 'utf8':
      return Buffer.from(envelope.payload, 'utf8');
    case 'base64':
      return Buffer.from(envelope.payload, 'base64');
    case 'hex':
      if (!/^([0-9a-fA-F]{2})*$/.test(envelope.payload))
        throw new DecodeError('invalid-envelope', 'hex payload has non-hex characters');
      return Buffer.from(envelope.payload, 'hex');
    default:
      throw new DecodeError(
        'invalid-envelope',
        `unknown payload encoding ${JSON.stringify(envelope.encoding)}`,
      );
  }
}

/** Splits a record into its envelope (if it has one) and its payload bytes. */
export function readIncoming(record: RawRecord): Incoming {
  const data = record.data;
  if (data.length === 0 || data[0] !== OPEN_BRACE) return { envelope: undefined, payload: data };
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(data));
  } catch {
    return { envelope: undefined, payload: data }; // a bare payload that happens to start with '{'
  }
  const candidate = parsed as Partial<IngestEnvelope> | null;
  if (
    candidate === null ||
    typeof candidate !== 'object' ||
    candidate.v !== 1 ||
    typeof candidate.payload !== 'string'
  ) {
    return { envelope: undefined, payload: data };
  }
  checkEnvelopeFields(candidate);
  if (candidate.rejected !== undefined)
    throw new DecodeError(
      'gateway-rejected',
      `the ${candidate.protocol ?? ''} gateway kept these bytes: ${String(candidate.rejected).slice(0, MAX_ENVELOPE_TEXT)}`,
    );
  return { envelope: candidate as IngestEnvelope, payload: payloadBytes(candidate as IngestEnvelope) };
}

const PROTOCOLS: ReadonlySet<unknown> = new Set(['mqtt', 'tcp', 'rest', 'file']);
/** The longest topic, source or product id an envelope may carry (AWS IoT topics are at most 256 bytes). */
const MAX_ENVELOPE_TEXT = 1024;

/**
 * The envelope's optional fields have the types and ranges the stores expect: they end up in
 * telemetry (the receive time, the topic, ids taken from the topic or the source).
 */
function checkEnvelopeFields(e: Partial<IngestEnvelope>): void {
  if (e.protocol !== undefined && !PROTOCOLS.has(e.protocol))
    throw new DecodeError(
      'invalid-envelope',
      `protocol ${quoted(String(e.protocol))} is not mqtt, tcp, rest or file`,
    );
  if (e.receivedAt !== undefined && !isPlausibleEpoch(e.receivedAt))
    throw new DecodeError(
      'invalid-envelope',
      `receivedAt ${quoted(JSON.stringify(e.receivedAt))} is not an epoch in milliseconds between 2000 and 2100`,
    );
  for (const key of ['topic', 'source', 'productId', 'rejected'] as const) {
    const value: unknown = e[key];
    if (value === undefined) continue;
    if (typeof value !== 'string')
      throw new DecodeError('invalid-envelope', `${key} is a ${typeof value}, not a string`);
    if (value.length > MAX_ENVELOPE_TEXT || !isPrintable(value))
      throw new DecodeError(
        'invalid-envelope',
        `${key} ${quoted(value)} is longer than ${MAX_ENVELOPE_TEXT} characters or holds unprintable characters`,
      );
  }
}
