/**
 * The MQTT bridge's pure parts: PUBACKs in receive order, the stream record of a delivered message,
 * the configuration; and the session fed random bytes by a fake broker (fast-check): it always ends
 * with a reason, never throws.
 */
import { Duplex } from 'node:stream';
import fc from 'fast-check';
import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import type { DurableIngest } from '../../../gateways/ingest/durableIngest.ts';
import {
  AckQueue,
  bridgeFilters,
  mqttBridgeConfigSchema,
  openMqttSession,
  recordOf,
  startMqttBridge,
} from '../../../gateways/mqtt/index.ts';
import type { IngestEnvelope } from '../../../topology/index.ts';
import { silentLogger, systemClock } from '../../../topology/index.ts';

const decoder = new TextDecoder();
const envelopeIn = (data: Uint8Array) => JSON.parse(decoder.decode(data)) as IngestEnvelope;
const bytes = (text: string) => new TextEncoder().encode(text);

describe('AckQueue', () => {
  it('acknowledges in receive order whatever order the records become durable in', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 1500 })
          .chain((n) =>
            fc.tuple(
              fc.constant(n),
              fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }),
            ),
          ),
        ([n, order]) => {
          const sent: number[] = [];
          const queue = new AckQueue((id) => sent.push(id));
          const slots = Array.from({ length: n }, (_, i) => queue.add((i % 65_535) + 1));
          for (const [k, i] of order.entries()) {
            queue.settle(slots[i]!);
            // Nothing is acknowledged past the first slot not yet durable.
            expect(sent.length).toBeLessThanOrEqual(n);
            expect(queue.pending).toBe(n - sent.length);
            if (k < n - 1) expect(sent.length).toBeLessThan(n);
          }
          expect(sent).toEqual(slots.map((s) => s.messageId));
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe('recordOf', () => {
  it('keys hub and child topics by the hub and standalone topics by the device', () => {
    const hub = recordOf({ topic: 'devices/hub-1/telemetry', payload: bytes('{"t":1}') }, '', 7);
    const child = recordOf({ topic: 'devices/hub-1/child/dev-9/telemetry', payload: bytes('x') }, '', 7);
    expect(hub.record.partitionKey).toBe('hub-1');
    expect(child.record.partitionKey).toBe('hub-1');
    expect(hub.rejected).toBeUndefined();
    expect(envelopeIn(child.record.data)).toEqual({
      v: 1,
      protocol: 'mqtt',
      topic: 'devices/hub-1/child/dev-9/telemetry',
      receivedAt: 7,
      encoding: 'utf8',
      payload: 'x',
    });
  });

  it('strips the configured prefix from the topic it keeps', () => {
    const { record } = recordOf({ topic: 'site/a/devices/d1/telemetry', payload: bytes('1') }, 'site/a', 1);
    expect(record.partitionKey).toBe('d1');
    expect(envelopeIn(record.data).topic).toBe('devices/d1/telemetry');
  });

  it('keeps what is not telemetry as rejected envelopes, under a key Kinesis accepts', () => {
    const empty = recordOf({ topic: 'devices/d1/telemetry', payload: new Uint8Array() }, '', 1);
    expect(empty.rejected).toBe('an empty payload');
    expect(envelopeIn(empty.record.data).rejected).toBe('an empty payload');
    const blank = recordOf({ topic: 'devices//telemetry', payload: bytes('1') }, '', 1);
    expect(blank.record.partitionKey).toBe('mqtt-rejected');
    expect(envelopeIn(blank.record.data).rejected).toBe('not a platform telemetry topic');
    const long = recordOf({ topic: `devices/${'é'.repeat(200)}/telemetry`, payload: bytes('1') }, '', 1);
    expect(long.record.partitionKey).toBe('mqtt-rejected');
    expect(long.rejected).toMatch(/partition key/);
  });

  it('cuts a payload too large for a Kinesis record and says so', () => {
    const payload = new Uint8Array(1024 * 1024).fill(0xff);
    const { record, rejected } = recordOf({ topic: 'devices/d1/telemetry', payload }, '', 1);
    expect(rejected).toMatch(/too large/);
    expect(record.data.byteLength).toBeLessThan(1024 * 1024);
    const envelope = envelopeIn(record.data);
    expect(envelope.encoding).toBe('base64');
    expect(Buffer.from(envelope.payload, 'base64').byteLength).toBe(256 * 1024);
  });
});

describe('mqtt bridge configuration', () => {
  it('takes credentials only from the environment, and a password only with a username', () => {
    expect(
      mqttBridgeConfigSchema.safeParse({ url: 'mqtt://h:1883', passwordEnv: 'MQTT_PASSWORD' }).error
        ?.issues[0]?.path,
    ).toEqual(['passwordEnv']);
    const config = mqttBridgeConfigSchema.parse({
      url: 'mqtt://h:1883',
      usernameEnv: 'SHARDFLOW_TEST_MQTT_USER',
      passwordEnv: 'SHARDFLOW_TEST_MQTT_PASSWORD',
    });
    expect(() =>
      startMqttBridge({
        config,
        ingest: {} as DurableIngest,
        clock: systemClock,
        env: { SHARDFLOW_TEST_MQTT_USER: 'u' },
      }),
    ).toThrow(/SHARDFLOW_TEST_MQTT_PASSWORD is not set/);
  });

  it('fills in defaults and subscribes to the topic shapes, shared and prefixed when asked', () => {
    const config = mqttBridgeConfigSchema.parse({ url: 'mqtt://127.0.0.1:1883' });
    expect(config).toMatchObject({
      protocolVersion: 5,
      maxInFlight: 1000,
      topicPrefix: '',
      keepaliveSeconds: 30,
    });
    expect(bridgeFilters(config)).toEqual(['devices/+/telemetry', 'devices/+/child/+/telemetry']);
    expect(bridgeFilters({ topicPrefix: 'eu', shareGroup: 'g' })).toEqual([
      '$share/g/eu/devices/+/telemetry',
      '$share/g/eu/devices/+/child/+/telemetry',
    ]);
  });

  it('names the key of a wrong or unknown setting', () => {
    const wrong = mqttBridgeConfigSchema.safeParse({ url: 'http://x', shareGroup: 'a/b', passwrd: 'x' });
    expect(wrong.success).toBe(false);
    const paths = wrong.error!.issues.map((i) => i.path.join('.') || i.message);
    expect(paths).toEqual(expect.arrayContaining(['url', 'shareGroup']));
    expect(JSON.stringify(wrong.error!.issues)).toContain('passwrd');
  });
});

/** A broker that answers CONNECT (and SUBSCRIBE) as told, then sends `bytes` and hangs up. */
function fakeBroker(
  script: { connack: boolean; suback: boolean; bytes: Uint8Array[] },
  version: 4 | 5,
): Duplex {
  const opts = { protocolVersion: version };
  const replies: Buffer[] = [];
  if (script.connack)
    replies.push(
      mqttPacket.generate(
        version === 5
          ? { cmd: 'connack', sessionPresent: false, reasonCode: 0 }
          : { cmd: 'connack', sessionPresent: false, returnCode: 0 },
        opts,
      ),
    );
  if (script.connack && script.suback)
    replies.push(mqttPacket.generate({ cmd: 'suback', messageId: 1, granted: [1, 1] }, opts));
  const socket: Duplex = new Duplex({
    read() {},
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
  setImmediate(() => {
    for (const reply of replies) socket.push(reply);
    for (const chunk of script.bytes) socket.push(Buffer.from(chunk));
    socket.push(null);
  });
  return socket;
}

describe('MQTT session fed random bytes by a fake broker', () => {
  it('ends with a reason and never throws', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          connack: fc.boolean(),
          suback: fc.boolean(),
          bytes: fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 5 }),
        }),
        fc.constantFrom(4 as const, 5 as const),
        async (script, version) => {
          const published: unknown[] = [];
          const session = openMqttSession({
            socket: fakeBroker(script, version),
            protocolVersion: version,
            clientId: 'fuzz',
            keepaliveSeconds: 30,
            sessionExpirySeconds: 60,
            receiveMaximum: 10,
            filters: ['devices/+/telemetry', 'devices/+/child/+/telemetry'],
            connectTimeoutMs: 5000,
            clock: systemClock,
            log: silentLogger,
            onPublish: (publish) => {
              published.push(publish);
              if (publish.messageId !== undefined) session.puback(publish.messageId);
            },
          });
          const reason = await session.ended;
          expect(reason).toBeInstanceOf(Error);
          expect(session.state).toBe('ended');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('ends on a QoS 2 PUBLISH and on a PUBLISH before CONNACK', async () => {
    const qos2 = mqttPacket.generate(
      {
        cmd: 'publish',
        topic: 'devices/d/telemetry',
        payload: Buffer.from('x'),
        qos: 2,
        messageId: 5,
        dup: false,
        retain: false,
      },
      { protocolVersion: 4 },
    );
    for (const connack of [true, false]) {
      const session = openMqttSession({
        socket: fakeBroker({ connack, suback: true, bytes: [qos2] }, 4),
        protocolVersion: 4,
        clientId: 'fuzz',
        keepaliveSeconds: 30,
        sessionExpirySeconds: 60,
        receiveMaximum: 10,
        filters: ['devices/+/telemetry', 'devices/+/child/+/telemetry'],
        connectTimeoutMs: 5000,
        clock: systemClock,
        onPublish: () => {
          throw new Error('no PUBLISH should be handed on');
        },
      });
      const reason = await session.ended;
      expect(reason?.message).toMatch(connack ? /QoS 2/ : /before CONNACK/);
    }
  });
});
