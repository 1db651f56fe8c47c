import { Redis } from 'ioredis';
import { findBinary, freePort, spawnServer, waitUntilReady } from './process.ts';

/** Who may log in to a Redis started by {@link startRedis}; anyone when absent. */
export interface RedisAuthOptions {
  /** `requirepass`: the default user's password (an ElastiCache AUTH token stands in for this). */
  readonly password?: string;
  /** One more ACL user with every permission (an ElastiCache RBAC user). */
  readonly user?: { readonly name: string; readonly password: string };
}

/** A throwaway redis-server on 127.0.0.1 with persistence off. */
export async function startRedis(
  auth: RedisAuthOptions = {},
): Promise<{ url: string; stop(): Promise<void> }> {
  const binary = findBinary('redis-server');
  const port = await freePort();
  const server = spawnServer(binary, [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    ...(auth.password !== undefined ? ['--requirepass', auth.password] : []),
    ...(auth.user !== undefined
      ? ['--user', auth.user.name, 'on', `>${auth.user.password}`, '~*', '&*', '+@all']
      : []),
  ]);
  const stop = () => server.stop('SIGTERM');
  try {
    await waitUntilReady('redis-server', server, async () => {
      // No retries: waitUntilReady does the retrying, and ioredis's own would outlive the probe.
      const client = new Redis({
        port,
        host: '127.0.0.1',
        password: auth.password,
        lazyConnect: true,
        retryStrategy: () => null,
      });
      client.on('error', () => {});
      try {
        await client.connect();
        await client.ping();
      } finally {
        client.disconnect();
      }
    });
  } catch (err) {
    await stop();
    throw err;
  }
  // the URL names no credentials: a client passes them itself, as a worker does
  return { url: `redis://127.0.0.1:${port}`, stop };
}
