import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveAdminToken } from '../../../cli/adminAuth.ts';
import { ConfigError, parseWorkerConfig } from '../../../cli/config.ts';
import { CLI_TEST_TIMEOUT_MS, runCli } from '../../support/cli.ts';

const valid = {
  source: { kinesis: { streamName: 'telemetry', endpoint: 'http://127.0.0.1:4567' } },
  warm: { writeUrl: 'postgres://postgres@127.0.0.1:5432/shardflow' },
};

function problems(raw: unknown, env: NodeJS.ProcessEnv = {}): readonly string[] {
  try {
    parseWorkerConfig(raw, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

function configFile(yaml: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'shardflow-config-')), 'shardflow.yaml');
  writeFileSync(file, yaml);
  return file;
}

describe('worker configuration', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('applies defaults from the component schemas', () => {
    const config = parseWorkerConfig(valid, {});
    expect(config.source.kinesis).toMatchObject({
      region: 'us-east-1',
      startPosition: 'TRIM_HORIZON',
      maxRecords: 10_000,
    });
    expect(config.runtime).toMatchObject({ maxInFlightBatches: 4, checkpointIntervalMs: 1000 });
    expect(config.topology.name).toBe('telemetry');
  });

  it('names an unknown key with its full path', () => {
    expect(problems({ ...valid, source: { kinesis: { streamName: 's', maxRecord: 5 } } })).toEqual([
      'source.kinesis.maxRecord: unknown key',
    ]);
  });

  it('names a missing key and a wrong value', () => {
    const found = problems({ source: { kinesis: { maxRecords: 20_000 } }, warm: { writeUrl: 'mysql://db' } });
    expect(found).toContain('source.kinesis.streamName: is required');
    expect(found.some((p) => p.startsWith('source.kinesis.maxRecords: Too big'))).toBe(true);
    expect(found.some((p) => p.startsWith('warm.writeUrl: expected a postgres://'))).toBe(true);
  });

  it('takes SHARDFLOW_* overrides as typed values and names the variable when one is wrong', () => {
    const config = parseWorkerConfig(valid, {
      SHARDFLOW_RUNTIME__MAX_IN_FLIGHT_BATCHES: '8',
      SHARDFLOW_LOG__PRETTY: 'true',
      SHARDFLOW_SOURCE__KINESIS__STREAM_NAME: 'other',
      SHARDFLOW_TEST_REDIS_URL: 'redis://ignored: no double underscore, not configuration',
    });
    expect(config.runtime.maxInFlightBatches).toBe(8);
    expect(config.log.pretty).toBe(true);
    expect(config.source.kinesis.streamName).toBe('other');
    expect(problems(valid, { SHARDFLOW_RUNTIME__MAX_IN_FLIGHT_BATCHES: 'many' })).toEqual([
      'runtime.maxInFlightBatches (from SHARDFLOW_RUNTIME__MAX_IN_FLIGHT_BATCHES): Invalid input: expected number, received string',
    ]);
    expect(problems(valid, { SHARDFLOW_WARM__READ_URLS: 'postgres://x' })).toEqual([
      'warm.readUrls (from SHARDFLOW_WARM__READ_URLS): unknown key',
    ]);
  });

  it('refuses a password in any URL-valued key, naming the key once', () => {
    const found = problems({
      source: {
        kinesis: { streamName: 's', endpoint: 'http://k:secret@127.0.0.1:4567' },
        leases: { tableName: 'leases', endpoint: 'http://d:secret@127.0.0.1:4568' },
      },
      state: { backend: 'redis', redisUrl: 'rediss://default:secret@cache.example.internal:6379' },
      warm: { writeUrl: 'postgres://app:secret@db:5432/shardflow' },
      deadLetters: { kind: 'sqs', queueUrl: 'https://q:secret@sqs.eu-west-1.amazonaws.com/1/dl' },
    });
    expect(found.map((p) => p.slice(0, p.indexOf(': holds a password')))).toEqual([
      'state.redisUrl',
      'warm.writeUrl',
      'source.kinesis.endpoint',
      'source.leases.endpoint',
      'deadLetters.queueUrl',
    ]);
    expect(found[0]).toMatch(/^state.redisUrl: holds a password: credentials come from the environment/);
    expect(found[2]).toMatch(/AWS endpoints sign with the SDK's credentials/);
    expect(
      problems({ ...valid, state: { backend: 'redis', redisUrl: 'redis://shardflow@cache:6379' } }),
    ).toEqual([]);
  });

  it('takes Redis credentials like the databases’, and a namespace', () => {
    const config = parseWorkerConfig(
      {
        ...valid,
        state: {
          backend: 'redis',
          redisUrl: 'rediss://cache.example.internal:6379',
          namespace: 'plant-7',
          credentials: { passwordEnv: 'REDIS_AUTH_TOKEN' },
        },
      },
      {},
    );
    expect(config.state).toMatchObject({
      namespace: 'plant-7',
      credentials: { passwordEnv: 'REDIS_AUTH_TOKEN' },
    });
    expect(
      problems({
        ...valid,
        state: {
          backend: 'redis',
          redisUrl: 'redis://cache:6379',
          credentials: {
            passwordEnv: 'P',
            secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:r',
          },
        },
      }),
    ).toEqual(['state.credentials: give either secretArn or usernameEnv/passwordEnv, not both']);
  });

  it('`shardflow run` with a bad configuration exits 2 and names the offending key', async () => {
    const file = configFile(
      'source:\n  kinesis:\n    streamName: telemetry\n    pollIntervalMs: 5\nwarm:\n  writeUrl: embedded\n',
    );
    const result = await runCli(['run', '--config', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('source.kinesis.pollIntervalMs: unknown key');
    expect(result.stderr).toContain(file);
  });

  it('`shardflow run` with invalid YAML or a missing file exits 2 and says so', async () => {
    const broken = await runCli(['run', '--config', configFile('source: [unclosed\n')]);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain('not valid YAML');
    const missing = await runCli(['run', '--config', '/nonexistent/shardflow.yaml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read the file');
  });

  it('reads the admin token from the variable admin.tokenEnv names, and names the key when it is unusable', () => {
    const admin = { tokenEnv: 'ADMIN_TOKEN' };
    expect(resolveAdminToken({}, { ADMIN_TOKEN: 'x' })).toBeUndefined();
    expect(resolveAdminToken(admin, { ADMIN_TOKEN: 'a+b/c=' })).toBe('a+b/c=');
    const refusal = (env: NodeJS.ProcessEnv) => {
      try {
        resolveAdminToken(admin, env);
      } catch (error) {
        if (error instanceof ConfigError) return error.problems;
        throw error;
      }
      return [];
    };
    expect(refusal({})).toEqual(['admin.tokenEnv: the environment variable ADMIN_TOKEN is not set']);
    expect(refusal({ ADMIN_TOKEN: '' })).toEqual([
      'admin.tokenEnv: the environment variable ADMIN_TOKEN is not set',
    ]);
    expect(refusal({ ADMIN_TOKEN: 'two words' })[0]).toMatch(
      /^admin\.tokenEnv: the value of ADMIN_TOKEN is not a bearer token/,
    );
    expect(problems({ ...valid, admin: { tokenEnv: 's3cr3t-token!' } })).toEqual([
      'admin.tokenEnv: expected an environment variable name',
    ]);
  });

  it('`shardflow run` whose admin token variable is missing exits 2 naming admin.tokenEnv, before opening anything', async () => {
    const port = await freePort();
    const file = configFile(
      `source:\n  kinesis:\n    streamName: telemetry\n    endpoint: http://127.0.0.1:${port}\nwarm:\n  writeUrl: postgres://postgres@127.0.0.1:${port}/shardflow\nadmin:\n  host: 0.0.0.0\n  tokenEnv: SHARDFLOW_TEST_UNSET_ADMIN_TOKEN\n`,
    );
    const result = await runCli(['run', '--config', file], { SHARDFLOW_TEST_UNSET_ADMIN_TOKEN: '' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'admin.tokenEnv: the environment variable SHARDFLOW_TEST_UNSET_ADMIN_TOKEN is not set',
    );
  });

  it('`shardflow run` with a database that does not answer exits 3 and names the service, key and address', async () => {
    const port = await freePort();
    const file = configFile(
      `source:\n  kinesis:\n    streamName: telemetry\n    endpoint: http://127.0.0.1:${port}\nwarm:\n  writeUrl: postgres://postgres@127.0.0.1:${port}/shardflow\n  connectTimeoutMs: 1000\n`,
    );
    const result = await runCli(['run', '--config', file]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`cannot reach PostgreSQL (warm.writeUrl) at 127.0.0.1:${port}/shardflow`);
  });
});

describe('the example configuration', () => {
  it('is valid', async () => {
    const { loadWorkerConfig } = await import('../../../cli/config.ts');
    const config = loadWorkerConfig(new URL('../../../shardflow.example.yaml', import.meta.url).pathname, {});
    expect(config.warm.readUrl).toContain('aurora-reader');
    expect(config.runtime.sinkRetry).toEqual({ maxAttempts: 0, initialDelayMs: 100, maxDelayMs: 10_000 });
  });
});

describe('the configuration reference in `shardflow run --help`', () => {
  it('lists every key with the environment variable that really sets it', async () => {
    const { configReference } = await import('../../../cli/configReference.ts');
    const { applyEnvOverrides } = await import('../../../cli/config.ts');
    const text = configReference();
    const pairs = [...text.matchAll(/^ {2}(\S+) {2}\(.*\)\n(?: {6}.*\n)*? {6}env: (\S+)$/gm)].map(
      (m): [string, string] => [m[1]!, m[2]!],
    );
    expect(pairs.map(([path]) => path)).toEqual(
      expect.arrayContaining([
        'source.kinesis.streamName',
        'warm.writeUrl',
        'runtime.maxInFlightBatches',
        'admin.port',
      ]),
    );
    expect(pairs.length).toBeGreaterThan(15);
    for (const [path, env] of pairs) {
      const raw: Record<string, unknown> = {};
      applyEnvOverrides(raw, { [env]: 'x' });
      const value = path
        .split('.')
        .reduce<unknown>((node, key) => (node as Record<string, unknown>)?.[key], raw);
      expect(value, `${env} should set ${path}`).toBe('x');
    }
  });
});
