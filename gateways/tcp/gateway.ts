/**
 * The TCP gateway: one server per listener (one product per port, behind a Network Load Balancer),
 * each connection a `TcpConnection`. It owns the connection limit, readiness, the counters for
 * `/metrics` and the graceful close; the durable ingest (the producer) belongs to the caller, who
 * closes it after the gateway.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { type Clock, errorMessage, type Logger, silentLogger } from '../../topology/index.ts';
import type { DurableIngest } from '../ingest/durableIngest.ts';
import type { PayloadKeyFinder } from '../ingest/envelope.ts';
import { ackBytes, type TcpGatewayConfig, type TcpListenerConfig } from './config.ts';
import { type ConnectionContext, TcpConnection, type TcpCounters, tcpCounters } from './connection.ts';

/** What the TCP gateway needs. */
export interface TcpGatewayOptions {
  /** The parsed `tcp` section (`tcpGatewayConfigSchema.parse`). */
  readonly config: TcpGatewayConfig;
  readonly ingest: DurableIngest;
  readonly clock: Clock;
  readonly log?: Logger;
  /** The partition key of a frame (the hub for hub and child frames, else the device). */
  readonly keyFinder?: PayloadKeyFinder;
  /** Aborting it closes the gateway. */
  readonly signal?: AbortSignal;
}

/** Where a listener listens. */
export interface TcpListenerAddress {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

/** A running TCP gateway. */
export interface TcpGateway {
  /** The listeners' bound addresses, in configuration order (port 0 resolved). */
  readonly addresses: readonly TcpListenerAddress[];
  /** Listening and not closing: what `/readyz` reports to the load balancer. */
  ready(): boolean;
  /** Counters and gauges for `/metrics` (a plain record of numbers); see `TcpCounters`. */
  stats(): Readonly<TcpCounters>;
  /**
   * Stops listening and reading, lets what was read become durable and be acknowledged (up to the
   * config's `drainTimeoutMs`), then ends the sockets. Idempotent.
   */
  close(): Promise<void>;
}

/** A listener's name in logs: its configured name, else `tcp:<host>:<port>`. */
function listenerName(listener: TcpListenerConfig, port: number): string {
  return listener.name ?? `tcp:${listener.host}:${port}`;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}

/** Starts listening on every configured port; resolves once all listen. */
export async function startTcpGateway(options: TcpGatewayOptions): Promise<TcpGateway> {
  const { config, ingest, clock, keyFinder } = options;
  const log = options.log ?? silentLogger;
  const counters = tcpCounters();
  const connections = new Set<TcpConnection>();
  const servers: Server[] = [];
  const addresses: TcpListenerAddress[] = [];
  let listening = false;
  let closing: Promise<void> | undefined;

  const accept = (ctx: ConnectionContext, open: Set<TcpConnection>, socket: Socket) => {
    if (closing !== undefined || open.size >= ctx.listener.maxConnections) {
      counters.connectionsRefused++;
      log.warn(
        {
          listener: ctx.listenerName,
          peer: `${socket.remoteAddress}:${socket.remotePort}`,
          connections: open.size,
          reason: closing !== undefined ? 'closing' : 'max connections',
        },
        'TCP connection refused',
      );
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    counters.connections++;
    counters.connectionsAccepted++;
    const connection = new TcpConnection(socket, ctx);
    open.add(connection);
    connections.add(connection);
    void connection.closed.then(() => {
      counters.connections--;
      open.delete(connection);
      connections.delete(connection);
    });
  };

  try {
    for (const listener of config.listeners) {
      const open = new Set<TcpConnection>();
      const server = createServer({ allowHalfOpen: true, pauseOnConnect: false });
      const port = await listen(server, listener.port, listener.host);
      const ctx: ConnectionContext = {
        listener,
        listenerName: listenerName(listener, port),
        ack: ackBytes(listener.ack),
        ingest,
        clock,
        log,
        keyFinder,
        counters,
        drainTimeoutMs: config.drainTimeoutMs,
      };
      server.on('connection', (socket) => accept(ctx, open, socket));
      server.on('error', (error) =>
        log.error({ listener: ctx.listenerName, error: errorMessage(error) }, 'TCP listener failed'),
      );
      servers.push(server);
      addresses.push({ name: ctx.listenerName, host: listener.host, port });
      log.info({ listener: ctx.listenerName, port, productId: listener.productId }, 'TCP gateway listening');
    }
  } catch (error) {
    for (const server of servers) server.close();
    throw error;
  }
  listening = true;

  const close = (): Promise<void> => {
    closing ??= (async () => {
      listening = false;
      const stopped = Promise.all(
        servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
      );
      await Promise.all([...connections].map((c) => c.shutdown()));
      await stopped;
      log.info({ ...counters }, 'TCP gateway closed');
    })();
    return closing;
  };

  if (options.signal !== undefined) {
    if (options.signal.aborted) void close();
    else options.signal.addEventListener('abort', () => void close(), { once: true });
  }

  return {
    addresses,
    ready: () => listening && closing === undefined,
    stats: () => ({ ...counters }),
    close,
  };
}
