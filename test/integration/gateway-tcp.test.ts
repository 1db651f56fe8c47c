/**
 * The TCP gateway against kinesalite, with real `net` clients as devices: frames become envelopes on
 * the stream under the device's key, in order; acks come only once the record is in the stream, in
 * frame order; broken framing, idle and surplus connections end one connection, never the gateway.
 */
import { connect, type Socket } from 'node:net';
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type DurableIngest, durableIngest, type IngestLimits } from '../../gateways/ingest/durableIngest.ts';
import type { PayloadKeyFinder } from '../../gateways/ingest/envelope.ts';
import { startTcpGateway, type TcpGateway, tcpGatewayConfigSchema } from '../../gateways/tcp/index.ts';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { deaggregate } from '../../sources/kinesis/retrieval/kpl.ts';
import { type IngestEnvelope, systemClock } from '../../topology/index.ts';
import { createStream, uniqueStream } from '../support/kinesis.ts';
import { testEnv, waitFor } from '../support/wait.ts';

const endpoint = testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT');
const FAST: Partial<IngestLimits> = { lingerMs: 5, initialRetryDelayMs: 50, maxRetryDelayMs: 200 };

/** A record as read back: its key and envelope. */
interface Landed {
  readonly partitionKey: string;
  readonly envelope: IngestEnvelope;
}

/** Everything on the stream, each shard in order, KPL aggregates opened. */
async function readStream(client: KinesisClient, stream: string): Promise<Landed[]> {
  const shards = (await client.send(new ListShardsCommand({ StreamName: stream }))).Shards ?? [];
  const landed: Landed[] = [];
  for (const shard of shards) {
    let iterator = (
      await client.send(
        new GetShardIteratorCommand({
          StreamName: stream,
          ShardId: shard.ShardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      )
    ).ShardIterator;
    for (;;) {
      const out = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      for (const record of out.Records ?? []) {
        const opened = deaggregate(record.Data!);
        const users =
          opened.kind === 'aggregate'
            ? opened.records
            : [{ partitionKey: record.PartitionKey!, data: record.Data! }];
        for (const user of users)
          landed.push({
            partitionKey: user.partitionKey,
            envelope: JSON.parse(Buffer.from(user.data).toString('utf8')),
          });
      }
      if ((out.Records ?? []).length === 0) break;
      iterator = out.NextShardIterator;
    }
  }
  return landed;
}

const payloadOf = (e: IngestEnvelope) =>
  e.encoding === 'base64' ? Buffer.from(e.payload, 'base64').toString('utf8') : e.payload;

/** A device: a real TCP client that counts what the gateway writes back. */
class Device {
  received = Buffer.alloc(0);
  ended = false;
  readonly closed: Promise<void>;
  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
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

    const landed = await readStream(client, stream);
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
    const landed = await readStream(client, stream);
    expect(landed.map((l) => l.envelope.payload)).toEqual(bodies);

    // and one at a time: an ack means the frame is already readable
    for (let n = 20; n < 25; n++) {
      d.write(`{"device":"d-ack","n":${n}}\n`);
      await d.acks(n + 1, '+');
      const now = await readStream(client, stream);
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
    const landed = await readStream(client, stream);
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

    const landed = await readStream(client, stream);
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
    const landed = await readStream(client, stream);
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
    expect((await readStream(client, stream)).map((l) => l.envelope.payload)).toHaveLength(2);
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
