import type { Server } from 'node:http';
import { createRequire } from 'node:module';

// Neither package ships types; createRequire keeps their (tiny) typing local to this file.
const require = createRequire(import.meta.url);
type EmulatorFactory = (options: Record<string, unknown>) => Server;

/** kinesalite (Kinesis API) in this process, in memory, with stream changes taking effect at once. */
export function startKinesalite(): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const kinesalite = require('kinesalite') as EmulatorFactory;
  return listen(kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 200 }));
}

/** dynalite (DynamoDB API) in this process, in memory, with table changes taking effect at once. */
export function startDynalite(): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const dynalite = require('dynalite') as EmulatorFactory;
  return listen(dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 }));
}

function listen(server: Server): Promise<{ endpoint: string; stop(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (!address || typeof address === 'string') return reject(new Error('emulator has no TCP address'));
      const stop = () =>
        new Promise<void>((done) => {
          // SDK clients keep connections alive; without this close() would wait for them to time out.
          server.closeAllConnections();
          server.close(() => done());
        });
      resolve({ endpoint: `http://127.0.0.1:${address.port}`, stop });
    });
  });
}
