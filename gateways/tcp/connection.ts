/**
 * One device's TCP connection: bytes in, frames out through the deframer, each frame's envelope
 * offered to the durable ingest, acks written back in frame order once durable.
 *
 * Every frame read is put on the stream (at least once: a device that vanished before its ack will
 * send it again). Two queues hold a connection's frames: `waiting` (read, not yet taken by the ingest,
 * because it had no room) and `unacked` (taken, not yet acknowledged). Their sum is bounded by
 * `maxPendingFramesPerConnection` plus one read: past it, or while the ingest is full, or while the
 * device does not read its acks, the socket is paused and the kernel's TCP window pushes back on the
 * device.
 *
 * Broken framing, the end of the device's stream, an idle timeout and the gateway's close all end the
 * connection the same way (`finish`): no more reading, what was read is put (broken or leftover bytes
 * as a `rejected` envelope, a dead letter at decode), acks are written, then the socket is ended, or
 * destroyed when that takes longer than `drainTimeoutMs`.
 */
import type { Socket } from 'node:net';
import { type Clock, errorMessage, type IngestEnvelope, type Logger } from '../../topology/index.ts';
import { Deframer, FramingError } from '../framing/deframer.ts';
import { type DurableIngest, type IngestRecord, RecordRefusedError } from '../ingest/durableIngest.ts';
import { envelopeBytes, envelopeOf, type PayloadKeyFinder } from '../ingest/envelope.ts';
import type { TcpListenerConfig } from './config.ts';
import { Fifo } from './fifo.ts';

/** The gateway's counters, shared by its connections (see `TcpGateway.stats`). */
export interface TcpCounters {
  connections: number;
  connectionsAccepted: number;
  connectionsRefused: number;
  connectionsPaused: number;
  pauses: number;
  bytesRead: number;
  messages: number;
  acknowledged: number;
  refused: number;
  malformed: number;
  leftovers: number;
  rejectedDurable: number;
  tooLarge: number;
  idleClosed: number;
  destroyed: number;
  socketErrors: number;
  acksLost: number;
  unacknowledged: number;
  keyFinderErrors: number;
}

/** A zeroed set of counters. */
export function tcpCounters(): TcpCounters {
  return {
    connections: 0,
    connectionsAccepted: 0,
    connectionsRefused: 0,
    connectionsPaused: 0,
    pauses: 0,
    bytesRead: 0,
    messages: 0,
    acknowledged: 0,
    refused: 0,
    malformed: 0,
    leftovers: 0,
    rejectedDurable: 0,
    tooLarge: 0,
    idleClosed: 0,
    destroyed: 0,
    socketErrors: 0,
    acksLost: 0,
    unacknowledged: 0,
    keyFinderErrors: 0,
  };
}

/** What a connection shares with its gateway. */
export interface ConnectionContext {
  readonly listener: TcpListenerConfig;
  readonly listenerName: string;
  readonly ack: Buffer | undefined;
  readonly ingest: DurableIngest;
  readonly clock: Clock;
  readonly log: Logger;
  readonly keyFinder: PayloadKeyFinder | undefined;
  readonly counters: TcpCounters;
  readonly drainTimeoutMs: number;
}

/** A frame's place in the ack order: `ack` false for a rejected record (nothing to acknowledge). */
interface Slot {
  readonly ack: boolean;
  done: boolean;
}

interface Waiting {
  readonly record: IngestRecord;
  readonly slot: Slot;
}

/** Acks the device has not read yet, past which its socket is not read. */
const MAX_UNREAD_ACK_BYTES = 64 * 1024;

/** One device connection; see the file's comment. */
export class TcpConnection {
  /** Resolves once the socket has closed. */
  readonly closed: Promise<void>;
  private readonly deframer: Deframer;
  private readonly peer: string;
  private readonly source: string;
  private readonly waiting = new Fifo<Waiting>();
  private readonly unacked = new Fifo<Slot>();
  private lastKey: string | undefined;
  private paused = false;
  private blocked = false;
  private waitingForRoom = false;
  private finishing = false;
  private gone = false;
  private readonly deadline = new AbortController();

  constructor(
    private readonly socket: Socket,
    private readonly ctx: ConnectionContext,
  ) {
    this.deframer = new Deframer(ctx.listener.framing);
    this.peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    this.source = ctx.listener.name ?? `tcp:${this.peer}`;
    socket.setNoDelay(true);
    socket.setTimeout(ctx.listener.idleTimeoutMs);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    socket.on('end', () => this.finish('the device ended its stream', true));
    socket.on('timeout', () => this.idle());
    socket.on('drain', () => this.updateFlow());
    socket.on('error', (error: NodeJS.ErrnoException) => {
      ctx.counters.socketErrors++;
      ctx.log.warn(
        { listener: ctx.listenerName, peer: this.peer, code: error.code, error: error.message },
        'TCP connection failed',
      );
    });
    socket.on('close', () => this.onClose());
  }

  /** Frames read and not yet acknowledged. */
  get pending(): number {
    return this.waiting.length + this.unacked.length;
  }

  /**
   * Ends the connection for the gateway's close: reads nothing more (bytes of an unfinished frame
   * are dropped: never acknowledged, the device sends them again), puts and acknowledges what was
   * read, then ends the socket. Resolves once it has closed.
   */
  shutdown(): Promise<void> {
    this.finish(undefined, false);
    return this.closed;
  }

  private read(chunk: Buffer): void {
    this.ctx.counters.bytesRead += chunk.byteLength;
    if (this.finishing) return; // after the end: drained until the device closes
    const { frames, broken } = this.deframer.push(chunk);
    for (const frame of frames) this.enqueue(frame.bytes);
    if (broken !== undefined) {
      this.ctx.counters.malformed++;
      this.reject(broken);
      this.finish('broken framing', false);
      return;
    }
    this.drainWaiting();
    this.updateFlow();
  }

  /** A frame becomes a record in the queue, under the device's key (or the connection's last one). */
  private enqueue(bytes: Uint8Array): void {
    const ctx = this.ctx;
    ctx.counters.messages++;
    let key: string | undefined;
    if (ctx.keyFinder !== undefined) {
      try {
        key = ctx.keyFinder(bytes, ctx.listener.productId);
      } catch (error) {
        ctx.counters.keyFinderErrors++;
        ctx.log.debug({ listener: ctx.listenerName, error: errorMessage(error) }, 'the key finder failed');
      }
    }
    if (key !== undefined && key !== '') this.lastKey = key;
    const envelope = this.envelope(bytes);
    this.waiting.push({
      record: { partitionKey: this.lastKey ?? `tcp:${this.peer}`, data: envelopeBytes(envelope) },
      slot: { ack: true, done: false },
    });
  }

  /** Bytes that are no message go onto the stream as a `rejected` envelope, ordered after the frames. */
  private reject(error: FramingError): void {
    const ctx = this.ctx;
    ctx.log.warn(
      { listener: ctx.listenerName, peer: this.peer, bytes: error.bytes.byteLength, reason: error.message },
      'broken framing: the bytes are kept as a dead letter and the connection is closed',
    );
    const envelope: IngestEnvelope = { ...this.envelope(error.bytes), rejected: error.message };
    this.waiting.push({
      record: { partitionKey: this.lastKey ?? `tcp:${this.peer}`, data: envelopeBytes(envelope) },
      slot: { ack: false, done: false },
    });
  }

  private envelope(payload: Uint8Array): IngestEnvelope {
    return envelopeOf({
      protocol: 'tcp',
      source: this.source,
      productId: this.ctx.listener.productId,
      receivedAt: this.ctx.clock.now(),
      payload,
    });
  }

  /** Offers the waiting records in order, as long as the ingest takes them. */
  private drainWaiting(): void {
    const { ingest, counters } = this.ctx;
    for (let next = this.waiting.peek(); next !== undefined; next = this.waiting.peek()) {
      let admission: ReturnType<DurableIngest['offer']>;
      try {
        admission = ingest.offer(next.record);
      } catch (error) {
        if (!(error instanceof RecordRefusedError)) throw error;
        this.tooLarge(error);
        return;
      }
      if (!admission.accepted) {
        if (admission.reason === 'closed') {
          this.abandon('the ingest is closed');
          return;
        }
        counters.refused++;
        this.awaitRoom();
        return;
      }
      this.waiting.shift();
      const slot = next.slot;
      this.unacked.push(slot);
      admission.durable.then(
        () => this.durable(slot),
        (error: unknown) => this.abandon(errorMessage(error)),
      );
    }
  }

  private awaitRoom(): void {
    if (this.waitingForRoom) return;
    this.waitingForRoom = true;
    this.ctx.ingest.whenRoom().then(
      () => {
        this.waitingForRoom = false;
        this.drainWaiting();
        this.updateFlow();
      },
      (error: unknown) => {
        this.waitingForRoom = false;
        this.abandon(errorMessage(error));
      },
    );
  }

  private durable(slot: Slot): void {
    slot.done = true;
    const { counters, ack } = this.ctx;
    const writing = !this.gone && ack !== undefined;
    if (writing) this.socket.cork();
    for (let head = this.unacked.peek(); head?.done; head = this.unacked.peek()) {
      this.unacked.shift();
      if (!head.ack) counters.rejectedDurable++;
      else if (this.gone) counters.acksLost++;
      else {
        counters.acknowledged++;
        if (ack !== undefined) this.socket.write(ack);
      }
    }
    if (writing) this.socket.uncork();
    this.updateFlow();
    this.endWhenDone();
  }

  /** A frame Kinesis cannot take (too large): logged, and the connection ends before it. */
  private tooLarge(error: RecordRefusedError): void {
    const ctx = this.ctx;
    ctx.counters.tooLarge++;
    const dropped = this.waiting.drain().filter((w) => w.slot.ack).length;
    ctx.counters.unacknowledged += dropped;
    ctx.log.error(
      { listener: ctx.listenerName, peer: this.peer, dropped, error: error.message },
      'a frame is too large for the stream; the connection is closed before it',
    );
    this.finish(undefined, false);
  }

  /** The ingest cannot take or keep this connection's records: nothing more can be acknowledged. */
  private abandon(reason: string): void {
    const ctx = this.ctx;
    const dropped = this.waiting.drain().length + this.unacked.drain().length;
    ctx.counters.unacknowledged += dropped;
    if (this.gone || this.socket.destroyed) return;
    ctx.log.warn(
      { listener: ctx.listenerName, peer: this.peer, unacknowledged: dropped, reason },
      'the connection is destroyed with frames not acknowledged',
    );
    this.destroy();
  }

  private idle(): void {
    if (this.finishing) return;
    if (this.pending > 0) {
      this.socket.setTimeout(this.ctx.listener.idleTimeoutMs); // waiting on us, not silent
      return;
    }
    this.ctx.counters.idleClosed++;
    this.ctx.log.info(
      { listener: this.ctx.listenerName, peer: this.peer, idleMs: this.ctx.listener.idleTimeoutMs },
      'idle TCP connection closed',
    );
    this.finish('the connection went idle', true);
  }

  /**
   * Stops reading and ends the socket once what was read is acknowledged. `leftover` (why the stream
   * ended) keeps the bytes of an unfinished frame as a rejected record; without it they are dropped.
   */
  private finish(leftover: string | undefined, keepLeftover: boolean): void {
    if (this.finishing) return;
    this.finishing = true;
    if (keepLeftover) {
      const rest = this.deframer.end();
      if (rest instanceof FramingError) {
        this.ctx.counters.leftovers++;
        this.reject(new FramingError(`${leftover}: ${rest.message}`, rest.bytes));
      } else if (rest !== undefined) this.enqueue(rest.bytes);
    } else this.deframer.end();
    this.setBlocked(false);
    if (!this.gone) {
      this.socket.setTimeout(0);
      this.socket.pause();
      this.paused = true;
      this.ctx.clock.sleep(this.ctx.drainTimeoutMs, this.deadline.signal).then(
        () => {
          if (this.gone) return;
          this.ctx.log.warn(
            { listener: this.ctx.listenerName, peer: this.peer, pending: this.pending },
            'the connection did not drain in time and is destroyed',
          );
          this.destroy();
        },
        () => {},
      );
    }
    this.drainWaiting();
    this.endWhenDone();
  }

  private endWhenDone(): void {
    if (!this.finishing || this.gone || this.pending > 0) return;
    if (this.socket.writableEnded) return;
    this.socket.end();
    // read (and drop) until the device closes its side, so that the socket can close
    this.socket.resume();
  }

  private destroy(): void {
    if (this.gone) return;
    this.ctx.counters.destroyed++;
    this.socket.destroy();
  }

  /** Pauses the socket while the ingest is full, too many frames are pending or acks go unread. */
  private updateFlow(): void {
    if (this.gone || this.finishing) return;
    const blocked =
      this.waiting.length > 0 ||
      this.pending >= this.ctx.listener.maxPendingFramesPerConnection ||
      this.socket.writableLength >= MAX_UNREAD_ACK_BYTES;
    this.setBlocked(blocked);
    if (blocked && !this.paused) {
      this.socket.pause();
      this.paused = true;
    } else if (!blocked && this.paused) {
      this.socket.resume();
      this.paused = false;
    }
  }

  private setBlocked(blocked: boolean): void {
    if (blocked === this.blocked) return;
    this.blocked = blocked;
    if (blocked) {
      this.ctx.counters.connectionsPaused++;
      this.ctx.counters.pauses++;
    } else this.ctx.counters.connectionsPaused--;
  }

  private onClose(): void {
    this.gone = true;
    this.deadline.abort();
    this.setBlocked(false);
    // what was read still goes onto the stream (the acks are lost; the device sends it again)
  }
}
