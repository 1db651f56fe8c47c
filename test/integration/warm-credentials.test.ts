/**
 * Database credentials: never in the configuration, taken from the environment or from AWS Secrets
 * Manager. There is no Secrets Manager emulator on these machines, so the Secrets Manager path uses
 * a fake client that answers `GetSecretValue` as the service does (RDS-format JSON); the
 * credentials it hands over are then used against the real PostgreSQL test server.
 */
import { randomUUID } from 'node:crypto';
import type { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hotStoreConfigSchema } from '../../sinks/hot/openHotStore.ts';
import { resolveCredentials, type SecretsReader } from '../../sinks/postgres/credentials.ts';
import { openWarmStore, warmStoreConfigSchema } from '../../sinks/postgres/store.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:shardflow/warm-AbCdEf';

function fakeSecrets(secret: unknown): SecretsReader & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    send: (async (command: GetSecretValueCommand) => {
      asked.push(String(command.input.SecretId));
      return { SecretString: typeof secret === 'string' ? secret : JSON.stringify(secret) };
    }) as SecretsReader['send'],
  };
}

const issues = (result: {
  success: boolean;
  error?: { issues: { path: PropertyKey[]; message: string }[] };
}) => (result.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`);

describe('credentials', () => {
  it('refuses a URL holding a password in the configuration, naming the key', () => {
    const warm = issues(
      warmStoreConfigSchema.safeParse({ writeUrl: 'postgres://app:s3cret@db:5432/shardflow' }),
    );
    expect(warm).toHaveLength(1);
    expect(warm[0]).toMatch(/^writeUrl: holds a password: credentials come from the environment/);
    const hot = issues(
      hotStoreConfigSchema.safeParse({
        kind: 'mongodb',
        writeUrl: 'mongodb://h',
        readUrl: 'mongodb://u:p@reader:27017',
      }),
    );
    expect(hot.some((p) => p.startsWith('readUrl: holds a password'))).toBe(true);
    expect(warmStoreConfigSchema.safeParse({ writeUrl: 'postgres://app@db:5432/shardflow' }).success).toBe(
      true,
    );
    expect(issues(hotStoreConfigSchema.safeParse({ kind: 'mongodb', writeUrl: 'postgres://db/x' }))).toEqual([
      'writeUrl: expected a mongodb:// or mongodb+srv:// URL for kind mongodb',
    ]);
  });

  it('reads user name and password from Secrets Manager (RDS format) by secret ARN', async () => {
    const secrets = fakeSecrets({
      username: 'app',
      password: 'p@ss:/word',
      host: 'db',
      port: 5432,
      dbname: 'shardflow',
    });
    const resolved = await resolveCredentials({ key: 'warm', credentials: { secretArn: ARN } }, {}, secrets);
    expect(resolved).toEqual({ username: 'app', password: 'p@ss:/word', database: 'shardflow' });
    expect(secrets.asked).toEqual([ARN]);
    await expect(
      resolveCredentials({ key: 'warm', credentials: { secretArn: ARN } }, {}, fakeSecrets('not json')),
    ).rejects.toThrow('warm.credentials.secretArn: the secret is not JSON in the RDS format');
    await expect(
      resolveCredentials({ key: 'hot', credentials: { secretArn: ARN } }, {}, fakeSecrets({ username: 'x' })),
    ).rejects.toThrow('hot.credentials.secretArn: the secret has no username and password strings');
  });

  it('reads them from the environment, and says which variable is missing', async () => {
    const credentials = { usernameEnv: 'WARM_USER', passwordEnv: 'WARM_PASSWORD' };
    expect(
      await resolveCredentials(
        { key: 'warm', credentials },
        { WARM_USER: 'app', WARM_PASSWORD: 'pw' },
        undefined,
      ),
    ).toEqual({ username: 'app', password: 'pw' });
    await expect(
      resolveCredentials({ key: 'warm', credentials }, { WARM_USER: 'app' }, undefined),
    ).rejects.toThrow('warm.credentials.passwordEnv: the environment variable WARM_PASSWORD is not set');
    expect(
      warmStoreConfigSchema.safeParse({
        writeUrl: 'embedded',
        credentials: { secretArn: ARN, passwordEnv: 'X' },
      }).success,
    ).toBe(false);
  });
});

describe('credentials used against PostgreSQL', () => {
  let db: TestDatabase;
  let admin: pg.Client;
  const role = `it_role_${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    db = await createTestDatabase('creds');
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'from-the-secret'`);
  });
  afterAll(async () => {
    await admin?.query(`DROP ROLE IF EXISTS ${role}`);
    await admin?.end();
    await db?.drop();
  });

  it('connects as the user the secret names, the URL in the configuration holding none', async () => {
    const url = new URL(db.url);
    url.username = '';
    const warm = openWarmStore(
      warmStoreConfigSchema.parse({ writeUrl: url.toString(), credentials: { secretArn: ARN } }),
      { secrets: () => fakeSecrets({ username: role, password: 'from-the-secret' }) },
    );
    const { rows } = await warm.read.query<{ user: string }>('SELECT current_user AS user');
    expect(rows[0]?.user).toBe(role);
    await warm.close();
  });

  it('connects as the user the environment names', async () => {
    const url = new URL(db.url);
    url.username = '';
    const warm = openWarmStore(
      warmStoreConfigSchema.parse({
        writeUrl: url.toString(),
        credentials: { usernameEnv: 'IT_WARM_USER', passwordEnv: 'IT_WARM_PASSWORD' },
      }),
      { env: { IT_WARM_USER: role, IT_WARM_PASSWORD: 'from-the-secret' } },
    );
    const { rows } = await warm.write.query<{ user: string }>('SELECT current_user AS user');
    expect(rows[0]?.user).toBe(role);
    await warm.close();
  });
});
