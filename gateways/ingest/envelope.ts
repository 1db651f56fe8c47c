/**
 * The ingest envelope every gateway writes (architecture page, section 2) and the topics and
 * partition keys they share: the MQTT bridge reads a topic, REST builds one from its path, so that one
 * device's records look the same, and land in the same shard, whatever way they came in.
 */
import type { IngestEnvelope } from '../../topology/index.ts';
import { devicePartitionKey } from '../kinesis/producer.ts';

export { devicePartitionKey };

/** What a gateway knows about a message it received. */
export interface Received {
  readonly protocol: IngestEnvelope['protocol'];
  readonly payload: Uint8Array;
  /** Epoch ms the gateway received it. */
  readonly receivedAt: number;
  readonly topic?: string | undefined;
  /** Where it came from: a file and line, a peer address, an API key's name. */
  readonly source?: string | undefined;
  readonly productId?: string | undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Text that can travel as utf8: valid UTF-8 without control characters other than tab and line ends. */
function asText(payload: Uint8Array): string | undefined {
  for (const byte of payload)
    if (byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) return undefined;
  try {
    return utf8.decode(payload);
  } catch {
    return undefined;
  }
}

/** The envelope of a received message: utf8 for text payloads (JSON, CSV, key-value), base64 otherwise. */
export function envelopeOf(received: Received): IngestEnvelope {
  const text = asText(received.payload);
  return {
    v: 1,
    protocol: received.protocol,
    ...(received.topic !== undefined ? { topic: received.topic } : {}),
    ...(received.source !== undefined ? { source: received.source } : {}),
    receivedAt: received.receivedAt,
    ...(received.productId !== undefined ? { productId: received.productId } : {}),
    encoding: text === undefined ? 'base64' : 'utf8',
    payload: text ?? Buffer.from(received.payload).toString('base64'),
  };
}

const encoder = new TextEncoder();

/** The bytes a gateway puts on the stream for an envelope. */
export function envelopeBytes(envelope: IngestEnvelope): Uint8Array {
  return encoder.encode(JSON.stringify(envelope));
}

/** The platform's topic of a device: `devices/{hub}/child/{device}/telemetry` or `devices/{device}/telemetry`. */
export function deviceTopic(deviceId: string, hubId?: string): string {
  return hubId === undefined
    ? `devices/${deviceId}/telemetry`
    : `devices/${hubId}/child/${deviceId}/telemetry`;
}

/** The three topic shapes (hub and standalone share one), as MQTT subscription filters. */
export const TELEMETRY_TOPIC_FILTERS = ['devices/+/telemetry', 'devices/+/child/+/telemetry'] as const;

/** Whether `topic` has one of the platform's telemetry shapes. */
export function isTelemetryTopic(topic: string): boolean {
  const parts = topic.split('/');
  if (parts[0] !== 'devices' || parts.at(-1) !== 'telemetry') return false;
  if (parts.length === 3) return parts[1] !== '';
  return parts.length === 5 && parts[2] === 'child' && parts[1] !== '' && parts[3] !== '';
}

/**
 * Finds the partition key of a payload a gateway cannot read by itself (TCP frames, file records): the
 * hub for a hub's or a child's record, else the device. `undefined` when the payload does not say
 * (it is put with the connection's or file's last key, and the decode stage dead-letters it when it
 * is malformed). The CLI builds it from the product specs (the decode stage's own decoder).
 */
export type PayloadKeyFinder = (payload: Uint8Array, productId: string | undefined) => string | undefined;
