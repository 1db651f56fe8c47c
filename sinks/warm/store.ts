/**
 * Opens the Warm store from configuration: a PostgreSQL (Aurora) write endpoint and an optional read
 * endpoint (CQRS), or an embedded PGlite database for the demo. Nothing connects until first use, so
 * a topology can be built and described without a database.
 */
import { z } from 'zod';
import { pgliteSqlClient, pgSqlClient, type SqlClient } from './sql.ts';

const EMBEDDED = /^embedded(?::(.+))?$/;

const endpoint = z.string().refine((s) => EMBEDDED.test(s) || /^postgres(ql)?:\/\//.test(s), {
  message: 'expected a postgres://… URL, "embedded" (in memory) or "embedded:DIR" (PGlite on disk)',
});

/** Configuration of the Warm store. */
export const warmStoreConfigSchema = z
  .object({
    writeUrl: endpoint.describe('PostgreSQL write endpoint, or "embedded" for PGlite'),
    readUrl: endpoint.optional().describe('PostgreSQL read endpoint (reads); the write endpoint when absent'),
    maxConnections: z.number().int().min(1).max(100).default(4).describe('connections per endpoint'),
    connectTimeoutMs: z.number().int().min(100).default(5000).describe('time allowed to connect'),
  })
  .strict();
/** See {@link warmStoreConfigSchema}. */
export type WarmStoreConfig = z.output<typeof warmStoreConfigSchema>;

/** The Warm store's two endpoints (the same client when only one is configured). */
export interface WarmStore {
  readonly write: SqlClient;
  readonly read: SqlClient;
  close(): Promise<void>;
}

/** A client created on first use. */
function lazy(open: () => Promise<SqlClient>): SqlClient {
  let opened: Promise<SqlClient> | undefined;
  const get = () => {
    opened ??= open();
    return opened;
  };
  return {
    query: async (text, params) => (await get()).query(text, params),
    transaction: async (work) => (await get()).transaction(work),
    close: async () => {
      const closing = opened;
      opened = undefined;
      if (closing) await (await closing).close();
    },
  };
}

async function openEndpoint(url: string, config: WarmStoreConfig): Promise<SqlClient> {
  const embedded = EMBEDDED.exec(url);
  if (embedded) {
    const { PGlite } = await import('@electric-sql/pglite');
    return pgliteSqlClient(await PGlite.create(embedded[1]));
  }
  const { default: pg } = await import('pg');
  return pgSqlClient(
    new pg.Pool({
      connectionString: url,
      max: config.maxConnections,
      connectionTimeoutMillis: config.connectTimeoutMs,
    }),
  );
}

/** Opens (lazily) the Warm store's endpoints. */
export function openWarmStore(config: WarmStoreConfig): WarmStore {
  const write = lazy(() => openEndpoint(config.writeUrl, config));
  const read =
    config.readUrl === undefined || config.readUrl === config.writeUrl
      ? write
      : lazy(() => openEndpoint(config.readUrl!, config));
  return {
    write,
    read,
    async close() {
      await write.close();
      if (read !== write) await read.close();
    },
  };
}

/** The host and port of an endpoint, for messages ("at 127.0.0.1:5432"); never the password. */
export function describeEndpoint(url: string): string {
  if (EMBEDDED.test(url)) return url;
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
}
