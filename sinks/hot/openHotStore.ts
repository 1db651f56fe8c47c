/**
 * Opens the Hot store from configuration: PostgreSQL (a server, or embedded PGlite for the demo) or
 * MongoDB / DocumentDB. Credentials come from the environment or Secrets Manager (never the YAML);
 * TLS is configurable (DocumentDB requires it). Each implementation's driver is loaded only when used.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { credentialsConfigSchema, PASSWORD_IN_URL, resolveCredentials } from '../postgres/credentials.ts';
import { openWarmStore, type StoreDeps } from '../postgres/store.ts';
import type { HotStore } from './hotStore.ts';

const POSTGRES = /^(postgres(ql)?:\/\/|embedded(:.+)?$)/;
const MONGODB = /^mongodb(\+srv)?:\/\//;

const url = z.string().refine(PASSWORD_IN_URL.check, { message: PASSWORD_IN_URL.message });

/** Configuration of the Hot store. */
export const hotStoreConfigSchema = z
  .object({
    kind: z
      .enum(['postgres', 'mongodb'])
      .default('postgres')
      .describe('postgres (local runs, the demo) or mongodb (MongoDB / Amazon DocumentDB)'),
    writeUrl: url.describe(
      'write endpoint: postgres://…, "embedded", or mongodb://… (DocumentDB cluster endpoint)',
    ),
    readUrl: url
      .optional()
      .describe('read endpoint (reads; DocumentDB reader endpoint); the write endpoint when absent'),
    database: z.string().min(1).default('shardflow').describe('MongoDB database name'),
    retentionDays: z.number().int().min(1).max(3650).default(10).describe('days of joined telemetry kept'),
    maxConnections: z.number().int().min(1).max(100).default(4).describe('connections per endpoint'),
    connectTimeoutMs: z.number().int().min(100).default(5000).describe('time allowed to connect'),
    credentials: credentialsConfigSchema
      .optional()
      .describe('user name and password from the environment or AWS Secrets Manager'),
    tls: z.boolean().default(false).describe('connect with TLS (DocumentDB requires it)'),
    tlsCaFile: z.string().optional().describe('PEM file of the CA (e.g. global-bundle.pem for DocumentDB)'),
  })
  .strict()
  .superRefine((c, ctx) => {
    const pattern = c.kind === 'mongodb' ? MONGODB : POSTGRES;
    for (const key of ['writeUrl', 'readUrl'] as const) {
      const value = c[key];
      if (value !== undefined && !pattern.test(value))
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message:
            c.kind === 'mongodb'
              ? 'expected a mongodb:// or mongodb+srv:// URL for kind mongodb'
              : 'expected a postgres://… URL, "embedded" or "embedded:DIR" for kind postgres',
        });
    }
  });
/** See {@link hotStoreConfigSchema}. */
export type HotStoreConfig = z.output<typeof hotStoreConfigSchema>;

/** Opens the Hot store (connections are made on first use for PostgreSQL, at once for MongoDB). */
export async function openHotStore(config: HotStoreConfig, deps: StoreDeps = {}): Promise<HotStore> {
  if (config.kind === 'postgres') {
    const { postgresHotStore } = await import('./postgresHotStore.ts');
    const endpoints = openWarmStore(
      {
        writeUrl: config.writeUrl,
        readUrl: config.readUrl,
        maxConnections: config.maxConnections,
        connectTimeoutMs: config.connectTimeoutMs,
        credentials: config.credentials,
        tls: config.tls,
        tlsCaFile: config.tlsCaFile,
      },
      { ...deps, key: 'hot' },
    );
    return postgresHotStore(endpoints, { retentionDays: config.retentionDays });
  }
  const { MongoClient } = await import('mongodb');
  const { mongoHotStore } = await import('./mongoHotStore.ts');
  const credentials = await resolveCredentials(
    { key: 'hot', credentials: config.credentials },
    deps.env ?? process.env,
    deps.secrets ?? (() => new SecretsManagerClient({})),
  );
  const options = {
    // DocumentDB supports no retryable writes; the runtime retries the whole (idempotent) batch.
    retryWrites: false,
    // Absent optional fields stay absent (the driver would store them as null), as in PostgreSQL.
    ignoreUndefined: true,
    maxPoolSize: config.maxConnections,
    connectTimeoutMS: config.connectTimeoutMs,
    serverSelectionTimeoutMS: config.connectTimeoutMs,
    ...(config.tls
      ? { tls: true, ...(config.tlsCaFile !== undefined ? { tlsCAFile: config.tlsCaFile } : {}) }
      : {}),
    ...(credentials.username !== undefined
      ? { auth: { username: credentials.username, password: credentials.password } }
      : {}),
  };
  const write = new MongoClient(config.writeUrl, options);
  const read =
    config.readUrl === undefined || config.readUrl === config.writeUrl
      ? new MongoClient(config.writeUrl, { ...options, readPreference: 'secondaryPreferred' })
      : new MongoClient(config.readUrl, { ...options, readPreference: 'secondaryPreferred' });
  return mongoHotStore({ write, read, database: config.database }, { retentionDays: config.retentionDays });
}
