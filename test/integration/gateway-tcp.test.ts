/**
 * The TCP gateway against kinesalite, with real `net` clients as devices: frames become envelopes on
 * the stream under the device's key, in order; acks come only once the record is in the stream, in
 * frame order; broken framing, idle and surplus connections end one connection, never the gateway.
 */
import { connect, type Socket } from 'node:net';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type DurableIngest, durableIngest, type IngestLimits } from '../../gateways/ingest/durableIngest.ts';
import type { PayloadKeyFinder } from '../../gateways/ingest/envelope.ts';
import { startTcpGateway, type TcpGateway, tcpGatewayConfigSchema } from '../../gateways/tcp/index.ts';
import { type KinesisFaultProxy, startKinesisFaultProxy } from '../../infra/local/kinesisFaults.ts';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { type IngestEnvelope, systemClock } from '../../topology/index.ts';
import { createStream, readStream, uniqueStream } from '../support/kinesis.ts';
import { testEnv, waitFor } from '../support/wait.ts';

const endpoint = testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT');
const FAST: Partial<IngestLimits> = { lingerMs: 5, initialRetryDelayMs: 50, maxRetryDelayMs: 200 };

/** A record as read back: its key and envelope. */
interface Landed {
  readonly partitionKey: string;
  readonly envelope: IngestEnvelope;
}

/** Everything on the stream, each shard in order, KPL aggregates opened, as envelopes. */
async function landedOn(client: KinesisClient, stream: string): Promise<Landed[]> {
  return (await readStream(client, stream)).map((r) => ({
    partitionKey: r.partitionKey,
    envelope: JSON.parse(r.data.toString('utf8')) as IngestEnvelope,
  }));
}

const payloadOf = (e: IngestEnvelope) =>
  e.encoding === 'base64' ? Buffer.from(e.payload, 'base64').toString('utf8') : e.payload;

/** A device: a real TCP client that counts what the gateway writes back. */
class Device {
  received = Buffer.alloc(0);
  receivedBytes = 0;
  ended = false;
  readonly closed: Promise<void>;
  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.receivedBytes += chunk.byteLength;
      if (this.receivedBytes <= 64 * 1024) this.received = Buffer.concat([this.received, chunk]);
    });
    socket.on('error', () => {});
    socket.on('end', () => {
      // a device closes when the gateway does (it may have half-closed first, to read its acks)
      this.ended = true;
      socket.end();
    });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static open(port: number): Promise<Device> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () =>
        resolve(new Device(socket)),
      );
      socket.once('error', reject);
    });
  }

  write(bytes: Uint8Array | string): void {
    this.socket.write(bytes);
  }

  async acks(count: number, ack: string, what = `${count} acks`): Promise<void> {
    await waitFor(what, () => this.received.toString('utf8') === ack.repeat(count), 15_000);
  }
}

/** A length-prefixed frame (2 bytes, big-endian) holding `body`. */
function lengthFrame(body: string): Buffer {
  const data = Buffer.from(body, 'utf8');
  const frame = Buffer.alloc(2 + data.byteLength);
  frame.writeUInt16BE(data.byteLength, 0);
  data.copy(frame, 2);
  return frame;
}

/** JSON frames: the hub's key for hub and child frames, the device's for standalone ones. */
const keyFinder: PayloadKeyFinder = (payload) => {
  const text = Buffer.from(payload).toString('utf8');
  const body = text.startsWith('{') ? text : text.slice(2);
  try {
    const parsed = JSON.parse(body) as { hub?: string; device?: string };
    return parsed.hub ?? parsed.device;
  } catch {
    return undefined;
  }
};

describe('TCP gateway (kinesalite, real sockets)', () => {
  let client: KinesisClient;
  let stream: string;
  let ingest: DurableIngest;
  let gateway: TcpGateway | undefined;
  const devices: Device[] = [];

  beforeAll(() => {
    client = createKinesisClient({ region: 'us-east-1', endpoint });
  });
  afterAll(() => client?.destroy());
  afterEach(async () => {
    for (const d of devices.splice(0)) d.socket.destroy();
    await gateway?.close();
    gateway = undefined;
    await ingest?.close(1_000);
  });

  async function start(
    listeners: unknown[],
    opts: { limits?: Partial<IngestLimits>; create?: boolean } = {},
  ) {
    stream = uniqueStream('tcp');
    if (opts.create !== false) await createStream(client, stream, 2);
    ingest = durableIngest({
      client,
      streamName: stream,
      clock: systemClock,
      limits: { ...FAST, ...opts.limits },
    });
    const config = tcpGatewayConfigSchema.parse({ listeners, drainTimeoutMs: 2_000 });
    gateway = await startTcpGateway({ config, ingest, clock: systemClock, keyFinder });
    return gateway;
  }

  async function device(port: number): Promise<Device> {
    const d = await Device.open(port);
    devices.push(d);
    return d;
  }

  it('puts the frames of several devices on length-prefix and delimiter listeners in order, each acked once in the stream', async () => {
    const g = await start([
      {
        port: 0,
        host: '127.0.0.1',
        productId: 'meter-m1',
        framing: { kind: 'length-prefix' },
        ack: { hex: '06' },
      },
      {
        port: 0,
        host: '127.0.0.1',
        productId: 'thermo-t1',
        framing: { kind: 'delimiter', delimiter: { text: '\n' } },
        ack: { text: 'K' },
      },
    ]);
    expect(g.ready()).toBe(true);
    const [meters, thermos] = g.addresses;
    const perDevice = 40;
    const sent = new Map<string, string[]>();
    const runs = Array.from({ length: 6 }, async (_, i) => {
      const binary = i % 2 === 0;
      const id = `${binary ? 'm' : 't'}-${i}`;
      const d = await device(binary ? meters!.port : thermos!.port);
      const bodies = Array.from({ length: perDevice }, (_, n) => JSON.stringify({ device: id, n }));
      sent.set(id, bodies);
      const bytes = Buffer.concat(bodies.map((b) => (binary ? lengthFrame(b) : Buffer.from(`${b}\n`))));
      // in uneven chunks, so that frames straddle reads
      for (let at = 0; at < bytes.byteLength; at += 37) {
        d.write(bytes.subarray(at, at + 37));
        if (at % 370 === 0) await new Promise((r) => setTimeout(r, 2));
      }
      d.socket.end(); // half-close: the acks still come back, then the gateway ends its side
      await d.acks(perDevice, binary ? '\x06' : 'K');
      await d.closed;
      expect(d.ended).toBe(true);
    });
    await Promise.all(runs);

    const landed = await landedOn(client, stream);
    expect(landed).toHaveLength(6 * perDevice);
    for (const [id, bodies] of sent) {
      const mine = landed.filter((l) => l.partitionKey === id);
      const binary = id.startsWith('m');
      expect(mine.map((l) => (binary ? payloadOf(l.envelope).slice(2) : payloadOf(l.envelope)))).toEqual(
        bodies,
      );
      for (const { envelope } of mine) {
        expect(envelope).toMatchObject({
          v: 1,
          protocol: 'tcp',
          productId: binary ? 'meter-m1' : 'thermo-t1',
        });
        expect(envelope.source).toMatch(/^tcp:127\.0\.0\.1:\d+$/);
        expect(envelope.rejected).toBeUndefined();
      }
    }
    // the binary frame keeps its length field: base64; the text line travels as utf8
    expect(landed.find((l) => l.partitionKey === 'm-0')!.envelope.encoding).toBe('base64');
    expect(landed.find((l) => l.partitionKey === 't-1')!.envelope.encoding).toBe('utf8');
    expect(g.stats()).toMatchObject({
      messages: 240,
      acknowledged: 240,
      connectionsAccepted: 6,
      malformed: 0,
    });
    await waitFor('connections closed', () => g.stats().connections === 0);
  });

  it('acknowledges nothing until the records are in the stream, then every frame in order', async () => {
    // the stream does not exist yet: every PutRecords fails and is retried
    const g = await start([{ port: 0, host: '127.0.0.1', framing: { kind: 'lines' }, ack: { text: '+' } }], {
      create: false,
    });
    const d = await device(g.addresses[0]!.port);
    const bodies = Array.from({ length: 20 }, (_, n) => `{"device":"d-ack","n":${n}}`);
    d.write(bodies.map((b) => `${b}\r\n`).join(''));
    await waitFor('the frames read', () => g.stats().messages === 20);
    await new Promise((r) => setTimeout(r, 500));
    expect(d.received.byteLength).toBe(0);
    expect(ingest.stats().requestsFailed + ingest.stats().entriesFailed).toBeGreaterThan(0);

    await createStream(client, stream, 1);
    await d.acks(20, '+');
    const landed = await landedOn(client, stream);
    expect(landed.map((l) => l.envelope.payload)).toEqual(bodies);

    // and one at a time: an ack means the frame is already readable
    for (let n = 20; n < 25; n++) {
      d.write(`{"device":"d-ack","n":${n}}\n`);
      await d.acks(n + 1, '+');
      const now = await landedOn(client, stream);
      expect(now.at(-1)!.envelope.payload).toBe(`{"device":"d-ack","n":${n}}`);
    }
  });

  it("keys a hub's and its children's frames by the hub, a standalone device by itself, and keyless frames by the connection", async () => {
    const g = await start([{ port: 0, host: '127.0.0.1', framing: { kind: 'lines' }, ack: { text: '.' } }]);
    const hub = await device(g.addresses[0]!.port);
    hub.write('no key yet\n{"hub":"hub-1","device":"child-7"}\n{"hub":"hub-1"}\nstill hub-1\n');
    await hub.acks(4, '.');
    const solo = await device(g.addresses[0]!.port);
    solo.write('{"device":"solo-3"}\n');
    await solo.acks(1, '.');
    const landed = await landedOn(client, stream);
    const keyOf = (payload: string) => landed.find((l) => l.envelope.payload === payload)?.partitionKey;
    expect(keyOf('no key yet')).toBe(`tcp:127.0.0.1:${hub.socket.localPort}`);
    expect(keyOf('{"hub":"hub-1","device":"child-7"}')).toBe('hub-1');
    expect(keyOf('{"hub":"hub-1"}')).toBe('hub-1');
    expect(keyOf('still hub-1')).toBe('hub-1');
    expect(keyOf('{"device":"solo-3"}')).toBe('solo-3');
  });

  it('keeps broken framing as a rejected envelope after the good frames, closes that connection only', async () => {
    const g = await start([
      {
        port: 0,
        host: '127.0.0.1',
        name: 'meters',
        framing: { kind: 'length-prefix', maxFrameBytes: 64 },
        ack: { hex: '06' },
      },
    ]);
    const port = g.addresses[0]!.port;
    const good = await device(port);
    const bad = await device(port);
    const garbage = Buffer.from([0xff, 0xff, 1, 2, 3, 4]);
    bad.write(Buffer.concat([lengthFrame('{"device":"bad-1","n":0}'), garbage]));
    await bad.closed;
    expect(bad.received.toString('latin1')).toBe('\x06'); // the good frame before the garbage was acked
    good.write(lengthFrame('{"device":"good-1","n":0}'));
    await good.acks(1, '\x06');
    good.write(lengthFrame('{"device":"good-1","n":1}'));
    await good.acks(2, '\x06');

    const landed = await landedOn(client, stream);
    const bads = landed.filter((l) => l.partitionKey === 'bad-1');
    expect(bads).toHaveLength(2);
    expect(bads[0]!.envelope.rejected).toBeUndefined();
    expect(bads[1]!.envelope).toMatchObject({ protocol: 'tcp', source: 'meters', encoding: 'base64' });
    expect(bads[1]!.envelope.rejected).toMatch(/length field of 65535/);
    expect(Buffer.from(bads[1]!.envelope.payload, 'base64')).toEqual(garbage);
    expect(landed.filter((l) => l.partitionKey === 'good-1')).toHaveLength(2);
    expect(g.stats()).toMatchObject({ malformed: 1, rejectedDurable: 1, acknowledged: 3 });
    expect(g.ready()).toBe(true);
  });

  it('closes an idle connection, keeping the bytes of its unfinished frame', async () => {
    const g = await start([
      {
        port: 0,
        host: '127.0.0.1',
        idleTimeoutMs: 300,
        framing: { kind: 'length-prefix' },
        ack: { hex: '06' },
      },
    ]);
    const silent = await device(g.addresses[0]!.port);
    const half = await device(g.addresses[0]!.port);
    half.write(Buffer.concat([lengthFrame('{"device":"half-1"}'), Buffer.from([0, 9, 1, 2])]));
    const started = Date.now();
    await Promise.all([silent.closed, half.closed]);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(half.received.toString('latin1')).toBe('\x06');
    expect(g.stats()).toMatchObject({ idleClosed: 2, leftovers: 1 });
    const landed = await landedOn(client, stream);
    expect(landed.map((l) => l.partitionKey)).toEqual(['half-1', 'half-1']);
    expect(landed[1]!.envelope.rejected).toMatch(/went idle.*ended inside a frame/);
    expect(Buffer.from(landed[1]!.envelope.payload, 'base64')).toEqual(Buffer.from([0, 9, 1, 2]));
  });

  it('closes a connection over maxConnections at once and keeps serving the others', async () => {
    const g = await start([
      { port: 0, host: '127.0.0.1', maxConnections: 2, framing: { kind: 'lines' }, ack: { text: '+' } },
    ]);
    const port = g.addresses[0]!.port;
    const first = await device(port);
    const second = await device(port);
    await waitFor('two connections', () => g.stats().connections === 2);
    const third = await device(port);
    await third.closed;
    expect(g.stats()).toMatchObject({ connections: 2, connectionsRefused: 1 });
    first.write('{"device":"a"}\n');
    second.write('{"device":"b"}\n');
    await first.acks(1, '+');
    await second.acks(1, '+');
    first.socket.destroy();
    await waitFor('a free place', () => g.stats().connections === 1);
    const fourth = await device(port);
    fourth.write('{"device":"c"}\n');
    await fourth.acks(1, '+');
  });

  it('closes gracefully: stops listening, acknowledges what it read, then ends the sockets', async () => {
    const g = await start([{ port: 0, host: '127.0.0.1', framing: { kind: 'lines' }, ack: { text: '+' } }], {
      limits: { lingerMs: 200 },
    });
    const d = await device(g.addresses[0]!.port);
    d.write('{"device":"x","n":1}\n{"device":"x","n":2}\n');
    await waitFor('the frames read', () => g.stats().messages === 2);
    expect(d.received.byteLength).toBe(0); // still lingering in the ingest
    const closing = g.close();
    expect(g.ready()).toBe(false);
    await closing;
    await d.closed;
    expect(d.received.toString()).toBe('++');
    await expect(Device.open(g.addresses[0]!.port)).rejects.toThrow();
    expect((await landedOn(client, stream)).map((l) => l.envelope.payload)).toHaveLength(2);
  });

  it("writes a frame's ack only after every earlier frame of the connection is durable", async () => {
    const g = await start([{ port: 0, host: '127.0.0.1', framing: { kind: 'lines' }, ack: { text: '+' } }]);
    // the same ingest, with the durability of key `slow` reported 400 ms late
    const real = ingest;
    const late: DurableIngest = {
      offer(record) {
        const admission = real.offer(record);
        if (!admission.accepted || record.partitionKey !== 'slow') return admission;
        return {
          accepted: true,
          durable: admission.durable.then(() => new Promise((r) => setTimeout(r, 400))),
        };
      },
      put: (record) => real.put(record),
      whenRoom: () => real.whenRoom(),
      get hasRoom() {
        return real.hasRoom;
      },
      get reachable() {
        return real.reachable;
      },
      stats: () => real.stats(),
      close: (drainMs) => real.close(drainMs),
    };
    await g.close();
    const config = tcpGatewayConfigSchema.parse({
      listeners: [{ port: 0, host: '127.0.0.1', framing: { kind: 'lines' }, ack: { text: '+' } }],
    });
    gateway = await startTcpGateway({ config, ingest: late, clock: systemClock, keyFinder });
    const d = await device(gateway.addresses[0]!.port);
    d.write('{"device":"slow"}\n{"device":"fast","n":1}\n{"device":"fast","n":2}\n');
    await waitFor('the later frames in the stream', async () => {
      const landed = await landedOn(client, stream);
      return landed.filter((l) => l.partitionKey === 'fast').length === 2;
    });
    expect(d.received.byteLength).toBe(0); // durable, but behind a frame that is not yet
    await d.acks(3, '+');
  });

  it('pushes back while Kinesis cannot take records: sockets paused, memory bounded, resumes by itself', async () => {
    const maxBufferedBytes = 256 * 1024;
    const g = await start(
      [{ port: 0, host: '127.0.0.1', framing: { kind: 'length-prefix' }, ack: { hex: '06' } }],
      { create: false, limits: { maxBufferedBytes } },
    );
    const perDevice = 1500;
    const filler = 'x'.repeat(700);
    const ds = await Promise.all([0, 1, 2].map(() => device(g.addresses[0]!.port)));
    let sent = 0;
    ds.forEach((d, i) => {
      for (let n = 0; n < perDevice; n++) {
        const frame = lengthFrame(JSON.stringify({ device: `bp-${i}`, n, filler }));
        sent += frame.byteLength;
        d.write(frame);
      }
    });
    await waitFor('every connection paused', () => g.stats().connectionsPaused === 3);
    await new Promise((r) => setTimeout(r, 500));
    const stalled = { gateway: g.stats(), ingest: ingest.stats() };
    expect(stalled.gateway.acknowledged).toBe(0);
    expect(ds.every((d) => d.received.byteLength === 0)).toBe(true);
    // the ingest holds at most its bound (plus one record); the rest waits in the kernels' buffers
    expect(stalled.ingest.bufferedBytes).toBeLessThanOrEqual(maxBufferedBytes + 1024);
    expect(stalled.gateway.bytesRead).toBeLessThan(sent / 2);
    expect(stalled.gateway.refused).toBeGreaterThan(0);

    await createStream(client, stream, 2);
    await Promise.all(ds.map((d) => d.acks(perDevice, '\x06', `${perDevice} acks after the stall`)));
    expect(g.stats().connectionsPaused).toBe(0);
    const landed = await landedOn(client, stream);
    expect(landed).toHaveLength(3 * perDevice);
    for (let i = 0; i < 3; i++) {
      const ns = landed
        .filter((l) => l.partitionKey === `bp-${i}`)
        .map((l) => (JSON.parse(payloadOf(l.envelope).slice(2)) as { n: number }).n);
      expect(ns).toEqual(Array.from({ length: perDevice }, (_, n) => n));
    }
  });

  it('stops reading a connection with maxPendingFramesPerConnection frames unacknowledged', async () => {
    const g = await start(
      [
        {
          port: 0,
          host: '127.0.0.1',
          maxPendingFramesPerConnection: 4,
          framing: { kind: 'length-prefix' },
          ack: { hex: '06' },
        },
      ],
      { limits: { lingerMs: 100 } },
    );
    const d = await device(g.addresses[0]!.port);
    const frames = 800;
    const filler = 'z'.repeat(500);
    for (let n = 0; n < frames; n++) d.write(lengthFrame(JSON.stringify({ device: 'pend', n, filler })));
    await waitFor('the connection paused', () => g.stats().connectionsPaused === 1);
    // at most the bound and one read's frames (64 KiB) are taken from the socket
    expect(g.stats().messages).toBeLessThanOrEqual(4 + Math.ceil((64 * 1024) / 500));
    expect(ingest.stats().bufferedRecords).toBeLessThanOrEqual(4 + Math.ceil((64 * 1024) / 500));
    await d.acks(frames, '\x06');
    expect(g.stats().pauses).toBeGreaterThan(5);
  });

  it('stops reading a device that does not read its acks, until it does', async () => {
    const ack = 'A'.repeat(3000);
    const g = await start([{ port: 0, host: '127.0.0.1', framing: { kind: 'lines' }, ack: { text: ack } }]);
    const d = await device(g.addresses[0]!.port);
    d.socket.pause(); // the device reads nothing: the kernels' buffers fill, then the gateway's
    const frames = 4_000;
    for (let n = 0; n < frames; n++) d.write(`{"device":"deaf-${n % 8}","n":${n}}\n`);
    await waitFor('the connection paused', () => g.stats().connectionsPaused === 1, 15_000);
    await new Promise((r) => setTimeout(r, 300));
    const stuck = g.stats();
    expect(stuck.connectionsPaused).toBe(1);
    expect(stuck.messages).toBeLessThan(frames);
    d.socket.resume();
    await waitFor(`${frames} acks`, () => d.receivedBytes === frames * ack.length, 30_000);
    expect(g.stats()).toMatchObject({ acknowledged: frames, connectionsPaused: 0 });
  });

  it('survives random bytes in random chunks (fast-check): every connection ends or stays sane', async () => {
    const g = await start([
      {
        port: 0,
        host: '127.0.0.1',
        idleTimeoutMs: 500,
        framing: { kind: 'length-prefix', maxFrameBytes: 256 },
        ack: { hex: '06' },
      },
      {
        port: 0,
        host: '127.0.0.1',
        idleTimeoutMs: 500,
        framing: { kind: 'delimiter', delimiter: { hex: '0d0a' }, maxFrameBytes: 64 },
        ack: { hex: '06' },
      },
    ]);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 1 }),
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        async (listener, chunks, endIt) => {
          const d = await Device.open(g.addresses[listener]!.port);
          for (const chunk of chunks) d.write(chunk);
          if (endIt) d.socket.end();
          // the gateway ends it: broken framing, end of stream or idle timeout
          await Promise.race([
            d.closed,
            new Promise((_, reject) => setTimeout(() => reject(new Error('connection never ended')), 5_000)),
          ]);
          // every ack byte is an ack, never more than the frames it read
          expect([...d.received].every((b) => b === 0x06)).toBe(true);
        },
      ),
      { numRuns: 25 },
    );
    await waitFor('every connection closed', () => g.stats().connections === 0);
    const s = g.stats();
    expect(s.acknowledged + s.acksLost).toBeLessThanOrEqual(s.messages);
    // still serving
    const d = await device(g.addresses[1]!.port);
    d.write('{"device":"after-fuzz"}\r\n');
    await d.acks(1, '\x06');
    expect(g.ready()).toBe(true);
  });
});

describe('TCP gateway through a faulty Kinesis (fault proxy)', () => {
  const STALL_MS = Number(process.env.GATEWAY_STALL_MS ?? 5_000);
  let proxy: KinesisFaultProxy;
  let direct: KinesisClient;
  let faulty: KinesisClient;
  let ingest: DurableIngest | undefined;
  let gateway: TcpGateway | undefined;
  const sockets: Device[] = [];

  beforeAll(async () => {
    proxy = await startKinesisFaultProxy({ target: endpoint, seed: 23 });
    direct = createKinesisClient({ region: 'us-east-1', endpoint });
    faulty = createKinesisClient({
      region: 'us-east-1',
      endpoint: proxy.endpoint,
      maxAttempts: 1,
      requestTimeoutMs: 1_000,
    });
  });
  afterEach(async () => {
    proxy.set({ stalled: false, entryFailureRate: 0, throttleRate: 0 });
    for (const d of sockets.splice(0)) d.socket.destroy();
    await gateway?.close();
    gateway = undefined;
    await ingest?.close(1_000);
  });
  afterAll(async () => {
    faulty?.destroy();
    direct?.destroy();
    await proxy?.close();
  });

  async function start(stream: string, limits: Partial<IngestLimits>): Promise<TcpGateway> {
    await createStream(direct, stream, 2);
    ingest = durableIngest({
      client: faulty,
      streamName: stream,
      clock: systemClock,
      limits: { ...FAST, ...limits },
    });
    const config = tcpGatewayConfigSchema.parse({
      listeners: [{ port: 0, host: '127.0.0.1', framing: { kind: 'length-prefix' }, ack: { hex: '06' } }],
    });
    gateway = await startTcpGateway({ config, ingest, clock: systemClock, keyFinder });
    return gateway;
  }

  async function devicesOn(port: number, count: number): Promise<Device[]> {
    const ds = await Promise.all(Array.from({ length: count }, () => Device.open(port)));
    sockets.push(...ds);
    return ds;
  }

  const numbersOf = (landed: Landed[], key: string) =>
    landed
      .filter((l) => l.partitionKey === key)
      .map((l) => (JSON.parse(payloadOf(l.envelope).slice(2)) as { n: number }).n);

  it('with a fifth of the entries failed and of the requests throttled, every acked frame is in the stream once, in order', async () => {
    const stream = uniqueStream('tcp-faults');
    const g = await start(stream, {});
    proxy.set({ entryFailureRate: 0.2, throttleRate: 0.2 });
    const perDevice = 150;
    const ds = await devicesOn(g.addresses[0]!.port, 5);
    ds.forEach((d, i) => {
      for (let n = 0; n < perDevice; n++) d.write(lengthFrame(JSON.stringify({ device: `f-${i}`, n })));
    });
    await Promise.all(ds.map((d) => d.acks(perDevice, '\x06')));
    expect(proxy.stats().entriesFailed + proxy.stats().throttled).toBeGreaterThan(0);
    const landed = await landedOn(direct, stream);
    for (let i = 0; i < 5; i++)
      expect(numbersOf(landed, `f-${i}`)).toEqual(Array.from({ length: perDevice }, (_, n) => n));
  });

  it('with Kinesis stalled: sockets paused, the ingest within its bound, acks resume by themselves', async () => {
    const stream = uniqueStream('tcp-stall');
    const maxBufferedBytes = 256 * 1024;
    const g = await start(stream, { maxBufferedBytes });
    const ds = await devicesOn(g.addresses[0]!.port, 3);
    ds[0]!.write(lengthFrame(JSON.stringify({ device: 's-0', n: -1 })));
    await ds[0]!.acks(1, '\x06');
    ds[0]!.received = Buffer.alloc(0);

    proxy.set({ stalled: true });
    const perDevice = 1500;
    const filler = 'y'.repeat(700);
    let sent = 0;
    ds.forEach((d, i) => {
      for (let n = 0; n < perDevice; n++) {
        const frame = lengthFrame(JSON.stringify({ device: `s-${i}`, n, filler }));
        sent += frame.byteLength;
        d.write(frame);
      }
    });
    let maxBuffered = 0;
    const sampling = setInterval(() => {
      maxBuffered = Math.max(maxBuffered, ingest!.stats().bufferedBytes);
    }, 20);
    try {
      await new Promise((r) => setTimeout(r, STALL_MS));
      const stalled = g.stats();
      expect(stalled.connectionsPaused).toBe(3);
      expect(ds.every((d) => d.received.byteLength === 0)).toBe(true);
      expect(maxBuffered).toBeLessThanOrEqual(maxBufferedBytes + 1024);
      expect(stalled.bytesRead).toBeLessThan(sent / 2);
      expect(ingest!.reachable).toBe(false);
    } finally {
      clearInterval(sampling);
      proxy.set({ stalled: false });
    }
    await Promise.all(ds.map((d) => d.acks(perDevice, '\x06', `${perDevice} acks after the stall`)));
    expect(g.stats().connectionsPaused).toBe(0);
    const landed = await landedOn(direct, stream);
    expect(numbersOf(landed, 's-0')).toEqual([-1, ...Array.from({ length: perDevice }, (_, n) => n)]);
    for (const i of [1, 2])
      expect(numbersOf(landed, `s-${i}`)).toEqual(Array.from({ length: perDevice }, (_, n) => n));
  });
});
