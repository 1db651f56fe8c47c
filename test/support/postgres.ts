/** A fresh PostgreSQL database per test file, on the server the integration setup started. */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Position } from '../../topology/index.ts';
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

/**
 * What a worker's stores hold of the records it read, on a Warm store that also holds the Hot tables
 * (no `hot` configured). `stored` counts distinct stream positions in `hot_telemetry`, one per raw
 * record whatever it decoded into (a hub frame's children, a logger's rows are rows of one position);
 * `dead` counts dead-letter rows. A record is one or the other unless a later stage dead-letters a
 * stored record (too late for the windows), which these tests' fleets do not send.
 */
export async function storeTotals(pool: pg.Pool): Promise<{ stored: number; dead: number }> {
  const { rows } = await pool.query<{ stored: string; dead: string }>(
    `SELECT (SELECT count(*) FROM (SELECT DISTINCT stream, shard_id, sequence_number, sub_sequence_number
                                     FROM hot_telemetry) p)::text AS stored,
            (SELECT count(*) FROM dead_letters)::text AS dead`,
  );
  return { stored: Number(rows[0]!.stored), dead: Number(rows[0]!.dead) };
}

/**
 * Per shard, the highest position among its records in the Hot telemetry: what the shard's worker
 * has processed and written so far, checkpointed or not.
 */
export async function hotPositions(pool: pg.Pool): Promise<Map<string, Position>> {
  const { rows } = await pool.query<{ shard_id: string; sequence_number: string; sub: number }>(
    `SELECT DISTINCT ON (shard_id) shard_id, sequence_number, sub_sequence_number AS sub
       FROM hot_telemetry
       ORDER BY shard_id, length(sequence_number) DESC, sequence_number DESC, sub_sequence_number DESC`,
  );
  return new Map(
    rows.map((r) => [r.shard_id, { sequenceNumber: r.sequence_number, subSequenceNumber: r.sub }]),
  );
}
