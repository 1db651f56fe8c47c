/**
 * One connection of the bridge to its broker, spoken with `mqtt-packet` rather than mqtt.js: mqtt.js
 * handles one PUBLISH at a time and acknowledges it when its handler returns, which would allow one
 * message per Kinesis round trip. Here PUBLISHes are handed on as they arrive and the bridge sends each
 * PUBACK when it chooses (once the record is durable).
 *
 * The session is a small state machine: `connecting` (CONNECT sent, waiting for CONNACK), `subscribing`
 * (SUBSCRIBE sent, waiting for SUBACK), `ready`, `ended`. Anything the broker sends that does not fit,
 * bytes that do not parse, a refused CONNECT or SUBSCRIBE, a missed PINGRESP, end it: `ended` resolves
 * with the reason, and the bridge reconnects.
 */
import type { Duplex } from 'node:stream';
import mqttPacket from 'mqtt-packet';
import type { Clock, Logger } from '../../topology/index.ts';

/** A PUBLISH the broker delivered. */
export interface InboundPublish {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly qos: 0 | 1;
  /** Set for QoS 1: what the PUBACK names. */
  readonly messageId: number | undefined;
}

/** What a session needs. */
export interface MqttSessionOptions {
  /** An open (or opening) socket to the broker. */
  readonly socket: Duplex;
  readonly protocolVersion: 4 | 5;
  readonly clientId: string;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  readonly keepaliveSeconds: number;
  readonly sessionExpirySeconds: number;
  /** MQTT 5 receive maximum: the broker sends no more unacknowledged messages than this. */
  readonly receiveMaximum: number;
  /** Filters subscribed at QoS 1. */
  readonly filters: readonly string[];
  readonly connectTimeoutMs: number;
  readonly clock: Clock;
  readonly log?: Logger | undefined;
  readonly onPublish: (publish: InboundPublish) => void;
  /** Called once subscribed. */
  readonly onReady?: () => void;
}

export type SessionState = 'connecting' | 'subscribing' | 'ready' | 'ended';

/** A running session. */
export interface MqttSession {
  readonly state: SessionState;
  /** Whether the broker still held the session (and its unacknowledged messages) at CONNACK. */
  readonly sessionPresent: boolean;
  /** Resolves once the connection is over: `undefined` after `disconnect`, else why it ended. */
  readonly ended: Promise<Error | undefined>;
  puback(messageId: number): void;
  /** Stops reading the socket (the broker's messages wait in TCP buffers and its queue). */
  pause(): void;
  resume(): void;
  /** Sends DISCONNECT and ends the connection. */
  disconnect(): void;
  /** Ends the connection at once, as a crash would (no DISCONNECT). */
  destroy(reason: Error): void;
}

/** The broker broke the protocol or refused the bridge. */
export class MqttProtocolError extends Error {
  override readonly name = 'MqttProtocolError';
}

const SUBSCRIBE_ID = 1;
const CONNACK_REFUSED_V4 = [
  '',
  'bad protocol version',
  'client id rejected',
  'server unavailable',
  'bad username or password',
  'not authorized',
];

/** Opens a session on `options.socket`: sends CONNECT at once. */
export function openMqttSession(options: MqttSessionOptions): MqttSession {
  const { socket, protocolVersion, clock, log } = options;
  const opts = { protocolVersion };
  const parser = mqttPacket.parser(opts);
  const stop = new AbortController();
  let state: SessionState = 'connecting';
  let sessionPresent = false;
  let paused = false;
  let pingOutstanding = false;
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  let settle: (reason: Error | undefined) => void = () => {};
  const ended = new Promise<Error | undefined>((resolve) => {
    settle = resolve;
  });

  const end = (reason: Error | undefined, graceful = false) => {
    if (state === 'ended') return;
    state = 'ended';
    stop.abort();
    parser.removeAllListeners('packet');
    if (graceful) socket.end();
    else socket.destroy();
    if (reason !== undefined)
      log?.warn({ error: reason.message, name: reason.name }, 'MQTT connection ended');
    settle(reason);
  };

  const write = (packet: mqttPacket.Packet) => {
    if (state === 'ended' || socket.destroyed) return;
    socket.write(mqttPacket.generate(packet, opts));
  };

  const onPacket = (packet: mqttPacket.Packet) => {
    switch (packet.cmd) {
      case 'connack': {
        if (state !== 'connecting') throw new MqttProtocolError('a CONNACK after the session was connected');
        const code = protocolVersion === 5 ? (packet.reasonCode ?? 0) : (packet.returnCode ?? 0);
        if (code !== 0) {
          const why = protocolVersion === 4 ? CONNACK_REFUSED_V4[code] : packet.properties?.reasonString;
          throw new MqttProtocolError(`the broker refused CONNECT: code ${code}${why ? ` (${why})` : ''}`);
        }
        sessionPresent = packet.sessionPresent;
        state = 'subscribing';
        write({
          cmd: 'subscribe',
          messageId: SUBSCRIBE_ID,
          // MQTT 5: retained messages are old readings, not new telemetry: never sent (rh 2).
          subscriptions: options.filters.map((topic) =>
            protocolVersion === 5 ? { topic, qos: 1, nl: false, rap: false, rh: 2 } : { topic, qos: 1 },
          ),
        });
        return;
      }
      case 'suback': {
        if (state !== 'subscribing' || packet.messageId !== SUBSCRIBE_ID)
          throw new MqttProtocolError('an unexpected SUBACK');
        const granted = (packet.granted ?? []) as (number | object)[];
        const refused = options.filters.filter(
          (_, i) => typeof granted[i] !== 'number' || (granted[i] as number) >= 0x80,
        );
        if (refused.length > 0 || granted.length !== options.filters.length)
          throw new MqttProtocolError(
            `the broker refused the subscription to ${refused.join(', ') || 'some filters'}`,
          );
        state = 'ready';
        options.onReady?.();
        log?.info({ filters: options.filters, sessionPresent }, 'MQTT subscribed');
        return;
      }
      case 'publish': {
        if (state === 'connecting') throw new MqttProtocolError('a PUBLISH before CONNACK');
        if (packet.qos === 2) throw new MqttProtocolError('a QoS 2 PUBLISH on a QoS 1 subscription');
        if (packet.qos === 1 && !packet.messageId)
          throw new MqttProtocolError('a QoS 1 PUBLISH without a packet id');
        const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
        options.onPublish({
          topic: packet.topic,
          payload,
          qos: packet.qos,
          messageId: packet.qos === 1 ? packet.messageId : undefined,
        });
        return;
      }
      case 'pingresp':
        pingOutstanding = false;
        return;
      case 'disconnect':
        throw new MqttProtocolError(
          `the broker sent DISCONNECT${packet.reasonCode ? ` (reason ${packet.reasonCode})` : ''}`,
        );
      default:
        throw new MqttProtocolError(`an unexpected ${packet.cmd.toUpperCase()} from the broker`);
    }
  };

  parser.on('packet', (packet: mqttPacket.Packet) => {
    if (state === 'ended') return;
    try {
      onPacket(packet);
    } catch (error) {
      end(error instanceof Error ? error : new MqttProtocolError(String(error)));
    }
  });
  parser.on('error', (error: Error) =>
    end(new MqttProtocolError(`unreadable bytes from the broker: ${error.message}`)),
  );
  socket.on('data', (chunk: Buffer) => {
    if (state !== 'ended') parser.parse(chunk);
  });
  socket.on('error', (error: Error) => end(error));
  socket.on('end', () => end(new Error('the broker ended the connection')));
  socket.on('close', () => end(new Error('the broker closed the connection')));

  const user = options.username;
  // A CONNECT mqtt-packet cannot encode (a client id or credentials it refuses) ends the session.
  try {
    write({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion,
      clientId: options.clientId,
      clean: false,
      keepalive: options.keepaliveSeconds,
      ...(user !== undefined ? { username: user } : {}),
      ...(options.password !== undefined ? { password: Buffer.from(options.password) } : {}),
      ...(protocolVersion === 5
        ? {
            properties: {
              sessionExpiryInterval: options.sessionExpirySeconds,
              receiveMaximum: options.receiveMaximum,
            },
          }
        : {}),
    });
  } catch (error) {
    end(
      new MqttProtocolError(
        `cannot write CONNECT: ${error instanceof Error ? error.message : String(error)}`,
      ),
    );
  }

  // The broker answers CONNECT and SUBSCRIBE in time, or the connection is given up.
  void clock
    .sleep(options.connectTimeoutMs, stop.signal)
    .then(() => {
      if (state === 'connecting' || state === 'subscribing')
        end(
          new MqttProtocolError(
            `no ${state === 'connecting' ? 'CONNACK' : 'SUBACK'} within ${options.connectTimeoutMs} ms`,
          ),
        );
    })
    .catch(() => {});

  // Keepalive: a PINGREQ every period; a PINGRESP missing a period later means the broker is gone.
  // While paused the answer may wait behind unread PUBLISHes, so it is not missed then.
  void (async () => {
    const period = options.keepaliveSeconds * 1000;
    try {
      for (;;) {
        await clock.sleep(period, stop.signal);
        if (pingOutstanding && !paused) {
          end(new MqttProtocolError(`no PINGRESP within ${options.keepaliveSeconds} s`));
          return;
        }
        pingOutstanding = true;
        write({ cmd: 'pingreq' });
      }
    } catch {
      // stopped
    }
  })();

  return {
    get state() {
      return state;
    },
    get sessionPresent() {
      return sessionPresent;
    },
    ended,
    puback(messageId) {
      // PUBACKs settle in bursts: one write (one syscall) per burst rather than per message.
      if (!corked && state !== 'ended') {
        corked = true;
        socket.cork();
        process.nextTick(uncork);
      }
      write(
        protocolVersion === 5 ? { cmd: 'puback', messageId, reasonCode: 0 } : { cmd: 'puback', messageId },
      );
    },
    pause() {
      paused = true;
      socket.pause();
    },
    resume() {
      paused = false;
      socket.resume();
    },
    disconnect() {
      write({ cmd: 'disconnect' });
      end(undefined, true);
    },
    destroy(reason) {
      end(reason);
    },
  };
}
