/**
 * The master-data invalidations on a PostgreSQL that asks for a password. The LISTEN connection
 * used to open with the bare URL, so with a password in use every worker silently fell back on the
 * cache TTL. Here the test role must log in with scram-sha-256 (a line for that role alone at the
 * top of pg_hba.conf, removed afterwards: every other role keeps the cluster's trust), and each
 * worker's Warm store is configured with `credentials.passwordEnv` and a URL without a password.
 * Two workers see a CDC change (applied by the applier, whose transaction sends the NOTIFY) within
 * 1 s; a wrong password and a lost connection are logged and shown by the gauge. Secrets Manager is
 * a fake answering as the service does (no emulator here); the login it leads to is real.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import type { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cdcDecode } from '../../operators/cdc/cdcDecode.ts';
import type { MasterDataChange } from '../../operators/cdc/change.ts';
import { type EnrichOperator, enrich, enrichConfigSchema } from '../../operators/enrich.ts';
import type { SecretsReader } from '../../sinks/postgres/credentials.ts';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import {
  describeEndpoint,
  openWarmStore,
  type WarmStore,
  warmStoreConfigSchema,
} from '../../sinks/postgres/store.ts';
import { masterDataApplySink } from '../../sinks/warm/masterdata/applier.ts';
import { pgDeviceDirectory } from '../../sinks/warm/masterdata/deviceDirectory.ts';
import { type PgInvalidationFeed, pgInvalidationFeed } from '../../sinks/warm/masterdata/invalidationFeed.ts';
import {
  type DeadLetter,
  type Enriched,
  type Logger,
  type OperatorContext,
  systemClock,
} from '../../topology/index.ts';
import { CDC_MAPPINGS } from '../support/cdcMappings.ts';
import { asRawRecords, dmsData, mongoChange } from '../support/dms.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { reading } from '../support/records.ts';
import { testEnv, waitFor } from '../support/wait.ts';

const PASSWORD = `pw-${randomUUID()}`;
const ROLE = `it_listen_${randomUUID().slice(0, 8)}`;
const PASSWORD_ENV = 'IT_WARM_PASSWORD';
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:shardflow/warm-AbCdEf';
const DAY = Date.UTC(2026, 10, 4);

interface LogEntry {
  readonly level: keyof Logger;
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

function recordingLogger(): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at =
    (level: keyof Logger) =>
    (fields: object, message: string): void =>
      void entries.push({ level, fields: { ...fields }, message });
  return { entries, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const context: OperatorContext<{ dlq: DeadLetter }> = {
  node: 'enrich',
  shardId: 's0',
  position: { sequenceNumber: '1', subSequenceNumber: 0 },
  clock: systemClock,
  side: () => {},
};

const gauge = (op: EnrichOperator, name: string) => op.gauges().find((g) => g.name === name)?.value;

/** One worker's share of the test: its Warm store, its invalidation feed and its enrich cache. */
interface TestWorker {
  readonly warm: WarmStore;
  readonly feed: PgInvalidationFeed;
  readonly op: EnrichOperator;
  readonly log: ReturnType<typeof recordingLogger>;
}

describe('master-data invalidations with a password-protected PostgreSQL', () => {
  let db: TestDatabase;
  let admin: pg.Client;
  let hbaFile: string;
  let hbaBefore: string | undefined;
  let url: string;
  let applier: WarmStore;
  let sequence = 1n;
  const workers: TestWorker[] = [];

  /** A Warm store logging in as the role, its password from the environment variable. */
  const warmStore = (password: string) =>
    openWarmStore(
      warmStoreConfigSchema.parse({ writeUrl: url, credentials: { passwordEnv: PASSWORD_ENV } }),
      { env: { [PASSWORD_ENV]: password } },
    );

  async function worker(warm = warmStore(PASSWORD)): Promise<TestWorker> {
    const log = recordingLogger();
    const feed = pgInvalidationFeed(warm.writeEndpoint!, { clock: systemClock, log });
    const op = enrich(enrichConfigSchema.parse({}), pgDeviceDirectory(warm.read), feed);
    const w = { warm, feed, op, log };
    workers.push(w);
    await op.open?.({ node: 'enrich', clock: systemClock, signal: new AbortController().signal });
    return w;
  }

  async function applyCdc(docs: object[]): Promise<void> {
    const records = asRawRecords(docs, 'shardId-000000000000', sequence);
    sequence += BigInt(docs.length);
    const changes = cdcDecode(CDC_MAPPINGS).process(records, { ...context, node: 'cdc-decode' });
    await masterDataApplySink(applier.write).write(changes as MasterDataChange[], {
      node: 'masterdata-apply',
      shardId: 'shardId-000000000000',
      position: { sequenceNumber: records.at(-1)!.sequenceNumber, subSequenceNumber: 0 },
      clock: systemClock,
    });
  }

  const siteOf = async (w: TestWorker, at: number) =>
    ((await w.op.process([reading('stayer', at)], context)) as Enriched[])[0]!.site_id;

  beforeAll(async () => {
    db = await createTestDatabase('listen_auth');
    admin = new pg.Client({ connectionString: testEnv('SHARDFLOW_TEST_POSTGRES_URL') });
    admin.on('error', () => {});
    await admin.connect();
    const name = new URL(db.url).pathname.slice(1);
    await admin.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${PASSWORD}'`);
    // the role owns the database, so it migrates and writes it as a deployment's user would
    await admin.query(`ALTER DATABASE ${name} OWNER TO ${ROLE}`);
    hbaFile = (await admin.query<{ hba_file: string }>('SHOW hba_file')).rows[0]!.hba_file;
    hbaBefore = readFileSync(hbaFile, 'utf8');
    writeFileSync(hbaFile, `host all ${ROLE} 127.0.0.1/32 scram-sha-256\n${hbaBefore}`);
    await admin.query('SELECT pg_reload_conf()');
    const bad = await admin.query('SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL');
    expect(bad.rows).toEqual([]);

    const u = new URL(db.url);
    u.username = ROLE;
    url = u.toString();
    applier = warmStore(PASSWORD);
    await migrateWarm(applier.write);
    const t = DAY / 1000 - 86_400;
    await applyCdc([
      mongoChange('fm', 'sites', 'insert', 'A', { t, i: 1 }, { fullDocument: { owner: 'X' } }),
      mongoChange('fm', 'sites', 'insert', 'B', { t, i: 2 }, { fullDocument: { owner: 'Y' } }),
      dmsData('iot', 'devices', 'load', { device_id: 'stayer', product: 'thermo-t1', site: 'A' }, DAY),
    ]);
  });

  afterAll(async () => {
    for (const w of workers) {
      await w.op.close?.();
      await w.feed.close();
      await w.warm.close();
    }
    await applier?.close();
    if (hbaBefore !== undefined) {
      writeFileSync(hbaFile, hbaBefore);
      await admin.query('SELECT pg_reload_conf()');
    }
    await db?.drop();
    await admin?.query(`DROP ROLE IF EXISTS ${ROLE}`);
    await admin?.end();
  });

  it('the role cannot log in without its password (the server really asks for it)', async () => {
    // the reload reaches new connections once the postmaster has read the file
    await waitFor('pg_hba.conf to be in force', async () => {
      const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
      c.on('error', () => {});
      try {
        await c.connect();
        return false;
      } catch {
        return true;
      } finally {
        await c.end().catch(() => {});
      }
    });
  });

  it('two workers with credentials.passwordEnv see a committed CDC change within 1 s', async () => {
    const two = [await worker(), await worker()];
    const feedsReady = two.map((w) =>
      waitFor('the feed to listen', () => gauge(w.op, 'masterdata_invalidations_connected') === 1, 10_000),
    );
    await Promise.all(feedsReady);
    const now = Date.now();
    for (const w of two) expect(await siteOf(w, now)).toBe('A');
    const lookupsBefore = two.map((w) => w.op.stats().lookups);

    await applyCdc([
      dmsData(
        'iot',
        'devices',
        'update',
        { device_id: 'stayer', product: 'thermo-t1', site: 'B' },
        now - 1000,
      ),
    ]);
    const committed = performance.now();
    const seenAt: number[] = [];
    await waitFor(
      'both workers to enrich with the new site',
      async () => {
        for (const [i, w] of two.entries())
          if (seenAt[i] === undefined && (await siteOf(w, now)) === 'B')
            seenAt[i] = performance.now() - committed;
        return seenAt.filter((s) => s !== undefined).length === two.length;
      },
      10_000,
    );
    // the acceptance: on every worker within 1 s of the commit, through the invalidation
    expect(Math.max(...seenAt)).toBeLessThan(1000);
    expect(two.map((w) => w.op.stats().lookups)).toEqual(lookupsBefore.map((n) => n + 1));
    for (const w of two) {
      expect(w.log.entries.filter((e) => e.level === 'warn')).toEqual([]);
      expect(w.log.entries.map((e) => e.message)).toEqual(['master-data invalidations: listening']);
    }
  });

  it('a wrong password is logged at every attempt and the gauge says 0, never silent', async () => {
    const wrong = `wrong-${randomUUID()}`;
    const w = await worker(warmStore(wrong));
    await waitFor(
      'two failed attempts',
      () => w.log.entries.filter((e) => e.level === 'warn').length >= 2,
      10_000,
    );
    const failed = w.log.entries.find((e) => e.level === 'warn')!;
    expect(failed.message).toMatch(/^master-data invalidations: cannot connect/);
    expect(failed.fields).toMatchObject({
      endpoint: describeEndpoint(url),
      error: `password authentication failed for user "${ROLE}"`,
    });
    expect(gauge(w.op, 'masterdata_invalidations_connected')).toBe(0);
    expect(gauge(w.op, 'masterdata_invalidations_failures_total')).toBeGreaterThanOrEqual(2);
    expect(gauge(w.op, 'masterdata_invalidations_reconnects_total')).toBeGreaterThanOrEqual(1);
    // the endpoint is described, the password never
    expect(JSON.stringify(w.log.entries)).not.toContain(wrong);
  });

  it('a lost connection is logged; it logs in again without asking Secrets Manager again', async () => {
    const asked: unknown[] = [];
    const secrets: SecretsReader = {
      send: (async (command: GetSecretValueCommand) => {
        asked.push(command.input.SecretId);
        return { SecretString: JSON.stringify({ username: ROLE, password: PASSWORD }) };
      }) as SecretsReader['send'],
    };
    const noUser = new URL(url);
    noUser.username = '';
    const config = { writeUrl: noUser.toString(), credentials: { secretArn: SECRET_ARN } };
    const w = await worker(openWarmStore(warmStoreConfigSchema.parse(config), { secrets: () => secrets }));
    expect((await w.warm.write.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await waitFor(
      'the feed to listen',
      () => gauge(w.op, 'masterdata_invalidations_connected') === 1,
      10_000,
    );
    // ends every LISTEN connection of the role; the other workers reconnect too
    await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND query LIKE 'LISTEN%'`,
      [ROLE],
    );
    await waitFor(
      'the feed to listen again',
      () => w.log.entries.filter((e) => e.message === 'master-data invalidations: listening').length === 2,
      10_000,
    );
    const lost = w.log.entries.find((e) => e.level === 'warn')!;
    expect(lost.message).toMatch(/^master-data invalidations: connection lost/);
    expect(lost.fields).toMatchObject({ endpoint: describeEndpoint(url) });
    expect(gauge(w.op, 'masterdata_invalidations_connected')).toBe(1);
    expect(gauge(w.op, 'masterdata_invalidations_reconnects_total')).toBe(1);
    // the pool and both LISTEN connections logged in with one reading of the secret
    expect(asked).toEqual([SECRET_ARN]);
  });
});
