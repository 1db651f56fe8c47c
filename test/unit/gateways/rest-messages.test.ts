/** The REST gateway's pure parts: routes, ids, batch items, API keys and the configuration. */
import { describe, expect, it } from 'vitest';
import { authenticator, parseApiKeys } from '../../../gateways/rest/auth.ts';
import { restGatewayConfigSchema } from '../../../gateways/rest/config.ts';
import { batchMessages, idProblem, productOf, Refusal, routeOf } from '../../../gateways/rest/messages.ts';

const refusalOf = (fn: () => unknown): Refusal => {
  try {
    fn();
  } catch (error) {
    if (error instanceof Refusal) return error;
    throw error;
  }
  throw new Error('no refusal');
};

describe('routes', () => {
  it('reads the device, the hub and the batch from the path, URL-decoded', () => {
    expect(routeOf('/v1/devices/d-1/telemetry')).toEqual({ kind: 'telemetry', deviceId: 'd-1' });
    expect(routeOf('/v1/devices/h%201/child/%C3%A9t%C3%A9/telemetry')).toEqual({
      kind: 'telemetry',
      hubId: 'h 1',
      deviceId: 'été',
    });
    expect(routeOf('/v1/telemetry:batch')).toEqual({ kind: 'batch' });
    for (const path of [
      '/',
      '/v1',
      '/v2/devices/d/telemetry',
      '/v1/devices/d',
      '/v1/devices/h/kid/d/telemetry',
      '/v1/devices//x/telemetry/more',
      'v1/devices/d/telemetry',
    ])
      expect(routeOf(path)).toEqual({ kind: 'unknown' });
  });

  it('refuses ids that are empty, too long, hold a control character or a slash', () => {
    expect(idProblem('a'.repeat(128))).toBeUndefined();
    expect(idProblem('a'.repeat(129))).toMatch(/longer/);
    expect(idProblem('')).toMatch(/empty/);
    expect(idProblem('a\u0085b')).toMatch(/control/);
    expect(idProblem('a\u007fb')).toMatch(/control/);
    expect(idProblem('a/b')).toMatch(/'\/'/);
    expect(refusalOf(() => routeOf('/v1/devices/a%2Fb/telemetry'))).toMatchObject({
      status: 400,
      code: 'bad-id',
    });
    expect(refusalOf(() => routeOf('/v1/devices/%ZZ/telemetry'))).toMatchObject({
      status: 400,
      code: 'bad-id',
    });
    expect(refusalOf(() => routeOf('/v1/devices//telemetry')).message).toMatch(/device id is empty/);
  });

  it('takes the product from the query before the header', () => {
    expect(productOf(new URLSearchParams('productId=q'), 'h')).toBe('q');
    expect(productOf(new URLSearchParams(''), 'h')).toBe('h');
    expect(productOf(new URLSearchParams(''), undefined)).toBeUndefined();
    expect(refusalOf(() => productOf(new URLSearchParams('productId=%01'), undefined)).code).toBe(
      'bad-product',
    );
  });
});

describe('batch messages', () => {
  const batch = (messages: unknown, max = 10) =>
    batchMessages(Buffer.from(JSON.stringify({ messages })), max);

  it('decodes each encoding to bytes and keeps order', () => {
    const out = batch([
      { deviceId: 'a', payload: 'hi' },
      { deviceId: 'a', payload: 'aGk=', encoding: 'base64', hubId: 'h', productId: 'p', receivedAt: 5 },
      { deviceId: 'b', payload: '6869', encoding: 'hex', receivedAt: '1970-01-01T00:00:01Z' },
    ]);
    expect(out.map((m) => Buffer.from(m.payload).toString())).toEqual(['hi', 'hi', 'hi']);
    expect(out[1]).toMatchObject({ hubId: 'h', productId: 'p', receivedAt: 5 });
    expect(out[2]!.receivedAt).toBe(1000);
  });

  it.each([
    [[{ payload: 'x' }], /messages\[0\] has no deviceId/],
    [
      [
        { deviceId: 'a', payload: 'x' },
        { deviceId: 7, payload: 'x' },
      ],
      /messages\[1\] deviceId must be a string/,
    ],
    [[{ deviceId: 'a', payload: 1 }], /payload must be a string/],
    [[{ deviceId: 'a', payload: '' }], /payload is empty/],
    [[{ deviceId: 'a', payload: 'abc', encoding: 'hex' }], /not valid hex/],
    [[{ deviceId: 'a', payload: 'a=b=', encoding: 'base64' }], /not valid base64/],
    [[{ deviceId: 'a', payload: 'x', encoding: 'utf16' }], /encoding must be/],
    [[{ deviceId: 'a', payload: 'x', receivedAt: -1 }], /receivedAt/],
    [[{ deviceId: 'a', payload: 'x', receivedAt: 'yesterday' }], /receivedAt/],
    [[{ deviceId: 'a', payload: 'x', colour: 'red' }], /unknown key "colour"/],
    [[{ deviceId: 'a/b', payload: 'x' }], /deviceId holds a '\/'/],
    [['text'], /is not an object/],
  ])('refuses a bad item with its index: %j', (messages, message) => {
    const refusal = refusalOf(() => batch(messages));
    expect(refusal).toMatchObject({ status: 400, code: 'bad-message' });
    expect(refusal.message).toMatch(message);
  });

  it('refuses bad JSON, a body without messages, an empty and an oversized batch', () => {
    expect(refusalOf(() => batchMessages(Buffer.from('{'), 5)).code).toBe('bad-json');
    expect(refusalOf(() => batchMessages(Buffer.from('null'), 5)).code).toBe('bad-batch');
    expect(refusalOf(() => batchMessages(Buffer.from('[]'), 5)).code).toBe('bad-batch');
    expect(refusalOf(() => batchMessages(Buffer.from('{"messages":[],"x":1}'), 5)).code).toBe('bad-batch');
    expect(refusalOf(() => batch([]))).toMatchObject({ code: 'bad-batch' });
    expect(
      refusalOf(() =>
        batch(
          [
            { deviceId: 'a', payload: 'x' },
            { deviceId: 'a', payload: 'x' },
          ],
          1,
        ),
      ),
    ).toMatchObject({
      status: 413,
      code: 'too-many-messages',
    });
  });
});

describe('API keys', () => {
  const request = (headers: Record<string, string>) => ({ headers, socket: {} }) as never;

  it('knows callers by their key, never keeps the key, and refuses unknown or missing keys', () => {
    const keys = parseApiKeys(' hub-1:aaaaaaaaaaaaaaaa1 , hub-2:bbbbbbbbbbbbbbbb2', 'KEYS');
    expect(keys.map((k) => k.name)).toEqual(['hub-1', 'hub-2']);
    expect(JSON.stringify(keys)).not.toContain('aaaaaaaaaaaaaaaa1');
    const auth = authenticator(keys, false);
    expect(auth.identify(request({ 'x-api-key': 'bbbbbbbbbbbbbbbb2' }))).toEqual({ name: 'hub-2' });
    expect(auth.identify(request({ authorization: 'Bearer aaaaaaaaaaaaaaaa1' }))).toEqual({ name: 'hub-1' });
    expect(auth.identify(request({ 'x-api-key': 'aaaaaaaaaaaaaaaa' }))).toEqual({
      refused: 'unknown API key',
    });
    expect(auth.identify(request({}))).toMatchObject({ refused: expect.stringContaining('no API key') });
  });

  it('refuses a missing variable, a malformed entry, a short key or a name twice, naming the variable not the key', () => {
    expect(() => parseApiKeys(undefined, 'KEYS')).toThrow(/KEYS .*not set/);
    expect(() => parseApiKeys('nocolon', 'KEYS')).toThrow(/KEYS: entry 1/);
    expect(() => parseApiKeys('a:short', 'KEYS')).toThrow(/shorter than 16/);
    expect(() => parseApiKeys('a:aaaaaaaaaaaaaaaa1,a:bbbbbbbbbbbbbbbb2', 'KEYS')).toThrow(/twice/);
  });

  it('lets everyone in as anonymous with no authentication', () => {
    expect(authenticator(undefined, false).identify(request({}))).toEqual({ name: 'anonymous' });
  });
});

describe('configuration', () => {
  it('applies defaults and demands authentication unless auth is none', () => {
    const config = restGatewayConfigSchema.parse({ port: 8080, auth: { apiKeysEnv: 'KEYS' } });
    expect(config).toMatchObject({
      host: '0.0.0.0',
      maxBodyBytes: 256 * 1024,
      maxBatchMessages: 500,
      ackTimeoutMs: 10_000,
      productHeader: 'x-product-id',
    });
    expect(restGatewayConfigSchema.safeParse({ port: 8080 }).success).toBe(false);
    const empty = restGatewayConfigSchema.safeParse({ port: 8080, auth: {} });
    expect(empty.success).toBe(false);
    expect(JSON.stringify(empty.error?.issues)).toMatch(/auth: none/);
    expect(restGatewayConfigSchema.safeParse({ port: 8080, auth: 'none' }).success).toBe(true);
    expect(restGatewayConfigSchema.safeParse({ port: 8080, auth: 'none', maxbody: 1 }).success).toBe(false);
    expect(restGatewayConfigSchema.safeParse({ port: 8080, auth: { apiKeysEnv: 'k=v' } }).success).toBe(
      false,
    );
  });
});
