/**
 * Compiles a whole spec once: its match, its format decoder, its timestamp readers, its id
 * sources, its metric list and its contract. The result turns one record into standard telemetry
 * (several, when one frame carries several readings) with no further look at the spec's tree.
 */
import type { Format, Spec } from '../../specs/schema.ts';
import type { RawRecord, RawRef, Telemetry } from '../../topology/index.ts';
import { compileContract } from './contract.ts';
import type { Incoming } from './envelope.ts';
import { DecodeError } from './errors.ts';
import { compileFields } from './formats/binaryFields.ts';
import { compileCsv } from './formats/csv.ts';
import { compileHex } from './formats/hex.ts';
import { compileHybrid } from './formats/hybrid.ts';
import { compileJson } from './formats/json.ts';
import { compileKv } from './formats/kv.ts';
import type { DecodedFields, FieldValue, FrameDecoder } from './frame.ts';
import { compileMatch, type TopicIds, topicIds } from './match.ts';
import { compileTimestamp } from './timestamps.ts';

/** A spec ready to decode records. */
export interface CompiledSpec {
  readonly spec: Spec;
  matches(incoming: Incoming): boolean;
  /** The record's telemetry; throws `DecodeError` when it cannot be decoded or breaks the contract. */
  decode(record: RawRecord, incoming: Incoming, now: number): Telemetry[];
}

/** Where a record's telemetry came from: stream position, envelope, and the spec and its version. */
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
    specId: spec.id,
    specVersion: spec.version,
  };
}

/** The frame decoder of a format. */
export function compileFormat(format: Format): FrameDecoder {
  switch (format.type) {
    case 'hex':
      return compileHex(format);
    case 'kv':
      return compileKv(format);
    case 'hybrid':
      return compileHybrid(format);
    case 'json':
      return compileJson(format);
    case 'csv':
      return compileCsv(format);
  }
}

type IdReader = (
  fields: DecodedFields,
  topic: TopicIds | undefined,
  incoming: Incoming,
) => string | undefined;

function compileId(source: Spec['telemetry']['deviceId']): { read: IdReader; field?: string } {
  switch (source.from) {
    case 'topic':
      return { read: (_f, topic) => (source.part === 'hub' ? topic?.hub : topic?.device) };
    case 'envelope':
      return { read: (_f, _t, incoming) => incoming.envelope?.source };
    case 'field':
      return {
        field: source.field,
        read: (fields) => {
          const value = fields[source.field];
          return value === undefined || value === null || value === '' ? undefined : String(value);
        },
      };
  }
}

/**
 * The names of the fields every record of a format carries, when the format fixes them: hex and
 * hybrid frames always decode the same fields. (Key-value, JSON and CSV records carry what the
 * payload has.)
 */
function staticFieldNames(format: Format): readonly string[] | undefined {
  if (format.type === 'hex') {
    const header = compileFields(format.fields).names;
    return format.repeat ? [...header, ...compileFields(format.repeat.fields).names] : header;
  }
  if (format.type === 'hybrid')
    return format.segments.flatMap((segment) => compileFields(segment.fields).names);
  return undefined;
}

/**
 * Picks a record's metrics out of its decoded fields. Where the fields are fixed, a generated
 * function builds the metrics object in one step (an object literal with a stable shape), which
 * is several times faster for wide frames than adding keys one by one. Field names in the code
 * are validated names passed through JSON.stringify; no payload data reaches it.
 */
function compileMetrics(
  format: Format,
  listed: readonly string[] | undefined,
  used: ReadonlySet<string>,
): (fields: DecodedFields) => Record<string, FieldValue> {
  const fixed = staticFieldNames(format);
  if (fixed !== undefined) {
    const names = (listed ?? fixed).filter((n) => listed !== undefined || !used.has(n));
    if (names.every((n) => fixed.includes(n))) {
      const props = names.map((n) => `${JSON.stringify(n)}: f[${JSON.stringify(n)}]`).join(', ');
      return new Function('f', `return { ${props} };`) as (
        fields: DecodedFields,
      ) => Record<string, FieldValue>;
    }
  }
  return (fields) => {
    const metrics: Record<string, FieldValue> = {};
    if (listed) {
      for (const name of listed) if (fields[name] !== undefined) metrics[name] = fields[name];
    } else {
      for (const name in fields) if (!used.has(name)) metrics[name] = fields[name]!;
    }
    return metrics;
  };
}

const HEX_TEXT = /^([0-9a-fA-F]{2})*$/;
const latin1 = new TextDecoder('latin1');

/** Compiles a validated spec. */
export function compileSpec(spec: Spec): CompiledSpec {
  const match = compileMatch(spec.match);
  const decodeFrame = compileFormat(spec.format);
  const deviceId = compileId(spec.telemetry.deviceId);
  const hubId = spec.telemetry.hubId ? compileId(spec.telemetry.hubId) : undefined;
  const timestamp = compileTimestamp(spec.telemetry.timestamp);
  const hubTimestamp = spec.telemetry.hubTimestamp
    ? compileTimestamp(spec.telemetry.hubTimestamp)
    : undefined;
  const checkContract = compileContract(spec.contract);
  // fields that carry ids or times are not metrics (unless the spec lists them as metrics)
  const used = new Set<string>();
  for (const id of [deviceId, hubId]) if (id?.field !== undefined) used.add(id.field);
  for (const time of [spec.telemetry.timestamp, spec.telemetry.hubTimestamp]) {
    if (time !== undefined && 'field' in time) used.add(time.field);
  }
  const listed = spec.telemetry.metrics;
  const { maxBytes, encoding } = spec.payload;

  const metricsOf = compileMetrics(spec.format, listed, used);

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
      const topic = topicIds(envelope?.topic, match.topic);
      const ingest = envelope?.receivedAt ?? record.arrivedAt;
      const out: Telemetry[] = [];
      for (const fields of decodeFrame(payload)) {
        const device = deviceId.read(fields, topic, incoming);
        if (device === undefined)
          throw new DecodeError('no-device-id', 'no device id where the spec says to find it');
        const hub = hubId?.read(fields, topic, incoming);
        const deviceTimestamp = timestamp(fields, ingest);
        const metrics = checkContract(metricsOf(fields), deviceTimestamp, now);
        out.push({
          device_id: device,
          device_timestamp: deviceTimestamp,
          productId: spec.productId,
          metrics: metrics as Telemetry['metrics'],
          ...(hub !== undefined && hub !== device ? { hub_id: hub, childDeviceId: device } : {}),
          ...(hubTimestamp ? { hub_timestamp: hubTimestamp(fields, ingest) } : {}),
          ingest_timestamp: ingest,
          rawRef: rawRefOf(record, envelope, spec),
        });
      }
      return out;
    },
  };
}
