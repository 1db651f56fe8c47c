/**
 * Opens the Warm store from configuration: a PostgreSQL (Aurora) write endpoint and an optional read
 * endpoint (CQRS), or an embedded PGlite database for the demo. Nothing connects until first use, so
 * a topology can be built and described without a database.
 */
import { readFileSync } from 'node:fs';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import {
  credentialsConfigSchema,
  PASSWORD_IN_URL,
  resolveCredentials,
  type SecretsReader,
  withCredentials,
} from './credentials.ts';
import { pgliteSqlClient, pgSqlClient, type SqlClient } from './sql.ts';

const EMBEDDED = /^embedded(?::(.+))?$/;

const endpoint = z
  .string()
  .refine((s) => EMBEDDED.test(s) || /^postgres(ql)?:\/\//.test(s), {
    message: 'expected a postgres://… URL, "embedded" (in memory) or "embedded:DIR" (PGlite on disk)',
  })
  .refine(PASSWORD_IN_URL.check, { message: PASSWORD_IN_URL.message });

/** Configuration of the Warm store. */
export const warmStoreConfigSchema = z
  .object({
    writeUrl: endpoint.describe('PostgreSQL write endpoint, or "embedded" for PGlite'),
    readUrl: endpoint.optional().describe('PostgreSQL read endpoint (reads); the write endpoint when absent'),
    maxConnections: z.number().int().min(1).max(100).default(4).describe('connections per endpoint'),
    connectTimeoutMs: z.number().int().min(100).default(5000).describe('time allowed to connect'),
    credentials: credentialsConfigSchema
      .optional()
      .describe('user name and password from the environment or AWS Secrets Manager'),
    tls: z.boolean().default(false).describe('connect with TLS, verifying the server certificate'),
    tlsCaFile: z
      .string()
      .optional()
      .describe('PEM file of the CA to verify the server with (e.g. the RDS bundle)'),
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

/** Where credentials are looked up; the process environment and a default client when absent. */
export interface StoreDeps {
  readonly env?: NodeJS.ProcessEnv;
  readonly secrets?: () => SecretsReader;
  /** The configuration section, for messages (default `warm`). */
  readonly key?: string;
}

/** The `ssl` option of node-postgres for a store's TLS settings. */
export function pgTlsOptions(config: { tls: boolean; tlsCaFile?: string }) {
  if (!config.tls) return undefined;
  return {
    rejectUnauthorized: true,
    ...(config.tlsCaFile !== undefined ? { ca: readFileSync(config.tlsCaFile, 'utf8') } : {}),
  };
}

async function openEndpoint(
  url: string,
  key: string,
  config: WarmStoreConfig,
  deps: StoreDeps,
): Promise<SqlClient> {
  const embedded = EMBEDDED.exec(url);
  if (embedded) {
    const { PGlite } = await import('@electric-sql/pglite');
    return pgliteSqlClient(await PGlite.create(embedded[1]));
  }
  const credentials = await resolveCredentials(
    { key, credentials: config.credentials },
    deps.env ?? process.env,
    deps.secrets ?? (() => new SecretsManagerClient({})),
  );
  const { default: pg } = await import('pg');
  return pgSqlClient(
    new pg.Pool({
      connectionString: withCredentials(url, credentials),
      max: config.maxConnections,
      connectionTimeoutMillis: config.connectTimeoutMs,
      ssl: pgTlsOptions(config),
    }),
  );
}

/** Opens (lazily) the Warm store's endpoints. */
export function openWarmStore(config: WarmStoreConfig, deps: StoreDeps = {}): WarmStore {
  const write = lazy(() => openEndpoint(config.writeUrl, deps.key ?? 'warm', config, deps));
  const read =
    config.readUrl === undefined || config.readUrl === config.writeUrl
      ? write
      : lazy(() => openEndpoint(config.readUrl!, deps.key ?? 'warm', config, deps));
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
