/**
 * The MQTT bridge against real brokers (aedes in process for MQTT 3.1.1, mosquitto for MQTT 5) and
 * kinesalite, with mqtt.js clients as devices: every message lands in the stream as an envelope with
 * its topic, keyed by hub or device, each device's messages in order; a PUBACK leaves the bridge only
 * once its record is durable, in receive order; while Kinesis is down nothing is acknowledged and the
 * bridge reads no more than it may hold; two bridges on a shared subscription split the messages; a
 * bridge that dies with unacknowledged messages loses none (its successor gets them again).
 */
import { createServer, type Server } from 'node:net';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { Aedes } from 'aedes';
import fc from 'fast-check';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DurableIngest, durableIngest, type IngestLimits } from '../../gateways/ingest/durableIngest.ts';
import { type MqttBridge, mqttBridgeConfigSchema, startMqttBridge } from '../../gateways/mqtt/index.ts';
import { startKinesisFaultProxy } from '../../infra/local/kinesisFaults.ts';
import { type Mosquitto, startMosquitto } from '../../infra/local/mosquitto.ts';
import { freePort } from '../../infra/local/process.ts';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { type IngestEnvelope, silentLogger, systemClock } from '../../topology/index.ts';
import { type FaultProxy, startFaultProxy } from '../support/faultProxy.ts';
import { createStream, readStream, uniqueStream } from '../support/kinesis.ts';
import { testEnv, waitFor } from '../support/wait.ts';

const endpoint = testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT');
const decoder = new TextDecoder();
/** How long Kinesis stays stalled (the acceptance: 30 s; shorter by default to keep the suite fast). */
const STALL_MS = Number(process.env.GATEWAY_STALL_MS ?? 5_000);

interface Landed {
  readonly partitionKey: string;
  readonly shardId: string;
  readonly envelope: IngestEnvelope;
}

/** Everything in the stream, shard by shard in order, KPL aggregates opened, as envelopes. */
async function readEnvelopes(client: KinesisClient, stream: string): Promise<Landed[]> {
  return (await readStream(client, stream)).map((r) => ({
    partitionKey: r.partitionKey,
    shardId: r.shardId,
    envelope: JSON.parse(decoder.decode(r.data)) as IngestEnvelope,
  }));
}

const payloadOf = (envelope: IngestEnvelope) =>
  Buffer.from(envelope.payload, envelope.encoding === 'base64' ? 'base64' : 'utf8');

/** A reading's identity in these tests: `{"d":device,"seq":n}`. */
const readingId = (envelope: IngestEnvelope) => {
  const { d, seq } = JSON.parse(payloadOf(envelope).toString());
  return `${d}#${seq}`;
};

interface Harness {
  readonly kinesis: KinesisClient;
  readonly stream: string;
  readonly ingest: DurableIngest;
}

async function harness(
  label: string,
  kinesisEndpoint = endpoint,
  shards = 2,
  limits: Partial<IngestLimits> = {},
): Promise<Harness> {
  const stream = uniqueStream(label);
  await createStream(kinesis, stream, shards);
  const ingest = durableIngest({
    client: createKinesisClient({
      region: 'us-east-1',
      endpoint: kinesisEndpoint,
      maxAttempts: 1,
      requestTimeoutMs: 2000,
    }),
    streamName: stream,
    clock: systemClock,
    log: silentLogger,
    limits: { lingerMs: 5, initialRetryDelayMs: 50, maxRetryDelayMs: 200, ...limits },
  });
  return { kinesis, stream, ingest };
}

function bridge(
  url: string,
  ingest: DurableIngest,
  settings: Record<string, unknown> = {},
  signal?: AbortSignal,
): MqttBridge {
  const config = mqttBridgeConfigSchema.parse({
    url,
    clientId: `bridge-${Math.random().toString(36).slice(2, 8)}`,
    reconnectInitialDelayMs: 50,
    reconnectMaxDelayMs: 500,
    closeDrainMs: 2000,
    ...settings,
  });
  return startMqttBridge({
    config,
    ingest,
    clock: systemClock,
    log: silentLogger,
    ...(signal ? { signal } : {}),
  });
}

async function device(url: string, protocolVersion: 4 | 5): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { protocolVersion, reconnectPeriod: 0, clean: true });
  devices.push(client);
  return client;
}

/** Publishes `count` readings per topic at QoS 1, in order per topic; resolves when the broker took all. */
async function publishReadings(client: MqttClient, topics: Record<string, string>, count: number, pad = 0) {
  const sends: Promise<unknown>[] = [];
  for (let seq = 0; seq < count; seq++)
    for (const [d, topic] of Object.entries(topics))
      sends.push(client.publishAsync(topic, JSON.stringify({ d, seq, pad: 'x'.repeat(pad) }), { qos: 1 }));
  await Promise.all(sends);
}

const TOPICS = {
  hub: 'devices/hub-1/telemetry',
  child: 'devices/hub-1/child/sensor-7/telemetry',
  alone: 'devices/meter-3/telemetry',
};
const KEYS: Record<string, string> = { hub: 'hub-1', child: 'hub-1', alone: 'meter-3' };

/** Every reading once, with its topic and key, each device's in order. */
function expectAllInOrder(
  landed: readonly Landed[],
  topics: Record<string, string>,
  count: number,
  redelivered = false,
) {
  const seen = new Map<string, number[]>();
  const once = new Set<string>();
  for (const { envelope, partitionKey } of landed) {
    const { d, seq } = JSON.parse(payloadOf(envelope).toString());
    // After a reconnect the broker may send again what the bridge acknowledged as the connection broke
    // (at least once): the first copies must still be complete and in order.
    if (redelivered && once.has(`${d}#${seq}`)) continue;
    once.add(`${d}#${seq}`);
    expect(envelope).toMatchObject({ v: 1, protocol: 'mqtt', topic: topics[d] });
    expect(envelope.rejected).toBeUndefined();
    // The hub for hub and child topics, the device for a standalone one: the topic's second level.
    expect(partitionKey).toBe(KEYS[d] ?? topics[d]!.split('/')[1]);
    seen.set(d, [...(seen.get(d) ?? []), seq]);
  }
  for (const d of Object.keys(topics)) expect(seen.get(d)).toEqual([...Array(count).keys()]);
}

/** The ingest, recording which readings were put (in order) and which became durable. */
function witnessed(ingest: DurableIngest) {
  const putOrder: string[] = [];
  const durable = new Set<string>();
  const idOf = (data: Uint8Array) => readingId(JSON.parse(decoder.decode(data)));
  const wrapped: DurableIngest = {
    offer: (record) => ingest.offer(record),
    put(record) {
      const id = idOf(record.data);
      putOrder.push(id);
      return ingest.put(record).then(() => {
        durable.add(id);
      });
    },
    whenRoom: () => ingest.whenRoom(),
    get hasRoom() {
      return ingest.hasRoom;
    },
    get reachable() {
      return ingest.reachable;
    },
    stats: () => ingest.stats(),
    close: (drainMs) => ingest.close(drainMs),
  };
  return { wrapped, putOrder, durable };
}

let kinesis: KinesisClient;
let mosquitto: Mosquitto;
let aedes: Aedes;
let aedesServer: Server;
let aedesUrl: string;
const devices: MqttClient[] = [];
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  kinesis = createKinesisClient({ region: 'us-east-1', endpoint });
  mosquitto = await startMosquitto();
  aedes = await Aedes.createBroker();
  aedesServer = createServer(aedes.handle);
  const port = await freePort();
  await new Promise<void>((resolve) => aedesServer.listen(port, '127.0.0.1', resolve));
  aedesUrl = `mqtt://127.0.0.1:${port}`;
}, 30_000);

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  for (const client of devices) client.end(true);
  await new Promise<void>((resolve) => aedes.close(() => resolve()));
  await new Promise<void>((resolve) => aedesServer.close(() => resolve()));
  await mosquitto.stop();
});

describe('MQTT bridge', () => {
  it('aedes, MQTT 3.1.1: every reading in the stream, keyed and in order; each PUBACK after durable, in receive order', async () => {
    const { ingest, stream } = await harness('mqtt-aedes');
    const witness = witnessed(ingest);
    const acked: string[] = [];
    const ackedBeforeDurable: string[] = [];
    const bridgeClientId = 'aedes-bridge';
    aedes.on('ack', (packet, client) => {
      if (client?.id !== bridgeClientId || !packet || !('payload' in packet)) return;
      const { d, seq } = JSON.parse(packet.payload.toString());
      const id = `${d}#${seq}`;
      if (!witness.durable.has(id)) ackedBeforeDurable.push(id);
      acked.push(id);
    });
    const b = bridge(aedesUrl, witness.wrapped, { protocolVersion: 4, clientId: bridgeClientId });
    cleanups.push(
      () => b.close(),
      () => ingest.close(0),
    );
    await waitFor('the bridge to subscribe', () => b.ready());
    const client = await device(aedesUrl, 4);
    await publishReadings(client, TOPICS, 100);
    await waitFor('every PUBACK', () => acked.length === 300, 20_000);
    expect(ackedBeforeDurable).toEqual([]);
    expect(acked).toEqual(witness.putOrder);
    // Acknowledged means in the stream: read at once, no waiting.
    expectAllInOrder(await readEnvelopes(kinesis, stream), TOPICS, 100);
    expect(b.stats()).toMatchObject({ messages: 300, acknowledged: 300, unacknowledged: 0, rejected: 0 });
  }, 40_000);

  it('mosquitto, MQTT 5: every reading in the stream, keyed and in order, all acknowledged', async () => {
    const { ingest, stream } = await harness('mqtt-mosq');
    const b = bridge(mosquitto.url, ingest, { protocolVersion: 5, topicPrefix: 'eu' });
    cleanups.push(
      () => b.close(),
      () => ingest.close(0),
    );
    await waitFor('the bridge to subscribe', () => b.ready());
    const client = await device(mosquitto.url, 5);
    const prefixed = Object.fromEntries(Object.entries(TOPICS).map(([d, t]) => [d, `eu/${t}`]));
    await publishReadings(client, prefixed, 100);
    await waitFor('every PUBACK', () => b.stats().acknowledged === 300, 20_000);
    expectAllInOrder(await readEnvelopes(kinesis, stream), TOPICS, 100);
  }, 40_000);

  it('Kinesis down: nothing acknowledged, at most maxInFlight read (receive maximum); all in order once it is back', async () => {
    const target = new URL(endpoint);
    const proxy: FaultProxy = await startFaultProxy(target.hostname, Number(target.port));
    cleanups.push(() => proxy.close());
    const { ingest, stream } = await harness('mqtt-stall', `http://127.0.0.1:${proxy.port}`);
    const b = bridge(mosquitto.url, ingest, { protocolVersion: 5, maxInFlight: 10 });
    cleanups.push(
      () => b.close(),
      () => ingest.close(0),
    );
    await waitFor('the bridge to subscribe', () => b.ready());
    proxy.down();
    const client = await device(mosquitto.url, 5);
    await publishReadings(client, TOPICS, 20);
    await waitFor('the bridge to hold its maximum', () => b.stats().unacknowledged === 10);
    await new Promise((r) => setTimeout(r, 1000));
    expect(b.stats()).toMatchObject({ messages: 10, acknowledged: 0, unacknowledged: 10 });
    expect(ingest.stats().bufferedRecords).toBe(10);
    expect(ingest.reachable).toBe(false);
    proxy.up();
    await waitFor('every PUBACK', () => b.stats().acknowledged === 60, 20_000);
    expectAllInOrder(await readEnvelopes(kinesis, stream), TOPICS, 20);
  }, 40_000);

  it('a full ingest stops the bridge reading its socket (aedes sends without a receive maximum)', async () => {
    const target = new URL(endpoint);
    const proxy = await startFaultProxy(target.hostname, Number(target.port));
    cleanups.push(() => proxy.close());
    const stream = uniqueStream('mqtt-full');
    await createStream(kinesis, stream, 1);
    const ingest = durableIngest({
      client: createKinesisClient({
        region: 'us-east-1',
        endpoint: `http://127.0.0.1:${proxy.port}`,
        maxAttempts: 1,
      }),
      streamName: stream,
      clock: systemClock,
      limits: { lingerMs: 5, initialRetryDelayMs: 50, maxRetryDelayMs: 200, maxBufferedRecords: 20 },
    });
    const b = bridge(aedesUrl, ingest, { protocolVersion: 4 });
    cleanups.push(
      () => b.close(),
      () => ingest.close(0),
    );
    await waitFor('the bridge to subscribe', () => b.ready());
    proxy.down();
    const client = await device(aedesUrl, 4);
    await publishReadings(client, { alone: TOPICS.alone }, 400, 2000);
    await waitFor('the bridge to pause', () => b.stats().paused === 1);
    await new Promise((r) => setTimeout(r, 500));
    expect(ingest.stats().bufferedRecords).toBe(20);
    // It stopped reading: one socket read's worth past the ingest's bound, far from all 400.
    expect(b.stats().messages).toBeLessThan(120);
    proxy.up();
    await waitFor('every PUBACK', () => b.stats().acknowledged === 400, 20_000);
    expectAllInOrder(await readEnvelopes(kinesis, stream), { alone: TOPICS.alone }, 400);
  }, 40_000);

  it('two bridges on a shared subscription split the messages and deliver each exactly once', async () => {
    const { ingest, stream } = await harness('mqtt-share');
    const one = bridge(mosquitto.url, ingest, { protocolVersion: 5, shareGroup: 'ingest' });
    const two = bridge(mosquitto.url, ingest, { protocolVersion: 5, shareGroup: 'ingest' });
    cleanups.push(
      () => one.close(),
      () => two.close(),
      () => ingest.close(0),
    );
    await waitFor('both bridges to subscribe', () => one.ready() && two.ready());
    const client = await device(mosquitto.url, 5);
    const topics = Object.fromEntries([...Array(5).keys()].map((i) => [`s${i}`, `devices/s${i}/telemetry`]));
    await publishReadings(client, topics, 40);
    await waitFor('every PUBACK', () => one.stats().acknowledged + two.stats().acknowledged === 200, 20_000);
    expect(one.stats().messages).toBeGreaterThan(0);
    expect(two.stats().messages).toBeGreaterThan(0);
    expect(one.stats().messages + two.stats().messages).toBe(200);
    const ids = (await readEnvelopes(kinesis, stream)).map((l) => readingId(l.envelope));
    expect(ids.length).toBe(200);
    expect(new Set(ids).size).toBe(200);
  }, 40_000);

  it('a bridge that dies with unacknowledged messages: its successor (same client id) receives them again', async () => {
    const target = new URL(endpoint);
    const proxy = await startFaultProxy(target.hostname, Number(target.port));
    cleanups.push(() => proxy.close());
    proxy.down();
    const dead = await harness('mqtt-crash', `http://127.0.0.1:${proxy.port}`);
    const crash = new AbortController();
    const clientId = `crashing-${Date.now()}`;
    const first = bridge(mosquitto.url, dead.ingest, { protocolVersion: 5, clientId }, crash.signal);
    await waitFor('the first bridge to subscribe', () => first.ready());
    const client = await device(mosquitto.url, 5);
    await publishReadings(client, TOPICS, 10);
    await waitFor('the first bridge to hold them', () => first.stats().messages === 30);
    crash.abort();
    // What it held dies with it: its ingest gives up unput.
    await dead.ingest.close(0);
    await waitFor('the first bridge to stop', () => !first.ready());
    const after = await harness('mqtt-crash-after');
    const successor = bridge(mosquitto.url, after.ingest, { protocolVersion: 5, clientId });
    cleanups.push(
      () => successor.close(),
      () => after.ingest.close(0),
    );
    await waitFor(
      'the successor to acknowledge them all',
      () => successor.stats().acknowledged === 30,
      20_000,
    );
    expect(first.stats().acknowledged).toBe(0);
    expect(await readEnvelopes(kinesis, dead.stream)).toEqual([]);
    expectAllInOrder(await readEnvelopes(kinesis, after.stream), TOPICS, 10);
  }, 40_000);

  // Through mosquitto, not aedes: aedes 1.2 drops a subscriber now and then under these mixes of QoS 0
  // and 1 ("no such packet" from its in-memory persistence, before the bridge acknowledged anything);
  // the bridge survives that by reconnecting, but the exact count of acknowledgements would not hold.
  it('fuzzed topics, payloads and QoS through mosquitto: every QoS 1 message kept exactly as sent, the bridge never drops', async () => {
    const { ingest, stream } = await harness('mqtt-fuzz', endpoint, 1);
    const b = bridge(mosquitto.url, ingest, { protocolVersion: 5 });
    cleanups.push(
      () => b.close(),
      () => ingest.close(0),
    );
    await waitFor('the bridge to subscribe', () => b.ready());
    const client = await device(mosquitto.url, 5);
    // A topic level the broker accepts: no separators, wildcards or control characters.
    const level = fc
      .oneof(
        fc.string({ unit: 'grapheme', maxLength: 12 }),
        fc.string({ unit: 'grapheme', minLength: 130, maxLength: 200 }),
      )
      .map((text) =>
        [...text]
          .map((c) =>
            /[/+#]/.test(c) ||
            (c.codePointAt(0) ?? 0) < 0x20 ||
            ((c.codePointAt(0) ?? 0) >= 0x7f && (c.codePointAt(0) ?? 0) < 0xa0)
              ? '_'
              : c,
          )
          .join(''),
      );
    const message = fc.record({
      device: level,
      child: fc.option(level, { nil: undefined }),
      payload: fc.uint8Array({ maxLength: 3000 }),
      qos: fc.constantFrom(0 as const, 1 as const),
    });
    const expected = new Map<string, number>();
    const keyOf = (topic: string, payload: Uint8Array) =>
      `${topic} ${Buffer.from(payload).toString('base64')}`;
    await fc.assert(
      fc.asyncProperty(fc.array(message, { minLength: 1, maxLength: 25 }), async (messages) => {
        await Promise.all(
          messages.map(({ device: d, child, payload, qos }) => {
            const topic =
              child === undefined ? `devices/${d}/telemetry` : `devices/${d}/child/${child}/telemetry`;
            if (qos === 1)
              expected.set(keyOf(topic, payload), (expected.get(keyOf(topic, payload)) ?? 0) + 1);
            return client.publishAsync(topic, Buffer.from(payload), { qos });
          }),
        );
        const total = [...expected.values()].reduce((a, n) => a + n, 0);
        await waitFor(
          'the QoS 1 messages to be acknowledged',
          () => b.stats().acknowledged === total,
          10_000,
        );
        const landed = new Map<string, number>();
        for (const { envelope, partitionKey } of await readEnvelopes(kinesis, stream)) {
          expect(partitionKey.length).toBeGreaterThan(0);
          const key = keyOf(envelope.topic ?? '', payloadOf(envelope));
          landed.set(key, (landed.get(key) ?? 0) + 1);
        }
        for (const [key, count] of expected) expect(landed.get(key) ?? 0).toBeGreaterThanOrEqual(count);
      }),
      { numRuns: 12 },
    );
    expect(b.ready()).toBe(true);
    expect(b.stats().disconnects).toBe(0);
  }, 50_000);

  it('the broker connection cut: the bridge reconnects, the session resumes, nothing published meanwhile is lost', async () => {
    const proxy = await startFaultProxy('127.0.0.1', mosquitto.port);
    cleanups.push(() => proxy.close());
    const { ingest, stream } = await harness('mqtt-cut');
    const b = bridge(`mqtt://127.0.0.1:${proxy.port}`, ingest, { protocolVersion: 5 });
    cleanups.push(
      () => b.close(),
      () => ingest.close(0),
    );
    await waitFor('the bridge to subscribe', () => b.ready());
    const client = await device(mosquitto.url, 5);
    await publishReadings(client, { alone: TOPICS.alone }, 10);
    await waitFor('the first ten acknowledged', () => b.stats().acknowledged === 10);
    proxy.down();
    await waitFor('the bridge to notice', () => !b.ready());
    // Published while the bridge is away: the broker keeps them in the bridge's session.
    const sends: Promise<unknown>[] = [];
    for (let seq = 10; seq < 30; seq++)
      sends.push(client.publishAsync(TOPICS.alone, JSON.stringify({ d: 'alone', seq }), { qos: 1 }));
    await Promise.all(sends);
    proxy.up();
    await waitFor('all thirty acknowledged', () => b.stats().acknowledged >= 30, 20_000);
    expect(b.stats().disconnects).toBeGreaterThanOrEqual(1);
    expectAllInOrder(await readEnvelopes(kinesis, stream), { alone: TOPICS.alone }, 30, true);
  }, 40_000);

  it('close: stops reading, waits for what it holds to be durable and acknowledged, then disconnects', async () => {
    const target = new URL(endpoint);
    const proxy = await startFaultProxy(target.hostname, Number(target.port));
    cleanups.push(() => proxy.close());
    const { ingest, stream } = await harness('mqtt-close', `http://127.0.0.1:${proxy.port}`);
    const b = bridge(mosquitto.url, ingest, { protocolVersion: 5, closeDrainMs: 10_000 });
    cleanups.push(() => ingest.close(0));
    await waitFor('the bridge to subscribe', () => b.ready());
    proxy.down();
    const client = await device(mosquitto.url, 5);
    await publishReadings(client, TOPICS, 5);
    await waitFor('the bridge to hold them', () => b.stats().unacknowledged === 15);
    const closed = b.close();
    await new Promise((r) => setTimeout(r, 300));
    expect(b.stats().acknowledged).toBe(0);
    proxy.up();
    await closed;
    expect(b.stats()).toMatchObject({ acknowledged: 15, connected: 0 });
    expectAllInOrder(await readEnvelopes(kinesis, stream), TOPICS, 5);
  }, 40_000);

  it('20 % of entries failed and 20 % of requests throttled: every reading once, in order, all acknowledged', async () => {
    const proxy = await startKinesisFaultProxy({ target: endpoint, seed: 7 });
    cleanups.push(() => proxy.close());
    // small aggregates: many entries per request, to fail one by one
    const { ingest, stream } = await harness('mqtt-faults', proxy.endpoint, 4, { aggregateBytes: 512 });
    proxy.set({ entryFailureRate: 0.2, throttleRate: 0.2 });
    const b = bridge(mosquitto.url, ingest, { protocolVersion: 5, maxInFlight: 200 });
    cleanups.push(
      () => b.close(),
      () => ingest.close(0),
    );
    await waitFor('the bridge to subscribe', () => b.ready());
    const client = await device(mosquitto.url, 5);
    // Many keys, so that requests carry many entries to fail one by one.
    const topics = {
      ...TOPICS,
      ...Object.fromEntries([...Array(40).keys()].map((i) => [`m${i}`, `devices/m${i}/telemetry`])),
    };
    await publishReadings(client, topics, 50);
    await waitFor('every PUBACK', () => b.stats().acknowledged === 43 * 50, 30_000);
    expect(proxy.stats().entriesFailed).toBeGreaterThan(10);
    expect(proxy.stats().throttled).toBeGreaterThan(2);
    expectAllInOrder(await readEnvelopes(kinesis, stream), topics, 50);
  }, 60_000);

  it(`Kinesis stalled (${STALL_MS / 1000} s): the bridge holds at most maxInFlight, memory bounded, resumes by itself`, async () => {
    const proxy = await startKinesisFaultProxy({ target: endpoint, seed: 8 });
    cleanups.push(() => proxy.close());
    const { ingest, stream } = await harness('mqtt-stalled', proxy.endpoint, 2);
    const b = bridge(mosquitto.url, ingest, { protocolVersion: 5, maxInFlight: 100 });
    cleanups.push(
      () => b.close(),
      () => ingest.close(0),
    );
    await waitFor('the bridge to subscribe', () => b.ready());
    proxy.set({ stalled: true });
    const client = await device(mosquitto.url, 5);
    const heapBefore = process.memoryUsage().heapUsed;
    const published = publishReadings(client, TOPICS, 1000, 200);
    const stalledUntil = Date.now() + STALL_MS;
    let most = 0;
    while (Date.now() < stalledUntil) {
      most = Math.max(most, b.stats().unacknowledged, ingest.stats().bufferedRecords);
      await new Promise((r) => setTimeout(r, 100));
    }
    await published; // the broker took all 3,000; the bridge holds at most 100 of them
    expect(b.stats().acknowledged).toBe(0);
    expect(most).toBe(100);
    expect(b.stats().messages).toBe(100);
    expect(b.stats().paused).toBe(1);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024);
    proxy.set({ stalled: false });
    await waitFor('every PUBACK', () => b.stats().acknowledged === 3000, 30_000);
    expect(proxy.stats().stalledRequests).toBeGreaterThan(0);
    expect(b.stats().disconnects).toBe(0);
    expectAllInOrder(await readEnvelopes(kinesis, stream), TOPICS, 1000);
  }, 120_000);
});
