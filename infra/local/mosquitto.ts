/**
 * A throwaway mosquitto (the MQTT 5 broker of the bridge's tests: shared subscriptions, receive
 * maximum) on 127.0.0.1 and a free port, anonymous, persistence off, its config in a temporary
 * directory.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findBinary, freePort, spawnServer, waitUntilReady } from './process.ts';

/** A running mosquitto. */
export interface Mosquitto {
  /** `mqtt://127.0.0.1:P` */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** Starts mosquitto; `maxInflight` bounds the QoS 1 messages it sends one client unacknowledged. */
export async function startMosquitto(options: { maxInflight?: number } = {}): Promise<Mosquitto> {
  const binary = findBinary('mosquitto', ['/usr/sbin']);
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'shardflow-mosquitto-'));
  const config = path.join(dir, 'mosquitto.conf');
  writeFileSync(
    config,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      // As root it would switch to the mosquitto user; it needs no privileges here.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      `max_inflight_messages ${options.maxInflight ?? 1000}`,
      'max_queued_messages 100000',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      '',
    ].join('\n'),
  );
  const server = spawnServer(binary, ['-c', config]);
  const stop = async () => {
    await server.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntilReady('mosquitto', server, () => probe(port));
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `mqtt://127.0.0.1:${port}`, port, stop };
}

/** Resolves once the port takes a TCP connection. */
function probe(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}
