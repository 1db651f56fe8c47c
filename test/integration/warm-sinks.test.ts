/**
 * The Warm sinks against a real PostgreSQL server and against embedded PGlite: one suite, both
 * adapters of `SqlClient`, so the demo's store behaves as production's does.
 */
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import Postgrator from 'postgrator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadLetterStoreSink } from '../../sinks/deadletter/deadLetterStore.ts';
import { postgresDeadLetterStore } from '../../sinks/deadletter/postgresDeadLetterStore.ts';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { pgliteSqlClient, pgSqlClient, type SqlClient } from '../../sinks/postgres/sql.ts';
import { type BatchContext, type DeadLetter, ManualClock } from '../../topology/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';

const MIGRATIONS = fileURLToPath(new URL('../../sinks/postgres/migrations/*.sql', import.meta.url));
/** Which of the first slice's hourly-count tables the database has. */
const tables = async (client: SqlClient): Promise<string[]> => {
  const { rows } = await client.query<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.tables
      WHERE table_name IN ('product_hourly_counts', 'sink_progress') ORDER BY table_name`,
  );
  return rows.map((r) => r.name);
};
const at = (shardId: string, sequenceNumber: string): BatchContext => ({
  node: 'dead-letters',
  shardId,
  position: { sequenceNumber, subSequenceNumber: 0 },
  clock: new ManualClock(),
});

const adapters: Array<[string, () => Promise<{ client: SqlClient; cleanup: () => Promise<void> }>]> = [
  [
    'postgresql',
    async () => {
      const db: TestDatabase = await createTestDatabase('warm');
      const client = pgSqlClient(new pg.Pool({ connectionString: db.url, max: 2 }));
      return {
        client,
        cleanup: async () => {
          await client.close();
          await db.drop();
        },
      };
    },
  ],
  [
    'pglite',
    async () => {
      const client = pgliteSqlClient(await PGlite.create());
      return { client, cleanup: () => client.close() };
    },
  ],
];

describe.each(adapters)('Warm sinks on %s', (_name, open) => {
  let client: SqlClient;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ client, cleanup } = await open());
    const [first, second] = await Promise.all([migrateWarm(client), migrateWarm(client)]);
    // Two workers starting together: one applies the migrations, the other finds nothing to do.
    expect([first.applied.length > 0, second.applied.length > 0].sort()).toEqual([false, true]);
    expect((await migrateWarm(client)).applied).toEqual([]);
  });
  afterAll(() => cleanup());

  it('records each applied migration with its checksum', async () => {
    const { rows } = await client.query<{ version: string; name: string; md5: string }>(
      'SELECT version::text AS version, name, md5 FROM schema_migrations WHERE version > 0 ORDER BY version',
    );
    expect(rows[0]).toMatchObject({ version: '1', name: 'first-slice' });
    expect(rows.every((r) => /^[0-9a-f]{32}$/.test(r.md5))).toBe(true);
  });

  it('drops the retired hourly-count tables from a database that has them', async () => {
    const old = await open();
    try {
      // a database as the last release left it: every migration up to 500, a count in the table
      await new Postgrator({
        migrationPattern: MIGRATIONS,
        driver: 'pg',
        schemaTable: 'schema_migrations',
        execQuery: (query: string) => old.client.query(query),
      }).migrate('500');
      await old.client.query(
        "INSERT INTO product_hourly_counts (product_id, hour_start, record_count) VALUES ('a', now(), 1)",
      );
      expect(await tables(old.client)).toEqual(['product_hourly_counts', 'sink_progress']);
      const result = await migrateWarm(old.client);
      // 501 first; the migrations released after it follow
      expect(result.from).toBe(500);
      expect(result.applied[0]).toMatch(/\/501\.do\.retire-hourly-counts\.sql$/);
      expect(await tables(old.client)).toEqual([]);
    } finally {
      await old.cleanup();
    }
  });

  it('creates no retired table on a new database', async () => {
    expect(await tables(client)).toEqual([]);
  });

  it('keeps dead letters with their bytes and reason, once per stream position and node', async () => {
    const sink = deadLetterStoreSink(postgresDeadLetterStore(client));
    const letter: DeadLetter = {
      node: 'parse-envelope',
      reason: 'envelope is not JSON',
      stream: 'telemetry',
      shardId: 'shard-1',
      sequenceNumber: '42',
      payloadBase64: Buffer.from('not json').toString('base64'),
      failedAt: 1_700_000_000_000,
    };
    await sink.write([letter, { ...letter, sequenceNumber: '43' }], at('shard-1', '43'));
    await sink.write([letter], at('shard-1', '43'));
    const { rows } = await client.query<{ sequence_number: string; reason: string; payload: Uint8Array }>(
      'SELECT sequence_number, reason, payload FROM dead_letters ORDER BY sequence_number',
    );
    expect(rows.map((r) => r.sequence_number)).toEqual(['42', '43']);
    expect(rows[0]!.reason).toBe('envelope is not JSON');
    expect(Buffer.from(rows[0]!.payload).toString()).toBe('not json');
  });

  it('keeps each refused record of one raw record (hub children) apart by item, once each', async () => {
    const sink = deadLetterStoreSink(postgresDeadLetterStore(client));
    const child = (item: string): DeadLetter => ({
      node: 'late-records',
      reason: 'too late',
      code: 'too-late',
      stream: 'telemetry',
      shardId: 'shard-2',
      sequenceNumber: '77',
      subSequenceNumber: 3,
      item,
      payloadBase64: Buffer.from(item).toString('base64'),
      failedAt: 1_700_000_000_000,
    });
    const children = [child('hub-1-c1@1700000000000'), child('hub-1-c2@1700000000000')];
    await sink.write(children, at('shard-2', '77'));
    await sink.write(children, at('shard-2', '77'));
    const { rows } = await client.query<{ item: string }>(
      "SELECT item FROM dead_letters WHERE shard_id = 'shard-2' ORDER BY item",
    );
    expect(rows.map((r) => r.item)).toEqual(['hub-1-c1@1700000000000', 'hub-1-c2@1700000000000']);
  });
});
