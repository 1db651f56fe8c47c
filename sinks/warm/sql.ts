/**
 * The small SQL surface the Warm sinks need, with two adapters: node-postgres (a real PostgreSQL or
 * Aurora endpoint) and PGlite (embedded, for the demo). Sinks are written once against `SqlClient`.
 */
import type { PGlite } from '@electric-sql/pglite';
import type { Pool, PoolClient } from 'pg';

/** Rows of a query. */
export interface SqlResult<Row> {
  readonly rows: Row[];
}

/** Runs statements; `transaction` runs `work` in one transaction on one connection. */
export interface SqlClient {
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<SqlResult<Row>>;
  transaction<T>(work: (tx: SqlClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

type Queryable = Pick<Pool, 'query'> | Pick<PoolClient, 'query'>;

function pgQuery(q: Queryable): SqlClient['query'] {
  return (async (text: string, params?: readonly unknown[]) => {
    const result = await q.query(text, params as unknown[]);
    return { rows: result.rows };
  }) as SqlClient['query'];
}

function fromPoolClient(client: PoolClient): SqlClient {
  return {
    query: pgQuery(client),
    transaction: () => Promise.reject(new Error('nested transactions are not supported')),
    close: async () => {},
  };
}

/**
 * A `SqlClient` over a node-postgres pool. A connection that dies (database restart, failover,
 * network) makes its client emit 'error', which would crash the process where no listener happens
 * to be attached at that moment; every client gets one, and the failure reaches the caller as the
 * rejected query instead, which the runtime retries.
 */
export function pgSqlClient(pool: Pool): SqlClient {
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return {
    query: pgQuery(pool),
    async transaction(work) {
      const client = await pool.connect();
      let failed: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await work(fromPoolClient(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        failed = error instanceof Error ? error : new Error(String(error));
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        // After a failure the connection is discarded rather than returned to the pool.
        client.release(failed);
      }
    },
    close: () => pool.end(),
  };
}

/** A `SqlClient` over an embedded PGlite database. */
export function pgliteSqlClient(db: PGlite): SqlClient {
  // Without parameters a text may hold several statements (a migration file): PGlite runs those only
  // through `exec`, which answers with the rows of the last one, as node-postgres does.
  const wrap = (q: Pick<PGlite, 'query' | 'exec'>): SqlClient['query'] =>
    (async (text: string, params?: readonly unknown[]) => {
      if (params === undefined) {
        const results = await q.exec(text);
        return { rows: results.at(-1)?.rows ?? [] };
      }
      const result = await q.query(text, params as unknown[]);
      return { rows: result.rows };
    }) as SqlClient['query'];
  return {
    query: wrap(db),
    transaction: (work) =>
      db.transaction((tx) =>
        work({
          query: wrap(tx),
          transaction: () => Promise.reject(new Error('nested transactions are not supported')),
          close: async () => {},
        }),
      ),
    close: () => db.close(),
  };
}

/** `($1, $2), ($3, $4), …` for a multi-row VALUES list of `rows` rows of `columns` columns. */
export function valuesList(rows: number, columns: number): string {
  const tuples: string[] = [];
  for (let r = 0; r < rows; r++) {
    const cells: string[] = [];
    for (let c = 1; c <= columns; c++) cells.push(`$${r * columns + c}`);
    tuples.push(`(${cells.join(', ')})`);
  }
  return tuples.join(', ');
}
