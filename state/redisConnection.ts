/**
 * How every Redis client of a worker connects: the URL, TLS (ElastiCache in-transit encryption) and
 * the credentials (ElastiCache AUTH or an RBAC user), defined once here so the state stores (window
 * and keyed) and the start-up probe cannot disagree. Credentials are resolved by the caller (the CLI reads them
 * from the environment or Secrets Manager) and handed in; a password never sits in the URL.
 */
import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import { z } from 'zod';
import { type Clock, errorMessage, type Logger, silentLogger, systemClock } from '../topology/index.ts';

/** Where a worker's Redis is and how it is secured. */
export const redisConnectionConfigSchema = z.object({
  redisUrl: z
    .string()
    .regex(/^rediss?:\/\/[^/]/, { message: 'expected a redis://host:port or rediss://host:port URL' })
    .describe('Redis URL, e.g. redis://127.0.0.1:6379; rediss://… connects with TLS'),
  tls: z
    .boolean()
    .default(false)
    .describe('connect with TLS, verifying the server certificate (implied by rediss://)'),
  tlsCaFile: z
    .string()
    .optional()
    .describe('PEM file of the CA to verify the server with; the system CAs when absent'),
});

/** A Redis connection as the clients take it (a validated section, or a test's URL alone). */
export interface RedisConnection {
  readonly redisUrl: string;
  readonly tls?: boolean;
  readonly tlsCaFile?: string;
}

/** What a Redis client logs in with (AUTH `password`, or AUTH `username password` for an ACL user). */
export interface RedisAuth {
  readonly username?: string;
  readonly password?: string;
}

/** Whether a connection uses TLS: asked for, or named by the scheme. */
export function usesTls(connection: RedisConnection): boolean {
  return connection.tls === true || connection.redisUrl.startsWith('rediss://');
}

/** The ioredis options a connection and its credentials give; the caller adds its retry policy. */
export function redisClientOptions(connection: RedisConnection, auth: RedisAuth = {}): RedisOptions {
  return {
    ...(auth.username !== undefined ? { username: auth.username } : {}),
    ...(auth.password !== undefined ? { password: auth.password } : {}),
    ...(usesTls(connection)
      ? {
          tls: {
            rejectUnauthorized: true,
            ...(connection.tlsCaFile !== undefined ? { ca: readFileSync(connection.tlsCaFile, 'utf8') } : {}),
          },
        }
      : {}),
  };
}

/**
 * The URL a client is created with. ioredis prefers the URL's user name to the options', so a user
 * name from the credentials replaces the URL's rather than being ignored.
 */
export function redisClientUrl(connection: RedisConnection, auth: RedisAuth = {}): string {
  if (auth.username === undefined) return connection.redisUrl;
  const url = new URL(connection.redisUrl);
  url.username = '';
  return url.toString();
}

/** Who a client reports its connection errors to, and as what (`client` names it in the log line). */
export interface RedisClientDeps {
  readonly log: Logger;
  readonly clock: Clock;
  readonly client: string;
}

/**
 * A lazy client of a connection, logging its errors through `deps.log` ({@link logRedisErrors});
 * `policy` holds what differs between clients (retries, timeouts).
 */
export function redisClient(
  connection: RedisConnection,
  auth: RedisAuth,
  deps: RedisClientDeps,
  policy: RedisOptions = {},
): Redis {
  const client = new Redis(redisClientUrl(connection, auth), {
    ...redisClientOptions(connection, auth),
    ...policy,
    lazyConnect: true,
  });
  logRedisErrors(client, deps);
  return client;
}

/**
 * Connects a lazy client. When it fails, ioredis rejects with "Connection is closed." and reports
 * the cause (ECONNREFUSED, NOAUTH, WRONGPASS, a certificate refused) only as an 'error' event: the
 * error thrown is that cause.
 */
export async function connectRedis(client: Redis): Promise<void> {
  let cause: Error | undefined;
  const remember = (error: Error) => {
    cause = error;
  };
  client.on('error', remember);
  try {
    await client.connect();
  } catch (error) {
    throw cause ?? error;
  } finally {
    client.off('error', remember);
  }
}

/** What a store's client is given besides its connection (a test's store may leave all of it out). */
export interface RedisStoreDeps {
  /** Where the client's connection errors go (a silent logger when absent). */
  readonly log?: Logger;
  readonly clock?: Clock;
  /** The credentials, resolved when the store opens (none when absent). */
  readonly auth?: () => Promise<RedisAuth>;
}

/**
 * A store's connected client: credentials resolved, errors logged as `name`, `policy` as for
 * {@link redisClient}. A client that cannot connect is disconnected before the error is thrown: the
 * store's `close()` never learns of it, and left behind it would reconnect (and log) forever.
 */
export async function openRedisClient(
  connection: RedisConnection,
  deps: RedisStoreDeps,
  name: string,
  policy: RedisOptions = {},
): Promise<Redis> {
  const auth = (await deps.auth?.()) ?? {};
  const client = redisClient(
    connection,
    auth,
    { log: deps.log ?? silentLogger, clock: deps.clock ?? systemClock, client: name },
    policy,
  );
  try {
    await connectRedis(client);
  } catch (error) {
    client.disconnect();
    throw error;
  }
  return client;
}

/** How often a failing client logs again: a Redis that is down fails every reconnect attempt. */
export const REDIS_ERROR_LOG_INTERVAL_MS = 10_000;

/**
 * Logs a client's 'error' events through the worker's logger: the first at once, then at most one
 * line per interval with how many were not logged. A client without a listener makes ioredis print
 * `[ioredis] Unhandled error event` to stderr, which breaks the worker's JSON log lines.
 */
export function logRedisErrors(
  client: { on(event: 'error', listener: (error: Error) => void): unknown },
  deps: RedisClientDeps,
  intervalMs = REDIS_ERROR_LOG_INTERVAL_MS,
): void {
  let loggedAt = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  client.on('error', function onRedisError(error) {
    const now = deps.clock.now();
    if (now - loggedAt < intervalMs) {
      suppressed++;
      return;
    }
    deps.log.warn(
      { redis: deps.client, error: errorMessage(error), ...(suppressed > 0 ? { suppressed } : {}) },
      'redis client error',
    );
    loggedAt = now;
    suppressed = 0;
  });
}
