/**
 * The Redis keyed state store (the window operator's state too) as a worker opens it from its `state:` section: credentials from the
 * environment against a Redis that requires them (`requirepass` and an ACL user), the configured
 * namespace as the key prefix, and connection errors as JSON log lines rather than ioredis's own.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseWorkerConfig } from '../../cli/config.ts';
import { workerKeyedStateStore } from '../../cli/stateConfig.ts';
import { freePort } from '../../infra/local/process.ts';
import { startRedis } from '../../infra/local/redis.ts';
import { type Logger, type StateStore, silentLogger } from '../../topology/index.ts';
import { runCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { testEnv, waitFor } from '../support/wait.ts';

const PASSWORD = 'auth-token-for-tests';
const USER = { name: 'shardflow', password: 'acl-password-for-tests' };

/** The validated `state:` section of a worker configured with `state`. */
function stateSection(state: Record<string, unknown>) {
  return parseWorkerConfig(
    {
      source: { kinesis: { streamName: 'telemetry' } },
      warm: { writeUrl: 'postgres://postgres@127.0.0.1:5432/unused' },
      state: { backend: 'redis', ...state },
    },
    {},
  ).state;
}

const SHARD = 'shardId-000000000000';
const ENTRY = 'windows\x1fdevices\x1fdev-1';
const GROUP = JSON.stringify(['windows', 'partials', 'product|1h|0']);

/**
 * One snapshot of one shard at `sequenceNumber`, as a worker writes it after a batch: an entry of its
 * state, a published partial and the window node's watermark. Claims the shard first (a new owner).
 */
async function snapshot(store: StateStore, sequenceNumber: string): Promise<void> {
  const owner = `owner-${sequenceNumber}`;
  await store.claim(SHARD, owner);
  await store.write({
    shardId: SHARD,
    owner,
    position: { sequenceNumber, subSequenceNumber: 0 },
    upserts: [{ key: ENTRY, value: new Uint8Array([Number(sequenceNumber)]) }],
    deletes: [],
    published: {
      upserts: [{ group: GROUP, value: new Uint8Array([Number(sequenceNumber)]), ttlMs: 60_000 }],
      deletes: [],
      watermarks: [{ node: 'windows', watermark: 1_000 * Number(sequenceNumber), activeAt: 5 }],
    },
  });
}

/** What the store holds of `snapshot`'s shard: its position, its entry and its published partial. */
async function held(store: StateStore) {
  const stored = await store.read(SHARD);
  const published = await store.readPublished([GROUP]);
  return {
    position: stored?.position?.sequenceNumber,
    entry: [...(stored?.entries.find((e) => e.key === ENTRY)?.value ?? [])],
    published: [...(published.get(GROUP)?.get(SHARD) ?? [])],
    watermarks: (await store.publishedWatermarks('windows')).map((w) => w.watermark),
  };
}

/** A pino logger (the worker's format) writing its lines into `lines`. */
function capturedLogger(lines: string[]): Logger {
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return pino({ base: { service: 'shardflow' } }, sink);
}

describe('redis keyed state behind a password', () => {
  let server: Awaited<ReturnType<typeof startRedis>>;
  let db: TestDatabase;
  beforeAll(async () => {
    server = await startRedis({ password: PASSWORD, user: USER });
    db = await createTestDatabase('redisauth');
  });
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  it('opens and writes snapshots with credentials.passwordEnv, and with an ACL user from usernameEnv/passwordEnv', async () => {
    const env = { REDIS_TOKEN: PASSWORD, REDIS_USER: USER.name, REDIS_USER_PASSWORD: USER.password };
    for (const credentials of [
      { passwordEnv: 'REDIS_TOKEN' },
      { usernameEnv: 'REDIS_USER', passwordEnv: 'REDIS_USER_PASSWORD' },
    ]) {
      const state = stateSection({ redisUrl: server.url, namespace: 'auth', credentials });
      const store = workerKeyedStateStore(state, { topologyName: 'telemetry', log: silentLogger, env });
      await store.open();
      const sequence = credentials.usernameEnv ? '2' : '1';
      await snapshot(store, sequence);
      const n = Number(sequence);
      expect(await held(store)).toEqual({
        position: sequence,
        entry: [n],
        published: [n],
        watermarks: [1_000 * n],
      });
      await store.close();
    }
  });

  it('opens the keyed state store from the same section: its credentials, its namespace (keys under ks:)', async () => {
    const env = { REDIS_USER: USER.name, REDIS_USER_PASSWORD: USER.password };
    const credentials = { usernameEnv: 'REDIS_USER', passwordEnv: 'REDIS_USER_PASSWORD' };
    const state = stateSection({ redisUrl: server.url, namespace: 'keyed', credentials });
    const store = workerKeyedStateStore(state, { topologyName: 'telemetry', log: silentLogger, env });
    await store.open();
    await store.claim('shardId-000000000000', 'owner');
    const position = { sequenceNumber: '1', subSequenceNumber: 0 };
    const upserts = [{ key: 'k', value: new Uint8Array([0, 255]) }];
    await store.write({ shardId: 'shardId-000000000000', owner: 'owner', position, upserts, deletes: [] });
    await store.close();
    const admin = new Redis(server.url, { username: USER.name, password: USER.password });
    try {
      expect((await admin.keys('sf:{keyed}:*')).sort()).toEqual([
        'sf:{keyed}:ks:e:shardId-000000000000',
        'sf:{keyed}:ks:epoch',
        'sf:{keyed}:ks:m:shardId-000000000000',
      ]);
    } finally {
      admin.disconnect();
    }
  });

  it('names the variable that is not set', async () => {
    const state = stateSection({ redisUrl: server.url, credentials: { passwordEnv: 'REDIS_TOKEN' } });
    const store = workerKeyedStateStore(state, { topologyName: 'telemetry', log: silentLogger, env: {} });
    await expect(store.open()).rejects.toThrow(
      'state.credentials.passwordEnv: the environment variable REDIS_TOKEN is not set',
    );
    await store.close();
  });

  it('`shardflow run` without credentials stops at the start-up check, naming state.redisUrl', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'shardflow-redis-')), 'shardflow.yaml');
    const kinesis = testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT');
    writeFileSync(
      file,
      `source:\n  kinesis:\n    streamName: telemetry\n    endpoint: ${kinesis}\nstate:\n  backend: redis\n  redisUrl: ${server.url}\nwarm:\n  writeUrl: ${db.url}\nadmin:\n  enabled: false\n`,
    );
    const result = await runCli(['run', '--config', file]);
    expect(result.code).toBe(3);
    const { port } = new URL(server.url);
    expect(result.stderr).toContain(
      `shardflow: cannot reach Redis (state.redisUrl) at 127.0.0.1:${port}: NOAUTH Authentication required.`,
    );
    // the fatal message is the last line; everything logged before it is JSON
    const lines = result.stderr.trim().split('\n');
    expect(lines.at(-1)).toMatch(/^shardflow: /);
    for (const line of lines.slice(0, -1)) expect(() => JSON.parse(line)).not.toThrow();
  });
});

describe('state.namespace', () => {
  const admin = new Redis(testEnv('SHARDFLOW_TEST_REDIS_URL'));
  afterAll(() => admin.disconnect());

  it('is the key prefix of the keyed state (the windows’ too): two workers with different namespaces keep separate keys', async () => {
    const redisUrl = testEnv('SHARDFLOW_TEST_REDIS_URL');
    const tag = Date.now().toString(36);
    const plantA = workerKeyedStateStore(stateSection({ redisUrl, namespace: `plant-a-${tag}` }), {
      topologyName: 'telemetry',
      log: silentLogger,
    });
    const plantB = workerKeyedStateStore(stateSection({ redisUrl, namespace: `plant-b-${tag}` }), {
      topologyName: 'telemetry',
      log: silentLogger,
    });
    // no namespace: `<topology name>.windows`, the keys every worker used before it was configurable
    const unnamed = workerKeyedStateStore(stateSection({ redisUrl }), {
      topologyName: `line-${tag}`,
      log: silentLogger,
    });
    for (const store of [plantA, plantB, unnamed]) {
      await store.open();
      await snapshot(store, '1');
    }
    await snapshot(plantA, '2');
    const keys = async (namespace: string) => (await admin.keys(`sf:{${namespace}}:*`)).sort();
    const [a, b, c] = [
      await keys(`plant-a-${tag}`),
      await keys(`plant-b-${tag}`),
      await keys(`line-${tag}.windows`),
    ];
    for (const [namespace, found] of [
      [`plant-a-${tag}`, a],
      [`plant-b-${tag}`, b],
      [`line-${tag}.windows`, c],
    ] as const) {
      expect(found).toContain(`sf:{${namespace}}:ks:e:${SHARD}`);
      expect(found).toContain(`sf:{${namespace}}:ks:pub:${GROUP}`);
      expect(found).toContain(`sf:{${namespace}}:ks:wm:windows`);
      expect(found.every((k) => k.startsWith(`sf:{${namespace}}:ks:`))).toBe(true);
    }
    expect(await keys(`plant-*-${tag}`)).toEqual([...a, ...b].sort());
    // plant A's second snapshot changed its own state only
    expect(await held(plantA)).toEqual({ position: '2', entry: [2], published: [2], watermarks: [2_000] });
    expect(await held(plantB)).toEqual({ position: '1', entry: [1], published: [1], watermarks: [1_000] });
    for (const store of [plantA, plantB, unnamed]) await store.close();
  });
});

describe('redis connection errors', () => {
  it('are JSON log lines through the worker logger, never ioredis lines on stderr', async () => {
    const stderr = vi.spyOn(console, 'error');
    const lines: string[] = [];
    const log = capturedLogger(lines);
    try {
      // a Redis that is not there: open fails, and leaves no client reconnecting behind it
      const closed = `redis://127.0.0.1:${await freePort()}`;
      const absent = workerKeyedStateStore(stateSection({ redisUrl: closed, namespace: 'absent' }), {
        topologyName: 'telemetry',
        log,
      });
      await expect(absent.open()).rejects.toThrow(/ECONNREFUSED/);
      await absent.close();

      // a Redis that goes away while the store is open: every reconnect attempt fails
      const server = await startRedis();
      const store = workerKeyedStateStore(stateSection({ redisUrl: server.url, namespace: 'gone' }), {
        topologyName: 'telemetry',
        log,
      });
      await store.open();
      await server.stop();
      await expect(snapshot(store, '1')).rejects.toThrow();
      await waitFor('a logged reconnect error', async () => lines.length >= 2);
      await store.close();
    } finally {
      stderr.mockRestore();
    }
    const logged = lines.map((line) => JSON.parse(line) as { msg: string; redis: string; error: string });
    expect(logged.every((l) => l.msg === 'redis client error')).toBe(true);
    expect(logged.map((l) => l.redis)).toEqual(
      expect.arrayContaining(['keyed state absent', 'keyed state gone']),
    );
    // rate-limited: one line per client in this short test, however often ioredis retried
    expect(logged.filter((l) => l.redis === 'keyed state gone')).toHaveLength(1);
    expect(stderr.mock.calls.filter((call) => String(call[0]).startsWith('[ioredis]'))).toEqual([]);
  });
});
