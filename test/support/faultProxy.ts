/**
 * A TCP proxy in front of a real server that can be switched off and on: while down it cuts every
 * connection and refuses new ones. It can also go down in the middle of a request (`cutAfter`): the
 * server then receives the first part of a command and the connection's end, as when a client dies
 * while sending. A fake only in the sense of injecting the outage a real server cannot be told to
 * have; everything it passes through is the real server's.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';

/** A running proxy. */
export interface FaultProxy {
  readonly port: number;
  down(): void;
  up(): void;
  /**
   * Passes `bytes` more bytes from clients to the server, then goes down: the server gets those bytes
   * and the end of the connection (the rest of what the client sent is dropped). Resolves at the cut.
   */
  cutAfter(bytes: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 to `host:port`. */
export async function startFaultProxy(host: string, port: number): Promise<FaultProxy> {
  const sockets = new Set<Socket>();
  const clients = new Set<Socket>();
  let isDown = false;
  /** Bytes still to pass towards the server before the cut, when one is armed, and who waits for it. */
  let budget: number | undefined;
  let onCut = () => {};

  const down = () => {
    isDown = true;
    for (const s of sockets) s.destroy();
  };

  /**
   * Counts what a client sends; at the cut, passes the last allowed bytes, ends the stream (the
   * server gets everything passed, in order, then the connection's end) and cuts every client.
   */
  const gate = () => {
    let cut = false;
    return new Transform({
      transform(chunk: Buffer, _encoding, done: TransformCallback) {
        if (cut) return done();
        if (budget === undefined) return done(null, chunk);
        if (chunk.length < budget) {
          budget -= chunk.length;
          return done(null, chunk);
        }
        this.push(chunk.subarray(0, budget));
        this.push(null);
        cut = true;
        budget = undefined;
        isDown = true;
        for (const s of clients) s.destroy();
        onCut();
        done();
      },
    });
  };

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
    clients.add(client);
    client.on('close', () => clients.delete(client));
    client.pipe(gate()).pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    down,
    up() {
      isDown = false;
    },
    cutAfter(bytes) {
      budget = bytes;
      return new Promise((resolve) => {
        onCut = resolve;
      });
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
