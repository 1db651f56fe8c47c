/** A fresh PostgreSQL database per test file, on the server the integration setup started. */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { testEnv } from './wait.ts';

/** A database of its own, and how to drop it. */
export interface TestDatabase {
  readonly url: string;
  drop(): Promise<void>;
}

/** Creates an empty database on the test server. */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const serverUrl = testEnv('SHARDFLOW_TEST_POSTGRES_URL');
  const name = `it_${label}_${randomUUID().slice(0, 8)}`.replaceAll('-', '_');
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

/**
 * A pool on a test database. Its idle connections are terminated when the database is dropped
 * (`DROP DATABASE … WITH (FORCE)`: 57P01), which a pool without an 'error' listener raises as an
 * uncaught exception in whatever test runs then; the queries' own errors still reach the callers.
 */
export function testPool(url: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max });
  pool.on('error', () => {});
  return pool;
}

/** Records counted in the hourly counts and rows in the dead-letter table of a Warm store. */
export async function warmTotals(pool: pg.Pool): Promise<{ counted: number; dead: number }> {
  const { rows } = await pool.query<{ counted: string; dead: string }>(
    `SELECT (SELECT coalesce(sum(record_count), 0) FROM product_hourly_counts)::text AS counted,
            (SELECT count(*) FROM dead_letters)::text AS dead`,
  );
  return { counted: Number(rows[0]!.counted), dead: Number(rows[0]!.dead) };
}
