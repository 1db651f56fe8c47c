/**
 * The REST gateway against kinesalite, with real HTTP clients (fetch, raw sockets): posts land on the
 * stream as ingest envelopes under the device's partition key, 202 comes only once they are durable,
 * every refusal has its status and a JSON body, and API keys guard it.
 */
import { createServer } from 'node:net';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { createStream, uniqueStream } from '../support/kinesis.ts';
import { type RestUnderTest, rawRequest, readStream, startRest } from '../support/restGateway.ts';
import { testEnv } from '../support/wait.ts';

const endpoint = testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT');
const KEY = 'k-0123456789abcdef0123';
const env = { REST_TEST_KEYS: `hub-42:${KEY},partner:p-9999999999999999` };
const auth = { apiKeysEnv: 'REST_TEST_KEYS' };

/** An endpoint where nothing listens: the stream never answers. */
async function deadEndpoint(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

describe('REST gateway into kinesalite', () => {
  let client: KinesisClient;
  let stream: string;
  let rest: RestUnderTest;

  beforeAll(async () => {
    client = createKinesisClient({ region: 'us-east-1', endpoint });
    stream = uniqueStream('rest');
    await createStream(client, stream, 2);
    rest = await startRest(endpoint, stream, { auth, maxBodyBytes: 4096, maxBatchMessages: 5 }, { env });
  });
  afterAll(async () => {
    await rest?.close();
    client?.destroy();
  });

  const post = (path: string, body: string | Uint8Array | undefined, headers: Record<string, string> = {}) =>
    fetch(`${rest.url}${path}`, { method: 'POST', body, headers: { 'x-api-key': KEY, ...headers } });

  it('puts a single post as a rest envelope under the device key, and answers 202 once it is in the stream', async () => {
    const before = (await readStream(client, stream)).length;
    const answer = await post('/v1/devices/therm-1/telemetry?productId=thermostat-v2', '{"t":21.5}', {
      'content-type': 'application/json',
    });
    expect(answer.status).toBe(202);
    expect(await answer.json()).toEqual({ accepted: 1 });
    // Read at once: a 202 means the record is already there.
    const landed = await readStream(client, stream);
    expect(landed.length).toBe(before + 1);
    const mine = landed.find((l) => l.envelope.topic === 'devices/therm-1/telemetry')!;
    expect(mine.partitionKey).toBe('therm-1');
    expect(mine.envelope).toMatchObject({
      v: 1,
      protocol: 'rest',
      source: 'rest:hub-42',
      productId: 'thermostat-v2',
      encoding: 'utf8',
      payload: '{"t":21.5}',
    });
    expect(Math.abs(mine.envelope.receivedAt - Date.now())).toBeLessThan(60_000);
  });

  it('keys a child by its hub, takes the product from the header, and keeps binary bytes as base64', async () => {
    const bytes = Buffer.from([0x00, 0xff, 0x10, 0x80, 0x7f]);
    const answer = await post('/v1/devices/hub%2D7/child/meter%203/telemetry', bytes, {
      'content-type': 'application/octet-stream',
      'x-product-id': 'meter-bin',
    });
    expect(answer.status).toBe(202);
    const mine = (await readStream(client, stream)).find(
      (l) => l.envelope.topic === 'devices/hub-7/child/meter 3/telemetry',
    )!;
    expect(mine.partitionKey).toBe('hub-7');
    expect(mine.envelope).toMatchObject({ productId: 'meter-bin', encoding: 'base64' });
    expect(Buffer.from(mine.envelope.payload, 'base64')).toEqual(bytes);
  });

  it('puts a batch whole, each encoding decoded to the same envelope as a single post, in order per device', async () => {
    const answer = await post(
      '/v1/telemetry:batch',
      JSON.stringify({
        messages: [
          { deviceId: 'b-1', payload: 'seq=1,t=20', productId: 'kv' },
          { deviceId: 'b-1', payload: Buffer.from('seq=2,t=21').toString('base64'), encoding: 'base64' },
          {
            deviceId: 'c-1',
            hubId: 'h-1',
            payload: '0102ff',
            encoding: 'hex',
            receivedAt: 1_700_000_000_000,
          },
          { deviceId: 'b-1', payload: Buffer.from('seq=3,t=22').toString('hex'), encoding: 'hex' },
          { deviceId: 'b-2', payload: 'x;y', receivedAt: '2026-01-01T00:00:00Z' },
        ],
      }),
      { 'content-type': 'application/json' },
    );
    expect(answer.status).toBe(202);
    expect(await answer.json()).toEqual({ accepted: 5 });
    const landed = await readStream(client, stream);
    const b1 = landed.filter((l) => l.envelope.topic === 'devices/b-1/telemetry');
    expect(b1.map((l) => l.envelope.payload)).toEqual(['seq=1,t=20', 'seq=2,t=21', 'seq=3,t=22']);
    expect(b1.every((l) => l.partitionKey === 'b-1' && l.envelope.encoding === 'utf8')).toBe(true);
    const child = landed.find((l) => l.envelope.topic === 'devices/h-1/child/c-1/telemetry')!;
    expect(child).toMatchObject({
      partitionKey: 'h-1',
      envelope: {
        encoding: 'base64',
        payload: Buffer.from([1, 2, 0xff]).toString('base64'),
        receivedAt: 1_700_000_000_000,
      },
    });
    const b2 = landed.find((l) => l.envelope.topic === 'devices/b-2/telemetry')!;
    expect(b2.envelope.receivedAt).toBe(Date.parse('2026-01-01T00:00:00Z'));
  });

  it('refuses a batch with one bad item whole, naming the item, and puts none of it', async () => {
    const before = (await readStream(client, stream)).length;
    const answer = await post(
      '/v1/telemetry:batch',
      JSON.stringify({
        messages: [
          { deviceId: 'ok-1', payload: 'a' },
          { deviceId: 'ok-2', payload: 'not hex!', encoding: 'hex' },
        ],
      }),
      { 'content-type': 'application/json' },
    );
    expect(answer.status).toBe(400);
    expect(await answer.json()).toEqual({
      error: 'bad-message',
      message: expect.stringMatching(/^messages\[1\] .*hex/),
    });
    expect((await readStream(client, stream)).length).toBe(before);
  });

  it.each([
    ['bad JSON', '/v1/telemetry:batch', '{"messages": [', 'bad-json'],
    ['no messages array', '/v1/telemetry:batch', '{"msgs": []}', 'bad-batch'],
    ['an empty batch', '/v1/telemetry:batch', '{"messages": []}', 'bad-batch'],
    [
      'an unknown encoding',
      '/v1/telemetry:batch',
      '{"messages": [{"deviceId":"d","payload":"a","encoding":"rot13"}]}',
      'bad-message',
    ],
    [
      'bad base64',
      '/v1/telemetry:batch',
      '{"messages": [{"deviceId":"d","payload":"@@","encoding":"base64"}]}',
      'bad-message',
    ],
    ['a device id with a slash', '/v1/devices/a%2Fb/telemetry', 'x', 'bad-id'],
    ['a device id with a control character', '/v1/devices/a%00b/telemetry', 'x', 'bad-id'],
    ['a device id of 129 characters', `/v1/devices/${'d'.repeat(129)}/telemetry`, 'x', 'bad-id'],
    ['broken percent-encoding', '/v1/devices/%E0%A4%A/telemetry', 'x', 'bad-id'],
    ['a bad product id', '/v1/devices/d/telemetry?productId=%0a', 'x', 'bad-product'],
    ['an empty payload', '/v1/devices/d/telemetry', '', 'empty-payload'],
  ])('answers 400 to %s', async (_, path, body, code) => {
    const answer = await post(
      path,
      body,
      path.includes('batch') ? { 'content-type': 'application/json' } : {},
    );
    expect(answer.status).toBe(400);
    const json = (await answer.json()) as { error: string; message: string };
    expect(json.error).toBe(code);
    expect(json.message.length).toBeGreaterThan(5);
  });

  it('answers 413 past the batch size, to a declared and to a chunked body past the limit', async () => {
    const many = { messages: Array.from({ length: 6 }, (_, i) => ({ deviceId: `d${i}`, payload: 'a' })) };
    const batch = await post('/v1/telemetry:batch', JSON.stringify(many), {
      'content-type': 'application/json',
    });
    expect(batch.status).toBe(413);
    expect(((await batch.json()) as { error: string }).error).toBe('too-many-messages');
    const declared = await post('/v1/devices/d/telemetry', 'x'.repeat(5000));
    expect(declared.status).toBe(413);
    expect(await declared.json()).toMatchObject({ error: 'body-too-large' });
    // Chunked with no declared length: cut once it passes the limit; the client may see the answer
    // or the connection closing.
    const chunk = `${(1024).toString(16)}\r\n${'y'.repeat(1024)}\r\n`;
    const chunked = await rawRequest(
      rest.gateway.port,
      `POST /v1/devices/d/telemetry HTTP/1.1\r\nhost: x\r\nx-api-key: ${KEY}\r\ntransfer-encoding: chunked\r\n\r\n${chunk.repeat(8)}0\r\n\r\n`,
    );
    expect(chunked.status).toBe(413);
    expect(chunked.text).toContain('"error":"body-too-large"');
  });

  it('answers 411 to a body of no declared length, 415 to a non-JSON batch or a compressed body', async () => {
    const noLength = await rawRequest(
      rest.gateway.port,
      `POST /v1/devices/d/telemetry HTTP/1.1\r\nhost: x\r\nx-api-key: ${KEY}\r\nconnection: close\r\n\r\n`,
    );
    expect(noLength.status).toBe(411);
    expect(noLength.text).toContain('"error":"length-required"');
    const csv = await post('/v1/telemetry:batch', 'a,b', { 'content-type': 'text/csv' });
    expect(csv.status).toBe(415);
    expect(await csv.json()).toMatchObject({ error: 'unsupported-media-type' });
    const gzip = await post('/v1/devices/d/telemetry', 'x', { 'content-encoding': 'gzip' });
    expect(gzip.status).toBe(415);
  });

  it('answers 404 to an unknown path and 405 with Allow to another method', async () => {
    const missing = await post('/v1/device/d/telemetry', 'x');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: 'not-found' });
    const get = await fetch(`${rest.url}/v1/devices/d/telemetry`, { headers: { 'x-api-key': KEY } });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect(await get.json()).toMatchObject({ error: 'method-not-allowed' });
  });

  it('answers 401 with WWW-Authenticate to a missing or unknown key, takes a Bearer key, and names the caller', async () => {
    const missing = await fetch(`${rest.url}/v1/devices/d/telemetry`, { method: 'POST', body: 'x' });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^ApiKey/);
    expect(await missing.json()).toMatchObject({
      error: 'unauthorized',
      message: expect.stringContaining('no API key'),
    });
    const wrong = await post('/v1/devices/d/telemetry', 'x', { 'x-api-key': `${KEY}x` });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ message: 'unknown API key' });
    const bearer = await fetch(`${rest.url}/v1/devices/by-partner/telemetry`, {
      method: 'POST',
      body: 'p=1',
      headers: { authorization: 'Bearer p-9999999999999999' },
    });
    expect(bearer.status).toBe(202);
    const mine = (await readStream(client, stream)).find(
      (l) => l.envelope.topic === 'devices/by-partner/telemetry',
    );
    expect(mine?.envelope.source).toBe('rest:partner');
    expect(rest.gateway.stats()).toMatchObject({ unauthorized: 2 });
  });

  it('counts what it did for /metrics and is ready', () => {
    const stats = rest.gateway.stats();
    expect(stats.acknowledged).toBe(8);
    expect(stats.malformed).toBeGreaterThanOrEqual(12);
    expect(stats.failed).toBe(0);
    expect(rest.gateway.ready()).toBe(true);
  });
});

describe('REST gateway when the stream does not answer', () => {
  it('never answers 202: 503 after the ack timeout, then 429 with Retry-After once the buffer is full', async () => {
    const rest = await startRest(
      await deadEndpoint(),
      'nowhere',
      { ackTimeoutMs: 300 },
      { limits: { maxBufferedRecords: 3 } },
    );
    try {
      const send = (device: string) =>
        fetch(`${rest.url}/v1/devices/${device}/telemetry`, { method: 'POST', body: 'x' });
      const first = await send('a');
      expect(first.status).toBe(503);
      expect(first.headers.get('retry-after')).toBeTruthy();
      expect(await first.json()).toMatchObject({
        error: 'not-durable-yet',
        message: expect.stringContaining('may still land'),
      });
      // A batch of two fills the buffer (three records): the next request finds no room.
      const batch = await fetch(`${rest.url}/v1/telemetry:batch`, {
        method: 'POST',
        body: JSON.stringify({
          messages: [
            { deviceId: 'b', payload: '1' },
            { deviceId: 'c', payload: '2' },
          ],
        }),
        headers: { 'content-type': 'application/json' },
      });
      expect(batch.status).toBe(503);
      const refused = await send('d');
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(await refused.json()).toMatchObject({ error: 'busy' });
      expect(rest.ingest.stats().bufferedRecords).toBe(3);
      expect(rest.gateway.stats()).toMatchObject({ acknowledged: 0, ackTimeouts: 2, refused: 1 });
      expect(rest.gateway.ready()).toBe(false);
    } finally {
      await rest.close();
    }
  });

  it('closes within closeTimeoutMs with a request in flight, never acknowledging it, and then refuses connections', async () => {
    const rest = await startRest(await deadEndpoint(), 'nowhere', {
      ackTimeoutMs: 5_000,
      closeTimeoutMs: 300,
    });
    const inFlight = fetch(`${rest.url}/v1/devices/a/telemetry`, { method: 'POST', body: 'x' });
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await rest.gateway.close();
    expect(Date.now() - started).toBeLessThan(2_000);
    // The in-flight request was cut when the close timeout passed, never acknowledged.
    const outcome = await inFlight.then((r) => r.status).catch(() => 'cut');
    expect(outcome).not.toBe(202);
    await expect(
      fetch(`${rest.url}/v1/devices/a/telemetry`, { method: 'POST', body: 'x' }),
    ).rejects.toThrow();
    await rest.close();
  });
});
