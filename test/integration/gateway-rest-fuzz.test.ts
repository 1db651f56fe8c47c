/**
 * Fuzzing the REST gateway (fast-check) over real sockets, into kinesalite: random methods, paths,
 * headers and bodies, and random batch JSON. Whatever comes in, the answer is never a 5xx other
 * than 503, the gateway keeps serving, and it counts no internal failure.
 */
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { createStream, uniqueStream } from '../support/kinesis.ts';
import { type RestUnderTest, rawRequest, startRest } from '../support/restGateway.ts';
import { testEnv } from '../support/wait.ts';

const endpoint = testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT');
const KEY = 'fuzz-key-0123456789';

const segment = fc.oneof(
  fc.constantFrom(
    'v1',
    'devices',
    'child',
    'telemetry',
    'telemetry:batch',
    '',
    '..',
    '%',
    '%2F',
    '%00',
    '%E0%A4',
  ),
  fc.string({ maxLength: 20 }).map(encodeURIComponent),
  fc.stringMatching(/^[\x21-\x7e]{0,12}$/),
);
const goodId = fc.stringMatching(/^[A-Za-z0-9._~-]{1,16}$/);
const path = fc.oneof(
  { arbitrary: goodId.map((d) => `/v1/devices/${d}/telemetry`), weight: 6 },
  { arbitrary: fc.tuple(goodId, goodId).map(([h, d]) => `/v1/devices/${h}/child/${d}/telemetry`), weight: 3 },
  fc.tuple(segment, segment).map(([d, h]) => `/v1/devices/${d}/child/${h}/telemetry`),
  segment.map((d) => `/v1/devices/${d}/telemetry`),
  fc.array(segment, { maxLength: 8 }).map((parts) => `/${parts.join('/')}`),
  fc.constant('/v1/telemetry:batch'),
  fc.stringMatching(/^[\x21-\x7e]{0,40}$/),
);
const query = fc.option(
  fc.oneof(
    fc.string({ maxLength: 30 }).map((p) => `productId=${encodeURIComponent(p)}`),
    fc.stringMatching(/^[\x21-\x7e]{0,20}$/),
  ),
  { nil: undefined },
);
const headerName = fc.oneof(
  fc.constantFrom(
    'content-type',
    'x-product-id',
    'content-encoding',
    'expect',
    'x-api-key',
    'authorization',
    'connection',
  ),
  fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}$/),
);
const headerValue = fc.oneof(
  {
    arbitrary: fc.constantFrom(
      'application/json',
      'text/plain',
      'gzip',
      'identity',
      'chunked',
      '100-continue',
      KEY,
      `Bearer ${KEY}`,
      'keep-alive',
    ),
    weight: 4,
  },
  { arbitrary: fc.stringMatching(/^[\x21-\x7e]{1,40}$/), weight: 4 },
  { arbitrary: fc.string({ maxLength: 20, unit: 'binary' }), weight: 1 },
);
const rawCase = fc.record({
  method: fc.oneof(
    {
      arbitrary: fc.constantFrom('POST', 'POST', 'POST', 'POST', 'GET', 'PUT', 'DELETE', 'OPTIONS', 'HEAD'),
      weight: 8,
    },
    { arbitrary: fc.stringMatching(/^[A-Z]{1,8}$/), weight: 1 },
  ),
  path,
  query,
  keyed: fc.oneof(fc.constant(true), fc.constant(true), fc.constant(false)),
  headers: fc.array(fc.tuple(headerName, headerValue), { maxLength: 4 }),
  chunked: fc.boolean(),
  body: fc.oneof(
    fc.uint8Array({ maxLength: 2_000 }),
    fc.uint8Array({ minLength: 900, maxLength: 1_500 }),
    fc.json().map((j) => Buffer.from(j)),
  ),
  length: fc.constantFrom('exact', 'exact', 'exact', 'none', 'short'),
});

const anyValue = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.anything({ maxDepth: 2 }),
);
const batchItem = fc.record(
  {
    deviceId: fc.oneof(fc.stringMatching(/^[a-z0-9-]{1,10}$/), anyValue),
    hubId: fc.oneof(fc.stringMatching(/^[a-z0-9-]{1,10}$/), anyValue),
    productId: fc.oneof(fc.string({ maxLength: 10 }), anyValue),
    payload: fc.oneof(fc.string({ maxLength: 200 }), fc.base64String({ maxLength: 40 }), anyValue),
    encoding: fc.oneof(fc.constantFrom('utf8', 'base64', 'hex'), anyValue),
    receivedAt: fc.oneof(
      fc.integer({ min: -10, max: 2 ** 53 }),
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      anyValue,
    ),
    extra: anyValue,
  },
  { requiredKeys: [] },
);
const goodItem = fc.record(
  {
    deviceId: fc.stringMatching(/^[a-z0-9-]{1,10}$/),
    hubId: fc.stringMatching(/^[a-z0-9-]{1,10}$/),
    payload: fc.string({ minLength: 1, maxLength: 50 }),
    receivedAt: fc.nat(),
  },
  { requiredKeys: ['deviceId', 'payload'] },
);
const batchBody = fc.oneof(
  fc
    .record({ messages: fc.array(fc.oneof(goodItem, goodItem, batchItem), { maxLength: 8 }) })
    .map((b) => JSON.stringify(b)),
  fc.json(),
  fc.string({ maxLength: 200 }),
);

type RawCase = typeof rawCase extends fc.Arbitrary<infer T> ? T : never;

function rawBytes(c: RawCase): Buffer {
  const lines = [
    `${c.method} ${c.path}${c.query !== undefined ? `?${c.query}` : ''} HTTP/1.1`,
    'host: gateway',
  ];
  if (c.keyed) lines.push(`x-api-key: ${KEY}`);
  for (const [name, value] of c.headers)
    if (!/^(content-length|connection)$/i.test(name)) lines.push(`${name}: ${value}`);
  if (c.chunked) {
    lines.push('transfer-encoding: chunked', 'connection: close', '', '');
    const chunk = Buffer.concat([
      Buffer.from(`${c.body.byteLength.toString(16)}\r\n`),
      c.body,
      Buffer.from('\r\n'),
    ]);
    const end = Buffer.from(c.body.byteLength > 0 ? '0\r\n\r\n' : '');
    return Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), chunk, end]);
  }
  if (c.length === 'exact') lines.push(`content-length: ${c.body.byteLength}`);
  if (c.length === 'short') lines.push(`content-length: ${Math.floor(c.body.byteLength / 2)}`);
  lines.push('connection: close', '', '');
  return Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), c.body]);
}

describe('REST gateway under fuzzing', () => {
  let client: KinesisClient;
  let rest: RestUnderTest;
  const statuses = new Map<number, number>();

  beforeAll(async () => {
    client = createKinesisClient({ region: 'us-east-1', endpoint });
    const stream = uniqueStream('rest-fuzz');
    await createStream(client, stream, 1);
    rest = await startRest(
      endpoint,
      stream,
      {
        auth: { apiKeysEnv: 'FUZZ_KEYS' },
        maxBodyBytes: 1_000,
        maxBatchMessages: 5,
        requestTimeoutMs: 1_000,
        headersTimeoutMs: 1_000,
      },
      { env: { FUZZ_KEYS: `fuzzer:${KEY}` } },
    );
  });
  afterAll(async () => {
    await rest?.close();
    client?.destroy();
  });

  it('answers random requests with no 5xx but 503, and never fails', async () => {
    await fc.assert(
      fc.asyncProperty(rawCase, async (c) => {
        const { status } = await rawRequest(rest.gateway.port, rawBytes(c), 3_000);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        expect(status >= 500 && status !== 503).toBe(false);
      }),
      { numRuns: 300 },
    );
    // Most requests got an answer, and some got through to the stream.
    expect(statuses.get(0) ?? 0).toBeLessThan(30);
    for (const status of [202, 400, 401, 404, 405, 413])
      expect(statuses.get(status) ?? 0, `answers ${status}`).toBeGreaterThan(0);
    expect(rest.gateway.stats().failed).toBe(0);
  });

  it('answers random batch JSON with 202, 400 or 413 only', async () => {
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(batchBody, async (body) => {
        const answer = await fetch(`${rest.url}/v1/telemetry:batch`, {
          method: 'POST',
          body,
          headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
        });
        seen.add(answer.status);
        expect([202, 400, 413]).toContain(answer.status);
        const json = (await answer.json()) as { error?: string; message?: string; accepted?: number };
        if (answer.status === 202) expect(json.accepted).toBeGreaterThan(0);
        else expect(typeof json.error === 'string' && typeof json.message === 'string').toBe(true);
      }),
      { numRuns: 300 },
    );
    expect(seen).toContain(202);
    expect(seen).toContain(400);
  });

  it('still takes a good post afterwards', async () => {
    const answer = await fetch(`${rest.url}/v1/devices/after-fuzz/telemetry`, {
      method: 'POST',
      body: 't=1',
      headers: { 'x-api-key': KEY },
    });
    expect(answer.status).toBe(202);
    expect(rest.gateway.stats()).toMatchObject({ failed: 0 });
    expect(rest.gateway.stats().acknowledged).toBeGreaterThan(1);
  });
});
