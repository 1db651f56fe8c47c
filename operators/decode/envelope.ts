/**
 * The two shapes a stream record may have: an ingest envelope (JSON, `v: 1`, payload encoded as
 * utf8, base64 or hex) written by a gateway, or a bare device payload, whose spec's `match` alone
 * decides what it is.
 */
import type { IngestEnvelope, RawRecord } from '../../topology/index.ts';
import { DecodeError } from './errors.ts';

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
  return { envelope: candidate as IngestEnvelope, payload: payloadBytes(candidate as IngestEnvelope) };
}
