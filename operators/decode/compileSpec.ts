/**
 * Compiles a whole spec once: its match, its format decoder, its timestamp readers, its id
 * sources, its metric list and its contract. The result turns one record into standard telemetry
 * (several, when one frame carries several readings) with no further look at the spec's tree.
 *
 * The step from decoded fields to telemetry is generated per spec (see `telemetryBuilder.ts`): the
 * metrics object is one object literal of the spec's metric names, the telemetry one literal of a
 * fixed shape, ids and times read by named property loads.
 */
import type { Format, Spec } from '../../specs/schema.ts';
import type { RawRecord, RawRef, Telemetry } from '../../topology/index.ts';
import { compileContract } from './contract.ts';
import type { Incoming } from './envelope.ts';
import { DecodeError } from './errors.ts';
import type { Projection } from './formats/binaryFields.ts';
import { compileCsv } from './formats/csv.ts';
import { compileHex } from './formats/hex.ts';
import { compileHybrid } from './formats/hybrid.ts';
import { compileJson } from './formats/json.ts';
import { compileKv } from './formats/kv.ts';
import type { FrameDecoder } from './frame.ts';
import { compileMatch, topicIds } from './match.ts';
import { compileTelemetryBuilder, fieldNamesOf, projectionOf } from './telemetryBuilder.ts';

/** A spec ready to decode records. */
export interface CompiledSpec {
  readonly spec: Spec;
  /** Whether the record meets the spec's own `match` conditions (the registry route aside). */
  matches(incoming: Incoming): boolean;
  /** The record's telemetry; throws `DecodeError` when it cannot be decoded or breaks the contract. */
  decode(record: RawRecord, incoming: Incoming, now: number): Telemetry[];
}

/**
 * Where a record's telemetry came from: stream position and partition key, envelope, and the spec
 * and its version.
 */
export function rawRefOf(record: RawRecord, envelope: Incoming['envelope'], spec: Spec): RawRef {
  return {
    // a bare payload (no envelope) comes from the TCP gateway, the one that writes raw frames
    protocol: envelope?.protocol ?? 'tcp',
    topic: envelope?.topic,
    format: spec.format.type,
    stream: record.stream,
    shardId: record.shardId,
    sequenceNumber: record.sequenceNumber,
    subSequenceNumber: record.subSequenceNumber,
    partitionKey: record.partitionKey,
    specId: spec.id,
    specVersion: spec.version,
  };
}

/**
 * The frame decoder of a format. With a projection, each record is built as exactly its metrics
 * object, and the id and time fields are left in the decoder's `aux`.
 */
function compileFormat(format: Format, projection?: Projection): FrameDecoder {
  switch (format.type) {
    case 'hex':
      return compileHex(format, projection);
    case 'kv':
      return compileKv(format, projection);
    case 'hybrid':
      return compileHybrid(format, projection);
    case 'json':
      return compileJson(format, projection);
    case 'csv':
      return compileCsv(format, projection);
  }
}

const HEX_TEXT = /^([0-9a-fA-F]{2})*$/;
const latin1 = new TextDecoder('latin1');

/** Compiles a validated spec. */
export function compileSpec(spec: Spec): CompiledSpec {
  const match = compileMatch(spec.match);
  const fields = fieldNamesOf(spec.format);
  const projection = projectionOf(spec, fields);
  const decodeFrame = compileFormat(spec.format, projection);
  const build = compileTelemetryBuilder(spec, fields, compileContract(spec.contract), true);
  const auxWidth = projection.aux.length;
  const { maxBytes, encoding } = spec.payload;
  const { deviceId, hubId } = spec.telemetry;
  const needsTopic = deviceId.from === 'topic' || hubId?.from === 'topic';

  return {
    spec,
    matches: match.test,
    decode(record, incoming, now) {
      let payload = incoming.payload;
      if (payload.length > maxBytes) {
        throw new DecodeError(
          'payload-too-large',
          `payload of ${payload.length} bytes is over the limit of ${maxBytes}`,
        );
      }
      if (encoding === 'hex-text') {
        const text = latin1.decode(payload).trim();
        if (!HEX_TEXT.test(text))
          throw new DecodeError('invalid-hex-text', 'payload is not an even number of hex digits');
        payload = Buffer.from(text, 'hex');
      }
      const envelope = incoming.envelope;
      const topic = needsTopic ? topicIds(envelope?.topic, match.topic) : undefined;
      const ingest = envelope?.receivedAt ?? record.arrivedAt;
      const frames = decodeFrame(payload);
      const out: Telemetry[] = new Array(frames.length);
      // one rawRef for all the records of a frame: they share their stream position
      const rawRef = rawRefOf(record, envelope, spec);
      for (let i = 0; i < frames.length; i++) {
        out[i] = build(frames[i]!, topic, envelope, ingest, now, rawRef, decodeFrame.aux, i * auxWidth);
      }
      return out;
    },
  };
}
