import { EventEmitter } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stateConfigSchema, workerKeyedStateStore } from '../../../cli/stateConfig.ts';
import {
  logRedisErrors,
  redisClientOptions,
  redisClientUrl,
  usesTls,
} from '../../../state/redisConnection.ts';
import { type Logger, silentLogger } from '../../../topology/index.ts';

const deps = { topologyName: 'telemetry', log: silentLogger };

describe('state configuration', () => {
  it('selects the keyed state store named by `backend`', () => {
    expect(workerKeyedStateStore(stateConfigSchema.parse({ backend: 'embedded' }), deps).kind).toBe(
      'embedded',
    );
    const redis = stateConfigSchema.parse({ backend: 'redis', redisUrl: 'redis://127.0.0.1:6379' });
    // no namespace given: the worker keeps the keys it always used, `<topology>.windows`
    expect(redis).not.toHaveProperty('namespace');
    expect(workerKeyedStateStore(redis, deps).kind).toBe('redis');
  });

  it('names the key that is wrong', () => {
    const at = (raw: unknown) =>
      (stateConfigSchema.safeParse(raw).error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(at({ backend: 'redis' })[0]).toMatch(/^redisUrl: /);
    expect(at({ backend: 'memcached' })[0]).toMatch(/^backend: /);
    expect(at({ backend: 'redis', redisUrl: 'http://cache:6379' })).toEqual([
      'redisUrl: expected a redis://host:port or rediss://host:port URL',
    ]);
    expect(at({ backend: 'redis', redisUrl: 'redis://:s3cret@cache:6379' })[0]).toMatch(
      /^redisUrl: holds a password: credentials come from the environment \(credentials.passwordEnv\)/,
    );
    expect(at({ backend: 'redis', redisUrl: 'redis://cache:6379', namespace: 'a b' })[0]).toMatch(
      /^namespace: /,
    );
  });
});

describe('redis client options', () => {
  it('carry TLS with the configured CA, verifying the server', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'shardflow-ca-')), 'ca.pem');
    writeFileSync(file, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const config = stateConfigSchema.parse({
      backend: 'redis',
      redisUrl: 'redis://cache:6379',
      tls: true,
      tlsCaFile: file,
    });
    expect(config.backend === 'redis' && redisClientOptions(config).tls).toEqual({
      rejectUnauthorized: true,
      ca: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    });
  });

  it('use TLS for rediss:// and not otherwise', () => {
    expect(usesTls({ redisUrl: 'rediss://cache:6379' })).toBe(true);
    expect(redisClientOptions({ redisUrl: 'rediss://cache:6379' }).tls).toEqual({ rejectUnauthorized: true });
    expect(redisClientOptions({ redisUrl: 'redis://cache:6379' })).not.toHaveProperty('tls');
  });

  it('log in with the resolved credentials, whose user name replaces the URL’s', () => {
    const connection = { redisUrl: 'redis://reader@cache:6379/2' };
    const auth = { username: 'shardflow', password: 'p@ss' };
    expect(redisClientOptions(connection, auth)).toMatchObject(auth);
    expect(redisClientUrl(connection, auth)).toBe('redis://cache:6379/2');
    expect(redisClientUrl(connection, { password: 'p@ss' })).toBe('redis://reader@cache:6379/2');
  });
});

describe('redis client errors', () => {
  it('are logged the first time, then at most once per interval with how many were not', () => {
    const lines: object[] = [];
    const log: Logger = { ...silentLogger, warn: (fields, msg) => lines.push({ ...fields, msg }) };
    let now = 0;
    const clock = { now: () => now, sleep: async () => {} };
    const client = new EventEmitter();
    logRedisErrors(client, { log, clock, client: 'window state t' }, 10_000);
    for (let i = 0; i < 5; i++) {
      client.emit('error', new Error('connect ECONNREFUSED 127.0.0.1:1'));
      now += 1_000;
    }
    expect(lines).toEqual([
      { redis: 'window state t', error: 'connect ECONNREFUSED 127.0.0.1:1', msg: 'redis client error' },
    ]);
    now = 10_000;
    client.emit('error', new Error('connect ECONNREFUSED 127.0.0.1:1'));
    expect(lines.at(-1)).toEqual({
      redis: 'window state t',
      error: 'connect ECONNREFUSED 127.0.0.1:1',
      suppressed: 4,
      msg: 'redis client error',
    });
  });
});
