/**
 * A TCP proxy in front of a real server that can be switched off and on: while down it cuts every
 * connection and refuses new ones. A fake only in the sense of injecting the outage a real server
 * cannot be told to have; everything it passes through is the real server's.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

/** A running proxy. */
export interface FaultProxy {
  readonly port: number;
  down(): void;
  up(): void;
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 to `host:port`. */
export async function startFaultProxy(host: string, port: number): Promise<FaultProxy> {
  const sockets = new Set<Socket>();
  let isDown = false;
  const server: Server = createServer((client) => {
    if (isDown) return void client.destroy();
    const upstream = connect(port, host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    down() {
      isDown = true;
      for (const s of sockets) s.destroy();
    },
    up() {
      isDown = false;
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
