/**
 * The PostgreSQL Hot store: the shared conformance suite on a real PostgreSQL server (with the
 * acceptance figure of 100,000 replayed records) and on embedded PGlite (the demo's store), and
 * what only this implementation has: telemetry partitioned by day, retention by dropping partitions.
 */
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, utcDayStart } from '../../sinks/hot/hotStore.ts';
import { hotStoreConfigSchema, openHotStore } from '../../sinks/hot/openHotStore.ts';
import { postgresHotStore } from '../../sinks/hot/postgresHotStore.ts';
import { pgliteSqlClient, pgSqlClient, type SqlClient } from '../../sinks/postgres/sql.ts';
import { hotConformance } from '../support/hotConformance.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { enriched } from '../support/records.ts';

hotConformance(
  'postgresql',
  async () => {
    const db = await createTestDatabase('hot');
    const write = pgSqlClient(new pg.Pool({ connectionString: db.url, max: 2 }));
    const read = pgSqlClient(new pg.Pool({ connectionString: db.url, max: 2 }));
    return {
      store: postgresHotStore({ write, read }, { retentionDays: 10 }),
      cleanup: async () => {
        await write.close();
        await read.close();
        await db.drop();
      },
    };
  },
  { replayRecords: 100_000 },
);

hotConformance(
  'pglite',
  async () => {
    const client = pgliteSqlClient(await PGlite.create());
    return {
      store: postgresHotStore({ write: client, read: client }, { retentionDays: 10 }),
      cleanup: () => client.close(),
    };
  },
  { replayRecords: 5_000 },
);

describe('PostgreSQL Hot store partitions', () => {
  let db: TestDatabase;
  let client: SqlClient;
  const today = utcDayStart(Date.now());

  const partitions = async () =>
    (
      await client.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'hot_telemetry' ORDER BY 1`,
      )
    ).rows.map((r) => r.name);
  const day = (at: number) => `hot_telemetry_p${new Date(at).toISOString().slice(0, 10).replaceAll('-', '')}`;

  beforeAll(async () => {
    db = await createTestDatabase('hotparts');
    client = pgSqlClient(new pg.Pool({ connectionString: db.url, max: 2 }));
  });
  afterAll(async () => {
    await client?.close();
    await db?.drop();
  });

  it('creates a day’s partition (and the next) on first write, and drops whole partitions past the retention', async () => {
    const store = postgresHotStore({ write: client, read: client }, { retentionDays: 3 });
    await store.prepare();
    expect(await partitions()).toEqual([]);
    const now = today + 12 * 3_600_000;
    await store.writeTelemetry(
      [enriched('d1', today - 2 * DAY_MS + 5, 1, { t: 1 }), enriched('d1', today + 5, 2, { t: 2 })],
      now,
    );
    expect(await partitions()).toEqual(
      [today - 2 * DAY_MS, today - DAY_MS, today, today + DAY_MS].map(day).sort(),
    );
    // a second worker that does not know the partitions exist writes the same days without error
    await postgresHotStore({ write: client, read: client }, { retentionDays: 3 }).writeTelemetry(
      [enriched('d2', today + 6, 3, { t: 3 })],
      now,
    );
    // a day on, the partition of three days ago holds only expired records and is dropped whole
    expect(await store.expire(now + 2 * DAY_MS)).toBe(1);
    expect(await partitions()).toEqual([today - DAY_MS, today, today + DAY_MS].map(day).sort());
    expect(await store.countTelemetry(0, today + 2 * DAY_MS)).toBe(2);
    expect(await store.expire(now + 2 * DAY_MS)).toBe(0);
  });

  it('drops NUL characters, which PostgreSQL text cannot hold, instead of failing the batch', async () => {
    const store = postgresHotStore({ write: client, read: client }, { retentionDays: 3 });
    const now = today + 12 * 3_600_000;
    await store.writeTelemetry([enriched('d-nul', today + 7, 4, { label: 'AB\u0000\u0000', t: 1 })], now);
    const [stored] = await store.readTelemetry({ deviceId: 'd-nul', from: today, to: today + DAY_MS });
    expect(stored?.metrics).toEqual({ label: 'AB', t: 1 });
  });

  it('opens from configuration, separate write and read pools sized by maxConnections', async () => {
    const store = await openHotStore(
      hotStoreConfigSchema.parse({
        writeUrl: db.url,
        readUrl: `${db.url}?application_name=hot-reader`,
        maxConnections: 1,
      }),
    );
    await store.prepare();
    const now = today + 12 * 3_600_000;
    await store.writeTelemetry([enriched('d-config', today + 9, 5, { t: 9 })], now);
    expect((await store.readLatestState('d-config'))?.metrics).toEqual({ t: 9 });
    const { rows } = await client.query<{ application_name: string }>(
      "SELECT application_name FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'hot-reader'",
    );
    expect(rows).toHaveLength(1);
    await store.close();
  });
});
