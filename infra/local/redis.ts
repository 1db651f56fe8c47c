import { Redis } from 'ioredis';
import { findBinary, freePort, spawnServer, waitUntilReady } from './process.ts';

/** A throwaway redis-server on 127.0.0.1 with persistence off. */
export async function startRedis(): Promise<{ url: string; stop(): Promise<void> }> {
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
  ]);
  const stop = () => server.stop('SIGTERM');
  try {
    await waitUntilReady('redis-server', server, async () => {
      // No retries: waitUntilReady does the retrying, and ioredis's own would outlive the probe.
      const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null });
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
  return { url: `redis://127.0.0.1:${port}`, stop };
}
