/**
 * Parses the ingest envelope and a JSON device payload into `Telemetry`. This is the first slice's
 * decoder: the spec-driven decode stage (hex, key-value, CSV, per-product YAML) replaces it, keeping
 * the same input, output and dead-letter contract.
 *
 * Payload: `{ "device_id"?: string, "ts": epoch s|ms or ISO-8601, "metrics": { name: value } }`.
 * The device id comes from the payload, else from the MQTT topic (`devices/{id}/telemetry`,
 * `devices/{hub}/child/{id}/telemetry`); the product from the envelope, else the payload.
 */
import { z } from 'zod';
import {
  type DeadLetter,
  deadLetterOf,
  type IngestEnvelope,
  type Operator,
  type RawRecord,
  type Telemetry,
} from '../topology/index.ts';

/** Options of {@link parseEnvelope}. */
export const parseEnvelopeConfigSchema = z
  .object({
    /** Product used when neither the envelope nor the payload names one. */
    defaultProductId: z.string().min(1).optional().describe('product for records that name none'),
  })
  .strict();
/** See {@link parseEnvelopeConfigSchema}. */
export type ParseEnvelopeConfig = z.infer<typeof parseEnvelopeConfigSchema>;

const TOPIC = /^devices\/([^/]+)\/(?:child\/([^/]+)\/)?telemetry$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A record that cannot be parsed; the message becomes the dead letter's reason. */
class ParseError extends Error {}

function decodePayload(envelope: IngestEnvelope): string {
  switch (envelope.encoding) {
    case 'utf8':
      return envelope.payload;
    case 'base64':
      return Buffer.from(envelope.payload, 'base64').toString('utf8');
    case 'hex':
      return Buffer.from(envelope.payload, 'hex').toString('utf8');
    default:
      throw new ParseError(`unknown encoding "${String((envelope as { encoding: unknown }).encoding)}"`);
  }
}

function toEpochMs(ts: unknown): number {
  if (typeof ts === 'number' && Number.isFinite(ts)) return ts < 1e11 ? ts * 1000 : ts;
  if (typeof ts === 'string') {
    const ms = Date.parse(ts);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new ParseError(`timestamp "ts" is missing or not a time: ${JSON.stringify(ts)}`);
}

function parseJson(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ParseError(`${what} is not JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ParseError(`${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

function parseRecord(record: RawRecord, defaultProductId: string | undefined): Telemetry {
  let text: string;
  try {
    text = utf8.decode(record.data);
  } catch {
    throw new ParseError('envelope is not UTF-8');
  }
  const envelope = parseJson(text, 'envelope') as unknown as IngestEnvelope;
  if (envelope.v !== 1) throw new ParseError(`unsupported envelope version ${JSON.stringify(envelope.v)}`);
  if (typeof envelope.payload !== 'string') throw new ParseError('envelope has no payload');
  const payload = parseJson(decodePayload(envelope), 'payload');

  const topic = envelope.topic === undefined ? undefined : TOPIC.exec(envelope.topic);
  const hubId = topic?.[2] === undefined ? undefined : topic[1];
  const deviceId = typeof payload.device_id === 'string' ? payload.device_id : (topic?.[2] ?? topic?.[1]);
  if (deviceId === undefined || deviceId === '') throw new ParseError('no device_id in payload or topic');
  const productId =
    envelope.productId ?? (typeof payload.productId === 'string' ? payload.productId : defaultProductId);
  if (productId === undefined) throw new ParseError('no productId in envelope or payload');
  const metrics = payload.metrics;
  if (metrics === null || typeof metrics !== 'object' || Array.isArray(metrics)) {
    throw new ParseError('payload has no "metrics" object');
  }

  return {
    device_id: deviceId,
    device_timestamp: toEpochMs(payload.ts),
    productId,
    metrics: metrics as Telemetry['metrics'],
    ...(hubId === undefined ? {} : { hub_id: hubId, childDeviceId: deviceId }),
    ingest_timestamp: typeof envelope.receivedAt === 'number' ? envelope.receivedAt : record.arrivedAt,
    rawRef: {
      protocol: envelope.protocol,
      topic: envelope.topic,
      format: 'json',
      stream: record.stream,
      shardId: record.shardId,
      sequenceNumber: record.sequenceNumber,
      subSequenceNumber: record.subSequenceNumber,
    },
  };
}

/** Parses envelopes with JSON payloads into `Telemetry`; what cannot be parsed goes to `dlq`. */
export function parseEnvelope(
  config: ParseEnvelopeConfig = {},
): Operator<RawRecord, Telemetry, { dlq: DeadLetter }> {
  const { defaultProductId } = parseEnvelopeConfigSchema.parse(config);
  return {
    type: 'parse-envelope-json',
    sideOutputs: ['dlq'],
    process: function parseEnvelopeBatch(batch, ctx) {
      const out: Telemetry[] = [];
      for (const record of batch) {
        try {
          out.push(parseRecord(record, defaultProductId));
        } catch (error) {
          if (!(error instanceof ParseError)) throw error;
          ctx.side('dlq', deadLetterOf(record, ctx.node, error.message, ctx.clock.now()));
        }
      }
      return out;
    },
  };
}
