/**
 * The REST gateway over mTLS: a CA, the server's and the clients' certificates made with openssl in
 * the test; a client with a certificate of that CA is let in under its CN, one without a certificate
 * or with one of another CA is refused in the handshake.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { createStream, uniqueStream } from '../support/kinesis.ts';
import { type RestUnderTest, readStream, startRest } from '../support/restGateway.ts';
import { testEnv } from '../support/wait.ts';

const endpoint = testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT');

/** A CA and certificates it signs, in `dir`. */
function makeCertificates(dir: string): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ca = (name: string) =>
    ssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
    );
  const signed = (name: string, by: string, extensions: string) => {
    writeFileSync(join(dir, `${name}.ext`), extensions);
    ssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    );
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${by}.crt`,
      '-CAkey',
      `${by}.key`,
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    );
  };
  ca('test-ca');
  ca('other-ca');
  signed('localhost', 'test-ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  signed('device-77', 'test-ca', 'extendedKeyUsage=clientAuth\n');
  signed('intruder', 'other-ca', 'extendedKeyUsage=clientAuth\n');
}

describe('REST gateway with mTLS', () => {
  let dir: string;
  let client: KinesisClient;
  let stream: string;
  let rest: RestUnderTest;
  const file = (name: string) => readFileSync(join(dir, name));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rest-mtls-'));
    makeCertificates(dir);
    client = createKinesisClient({ region: 'us-east-1', endpoint });
    stream = uniqueStream('rest-tls');
    await createStream(client, stream, 1);
    rest = await startRest(endpoint, stream, {
      auth: {
        mtls: {
          certFile: join(dir, 'localhost.crt'),
          keyFile: join(dir, 'localhost.key'),
          caFile: join(dir, 'test-ca.crt'),
        },
      },
    });
  });
  afterAll(async () => {
    await rest?.close();
    client?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Posts over HTTPS with the given client certificate; the status, or the error's message. */
  const post = (path: string, body: string, certificate?: string): Promise<number | string> =>
    new Promise((resolve) => {
      const req = request(
        `${rest.url}${path}`,
        {
          method: 'POST',
          ca: file('test-ca.crt'),
          ...(certificate !== undefined
            ? { cert: file(`${certificate}.crt`), key: file(`${certificate}.key`) }
            : {}),
          headers: { 'content-length': Buffer.byteLength(body) },
          agent: false,
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', (error) => resolve(error.message));
      req.end(body);
    });

  it("takes a post from a client with the CA's certificate, under its CN", async () => {
    expect(await post('/v1/devices/m-1/telemetry', 'v=1', 'device-77')).toBe(202);
    const landed = await readStream(client, stream);
    expect(landed).toEqual([
      expect.objectContaining({
        partitionKey: 'm-1',
        envelope: expect.objectContaining({ source: 'rest:device-77', payload: 'v=1' }),
      }),
    ]);
  });

  it('refuses a client without a certificate and one with a certificate of another CA', async () => {
    const without = await post('/v1/devices/m-2/telemetry', 'v=2');
    const intruder = await post('/v1/devices/m-3/telemetry', 'v=3', 'intruder');
    expect(without).toMatch(/certificate required/);
    // The handshake fails on the server's side; the client sees its connection dropped.
    expect(intruder).toMatch(/socket hang up|ECONNRESET|unknown ca|certificate/i);
    expect((await readStream(client, stream)).length).toBe(1);
    expect(rest.gateway.stats().unauthorized).toBeGreaterThanOrEqual(2);
  });
});
