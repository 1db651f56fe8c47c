/**
 * The MQTT bridge: a persistent subscriber session on a broker whose QoS 1 telemetry goes onto the
 * stream through the durable ingest, each PUBLISH acknowledged only once its record is durable, in the
 * order received. It holds at most `maxInFlight` unacknowledged messages and stops reading the socket
 * past that or while the ingest is full, so the broker keeps the rest. When the broker goes away it
 * reconnects with a capped backoff and the same client id: the broker redelivers what was never
 * acknowledged (at least once: a record that became durable after its connection ended is put again).
 */
import { readFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { Clock, IngestEnvelope, Logger } from '../../topology/index.ts';
import { type DurableIngest, type IngestRecord, MAX_PARTITION_KEY_BYTES } from '../ingest/durableIngest.ts';
import {
  devicePartitionKey,
  envelopeBytes,
  envelopeOf,
  isTelemetryTopic,
  TELEMETRY_TOPIC_FILTERS,
} from '../ingest/envelope.ts';
import { AckQueue } from './ackQueue.ts';
import type { MqttBridgeConfig } from './config.ts';
import { type InboundPublish, type MqttSession, openMqttSession } from './session.ts';

/** What the bridge needs. */
export interface MqttBridgeOptions {
  readonly config: MqttBridgeConfig;
  readonly ingest: DurableIngest;
  readonly clock: Clock;
  readonly log?: Logger;
  /** Aborting it ends the bridge at once, as a crash would: no DISCONNECT, nothing more acknowledged. */
  readonly signal?: AbortSignal;
  /** Where the username and password variables are read (the process environment by default). */
  readonly env?: NodeJS.ProcessEnv;
}

/** Counters and gauges for `/metrics` (a plain record of numbers). */
export type MqttBridgeStats = {
  /** Connections that got as far as their subscription. */
  readonly connections: number;
  /** Connections lost (the bridge reconnects after each). */
  readonly disconnects: number;
  /** PUBLISHes received (redeliveries included). */
  readonly messages: number;
  readonly qos0: number;
  /** PUBACKs sent. */
  readonly acknowledged: number;
  /** Messages kept as rejected envelopes (not telemetry, empty, too large). */
  readonly rejected: number;
  /** Messages the ingest refused because it was closing (left unacknowledged to the broker). */
  readonly failed: number;
  /** Times the bridge stopped reading for want of room. */
  readonly pauses: number;
  readonly connected: number;
  readonly unacknowledged: number;
  readonly paused: number;
};

/** A running bridge. */
export interface MqttBridge {
  /** Whether it is connected and subscribed. */
  ready(): boolean;
  /** The broker it connects to. */
  readonly broker: { readonly host: string; readonly port: number };
  stats(): MqttBridgeStats;
  /**
   * Stops reading, waits (up to `closeDrainMs`) for what was received to be durable and acknowledged,
   * then sends DISCONNECT. The ingest is the caller's to close.
   */
  close(): Promise<void>;
}

/** Records a Kinesis entry cannot hold are kept (as rejected envelopes) with at most this much payload. */
const KEPT_BYTES_OF_TOO_LARGE = 256 * 1024;
/** The fallback key of envelopes whose topic gives none a Kinesis partition key can be. */
const REJECTED_KEY = 'mqtt-rejected';

/** The subscription filters of a configuration. */
export function bridgeFilters(config: Pick<MqttBridgeConfig, 'topicPrefix' | 'shareGroup'>): string[] {
  const prefix = config.topicPrefix === '' ? '' : `${config.topicPrefix}/`;
  const share = config.shareGroup === undefined ? '' : `$share/${config.shareGroup}/`;
  return TELEMETRY_TOPIC_FILTERS.map((filter) => `${share}${prefix}${filter}`);
}

/** The stream record of a delivered message: its envelope and partition key, or a rejected envelope. */
export function recordOf(
  publish: Pick<InboundPublish, 'topic' | 'payload'>,
  topicPrefix: string,
  receivedAt: number,
): { record: IngestRecord; rejected?: string } {
  const prefix = topicPrefix === '' ? '' : `${topicPrefix}/`;
  const topic = publish.topic.startsWith(prefix) ? publish.topic.slice(prefix.length) : publish.topic;
  const envelope = envelopeOf({ protocol: 'mqtt', topic, receivedAt, payload: publish.payload });
  const key = devicePartitionKey(envelope);
  const keyFits = key.length > 0 && Buffer.byteLength(key, 'utf8') <= MAX_PARTITION_KEY_BYTES;
  let rejected: string | undefined;
  if (!isTelemetryTopic(topic)) rejected = 'not a platform telemetry topic';
  else if (!keyFits) rejected = 'a device id longer than a Kinesis partition key';
  else if (publish.payload.byteLength === 0) rejected = 'an empty payload';
  const partitionKey = keyFits ? key : REJECTED_KEY;
  let data = envelopeBytes(rejected === undefined ? envelope : { ...envelope, rejected });
  // Kinesis takes 1 MiB per record with its key; what does not fit is kept cut short, and said so.
  if (data.byteLength + Buffer.byteLength(partitionKey) > 1024 * 1024) {
    rejected = `a payload of ${publish.payload.byteLength} bytes, too large for a Kinesis record (first ${KEPT_BYTES_OF_TOO_LARGE} kept)`;
    const cut: IngestEnvelope = {
      ...envelopeOf({
        protocol: 'mqtt',
        topic,
        receivedAt,
        payload: publish.payload.subarray(0, KEPT_BYTES_OF_TOO_LARGE),
      }),
      rejected,
    };
    data = envelopeBytes(cut);
  }
  return rejected === undefined
    ? { record: { partitionKey, data } }
    : { record: { partitionKey, data }, rejected };
}

function brokerAddress(url: string): { tls: boolean; host: string; port: number } {
  const parsed = new URL(url);
  const tls = parsed.protocol === 'mqtts:';
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  return { tls, host, port: parsed.port === '' ? (tls ? 8883 : 1883) : Number(parsed.port) };
}

/** Starts the bridge; it connects in the background and reconnects until closed. */
export function startMqttBridge(options: MqttBridgeOptions): MqttBridge {
  const { config, ingest, clock, log } = options;
  const env = options.env ?? process.env;
  const address = brokerAddress(config.url);
  const filters = bridgeFilters(config);
  const credential = (name: string | undefined, what: string) => {
    if (name === undefined) return undefined;
    const value = env[name];
    if (value === undefined) throw new Error(`the MQTT ${what} variable ${name} is not set`);
    return value;
  };
  const username = credential(config.usernameEnv, 'username');
  const password = credential(config.passwordEnv, 'password');
  const tlsFiles = config.tls && {
    ca: config.tls.caFile === undefined ? undefined : readFileSync(config.tls.caFile),
    cert: config.tls.certFile === undefined ? undefined : readFileSync(config.tls.certFile),
    key: config.tls.keyFile === undefined ? undefined : readFileSync(config.tls.keyFile),
  };
  const stopping = new AbortController();
  const crash = options.signal;
  let closing = false;
  let session: MqttSession | undefined;
  let acks: AckQueue | undefined;
  let paused = false;
  let waitingForRoom = false;
  let drained: (() => void) | undefined;
  const counts = {
    connections: 0,
    disconnects: 0,
    messages: 0,
    qos0: 0,
    acknowledged: 0,
    rejected: 0,
    failed: 0,
    pauses: 0,
  };

  const openSocket = (): Duplex =>
    address.tls
      ? tlsConnect({
          host: address.host,
          port: address.port,
          ...tlsFiles,
          rejectUnauthorized: config.tls?.rejectUnauthorized ?? true,
          ...(config.tls?.servername !== undefined ? { servername: config.tls.servername } : {}),
        })
      : tcpConnect({ host: address.host, port: address.port, noDelay: true });

  const full = () => (acks?.pending ?? 0) >= config.maxInFlight || !ingest.hasRoom;

  /** Reads again once below `maxInFlight` with room in the ingest (or waits for the room). */
  const maybeResume = () => {
    if (!paused || closing || session === undefined) return;
    if ((acks?.pending ?? 0) >= config.maxInFlight) return;
    if (!ingest.hasRoom) {
      if (waitingForRoom) return;
      waitingForRoom = true;
      ingest.whenRoom().then(
        () => {
          waitingForRoom = false;
          maybeResume();
        },
        () => {
          waitingForRoom = false;
        },
      );
      return;
    }
    paused = false;
    session.resume();
  };

  const onPublish = (current: MqttSession, queue: AckQueue, publish: InboundPublish) => {
    counts.messages++;
    if (publish.qos === 0) counts.qos0++;
    const { record, rejected } = recordOf(publish, config.topicPrefix, clock.now());
    if (rejected !== undefined) {
      counts.rejected++;
      log?.warn({ topic: publish.topic.slice(0, 200), reason: rejected }, 'MQTT message kept as rejected');
    }
    const slot = publish.messageId === undefined ? undefined : queue.add(publish.messageId);
    ingest.put(record).then(
      () => {
        if (slot === undefined || session !== current) return;
        counts.acknowledged += queue.settle(slot);
        if (queue.pending === 0) drained?.();
        maybeResume();
      },
      (error: Error) => {
        // Only a closing ingest refuses; the message stays unacknowledged and the broker keeps it.
        counts.failed++;
        log?.warn({ topic: publish.topic.slice(0, 200), error: error.message }, 'MQTT message not put');
      },
    );
    if (full() && !paused) {
      paused = true;
      counts.pauses++;
      current.pause();
      maybeResume();
    }
  };

  /** One connection, start to end: why it ended, and whether it got as far as its subscription. */
  const runSession = async (): Promise<{ cause: Error | undefined; wasReady: boolean }> => {
    let wasReady = false;
    let current: MqttSession | undefined;
    const queue = new AckQueue((messageId) => current?.puback(messageId));
    try {
      current = openMqttSession({
        socket: openSocket(),
        protocolVersion: config.protocolVersion,
        clientId: config.clientId,
        username,
        password,
        keepaliveSeconds: config.keepaliveSeconds,
        sessionExpirySeconds: config.sessionExpirySeconds,
        receiveMaximum: config.maxInFlight,
        filters,
        connectTimeoutMs: config.connectTimeoutMs,
        clock,
        log,
        onReady: () => {
          wasReady = true;
          counts.connections++;
        },
        onPublish: (publish) => onPublish(current!, queue, publish),
      });
    } catch (error) {
      // A CONNECT that cannot be written (or a socket that cannot be opened): retried like a refusal.
      return { cause: error instanceof Error ? error : new Error(String(error)), wasReady };
    }
    session = current;
    acks = queue;
    paused = false;
    const onCrash = () => current?.destroy(new Error('the bridge was stopped'));
    crash?.addEventListener('abort', onCrash, { once: true });
    const cause = await current.ended;
    crash?.removeEventListener('abort', onCrash);
    session = undefined;
    acks = undefined;
    return { cause, wasReady };
  };

  const run = async () => {
    let attempts = 0;
    while (!closing && !crash?.aborted) {
      const { cause, wasReady } = await runSession();
      if (closing || crash?.aborted) return;
      counts.disconnects++;
      attempts = wasReady ? 1 : attempts + 1;
      const delay = Math.min(
        config.reconnectMaxDelayMs,
        config.reconnectInitialDelayMs * 2 ** (attempts - 1),
      );
      log?.warn({ error: cause?.message, delayMs: delay, broker: config.url }, 'MQTT reconnecting');
      try {
        await clock.sleep(delay, crash ? AbortSignal.any([stopping.signal, crash]) : stopping.signal);
      } catch {
        return;
      }
    }
  };
  const running = run();

  return {
    broker: { host: address.host, port: address.port },
    ready: () => session?.state === 'ready',
    stats() {
      return {
        ...counts,
        connected: session?.state === 'ready' ? 1 : 0,
        unacknowledged: acks?.pending ?? 0,
        paused: paused ? 1 : 0,
      };
    },
    async close() {
      if (closing) return running;
      closing = true;
      stopping.abort();
      const current = session;
      const queue = acks;
      if (current !== undefined && queue !== undefined) {
        current.pause();
        if (queue.pending > 0) {
          const done = new Promise<void>((resolve) => {
            drained = resolve;
          });
          const deadline = new AbortController();
          await Promise.race([
            done,
            current.ended,
            clock.sleep(config.closeDrainMs, deadline.signal).catch(() => {}),
          ]);
          deadline.abort();
          if (queue.pending > 0)
            log?.warn(
              { unacknowledged: queue.pending },
              'MQTT bridge closed with messages not acknowledged; the broker keeps them',
            );
        }
        current.disconnect();
      }
      await running;
    },
  };
}
