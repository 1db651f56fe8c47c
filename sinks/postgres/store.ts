/**
 * Opens the Warm store from configuration: a PostgreSQL (Aurora) write endpoint and an optional read
 * endpoint (CQRS), or an embedded PGlite database for the demo. Nothing connects until first use, so
 * a topology can be built and described without a database.
 */
import { readFileSync } from 'node:fs';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { ClientConfig } from 'pg';
import { z } from 'zod';
import {
  credentialsConfigSchema,
  PASSWORD_IN_URL,
  type ResolvedCredentials,
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

/**
 * A PostgreSQL endpoint as the Warm store reaches it, for a connection outside its pools (the
 * master-data `LISTEN` connection), so that connection logs in exactly as the pool does.
 */
export interface PgEndpoint {
  /** Host, port and database, for messages; never the password. */
  readonly address: string;
  /** node-postgres settings: resolved credentials in the URL, TLS, connect timeout. Kept once made. */
  settings(): Promise<ClientConfig>;
}

/** The Warm store's two endpoints (the same client when only one is configured). */
export interface WarmStore {
  readonly write: SqlClient;
  readonly read: SqlClient;
  /** The write endpoint for a connection of its own; absent for PGlite, which has no server. */
  readonly writeEndpoint?: PgEndpoint;
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
function pgTlsOptions(config: { tls: boolean; tlsCaFile?: string }) {
  if (!config.tls) return undefined;
  return {
    rejectUnauthorized: true,
    ...(config.tlsCaFile !== undefined ? { ca: readFileSync(config.tlsCaFile, 'utf8') } : {}),
  };
}

/** `get`'s answer, asked for once and kept; a failure is not kept, so the next call asks again. */
function once<T>(get: () => Promise<T>): () => Promise<T> {
  let kept: Promise<T> | undefined;
  return () => {
    kept ??= get().catch((error: unknown) => {
      kept = undefined;
      throw error;
    });
    return kept;
  };
}

/** The one place a PostgreSQL endpoint's connection settings are made (pools and `LISTEN` alike). */
function pgEndpoint(
  url: string,
  config: WarmStoreConfig,
  credentials: () => Promise<ResolvedCredentials>,
): PgEndpoint {
  return {
    address: describeEndpoint(url),
    settings: once(async () => ({
      connectionString: withCredentials(url, await credentials()),
      connectionTimeoutMillis: config.connectTimeoutMs,
      ssl: pgTlsOptions(config),
    })),
  };
}

async function openPool(endpoint: PgEndpoint, config: WarmStoreConfig): Promise<SqlClient> {
  const { default: pg } = await import('pg');
  return pgSqlClient(new pg.Pool({ ...(await endpoint.settings()), max: config.maxConnections }));
}

async function openEmbedded(dir: string | undefined): Promise<SqlClient> {
  const { PGlite } = await import('@electric-sql/pglite');
  return pgliteSqlClient(await PGlite.create(dir));
}

/** Opens (lazily) the Warm store's endpoints. */
export function openWarmStore(config: WarmStoreConfig, deps: StoreDeps = {}): WarmStore {
  // One resolution for every endpoint and the LISTEN connection: Secrets Manager is asked once.
  const credentials = once(() =>
    resolveCredentials(
      { key: deps.key ?? 'warm', credentials: config.credentials },
      deps.env ?? process.env,
      deps.secrets ?? (() => new SecretsManagerClient({})),
    ),
  );
  const endpoint = (url: string) => {
    const embedded = EMBEDDED.exec(url);
    if (embedded) return { client: lazy(() => openEmbedded(embedded[1])) };
    const server = pgEndpoint(url, config, credentials);
    return { client: lazy(() => openPool(server, config)), server };
  };
  const writer = endpoint(config.writeUrl);
  const write = writer.client;
  const read =
    config.readUrl === undefined || config.readUrl === config.writeUrl
      ? write
      : endpoint(config.readUrl).client;
  return {
    write,
    read,
    ...(writer.server ? { writeEndpoint: writer.server } : {}),
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
