/**
 * A PostgreSQL notification channel, listened to: one dedicated connection to the write endpoint,
 * `LISTEN`ing on the channel, handing each payload to the subscribers. When the connection drops it
 * reconnects with a growing pause, and tells subscribers that notifications may have been missed
 * (`GAP`), since those sent meanwhile are lost. The master-data invalidations
 * (`sinks/warm/masterdata/`) and the ruleset changes (`sinks/warm/rulesets.ts`) ride on it.
 *
 * The connection logs in with the Warm store's own settings (`WarmStore.writeEndpoint`): the same
 * credentials, TLS and connect timeout as its pool. Every failed attempt and every lost connection is
 * logged, and `gauges()` says whether it is listening.
 */
import pg from 'pg';
import { type Clock, errorMessage, type Logger, type SourceGauge } from '../../topology/index.ts';
import type { PgEndpoint } from './store.ts';

/** What a subscriber is handed after a gap in listening (a reconnection): anything may have changed. */
export const GAP = Symbol('notifications may have been missed');

/** Receives each notification's payload, or `GAP`. */
export type ChannelListener = (payload: string | typeof GAP) => void;

/** A subscription to one channel, shared by a worker's users of it. */
export interface PgChannelFeed {
  /** Adds a listener; returns its removal. The first one connects. */
  subscribe(listener: ChannelListener): () => void;
  /** Resolves once the connection is listening (tests wait for it before changing data). */
  ready(): Promise<void>;
  /** Whether it is listening, and how often it had to connect again, for `/metrics`. */
  gauges(): readonly SourceGauge[];
  close(): Promise<void>;
}

/** What a channel's log lines and gauges call it, and what a gap means for its users. */
export interface ChannelNames {
  /** The NOTIFY channel (an SQL identifier). */
  readonly channel: string;
  /** Its name in log lines, e.g. `master-data invalidations`. */
  readonly label: string;
  /** The prefix of its gauges, e.g. `masterdata_invalidations`. */
  readonly gauge: string;
  /** What users do when it cannot listen, for the log: `cached devices expire by TTL only`. */
  readonly whileDown: string;
  /** What users do after a gap, for the log: `cached devices are dropped`. */
  readonly afterGap: string;
}

/** What the feed needs besides the endpoint. */
export interface ChannelFeedDeps {
  readonly clock: Clock;
  readonly log: Logger;
}

const FIRST_PAUSE_MS = 100;
const MAX_PAUSE_MS = 5_000;

/** Listens on `names.channel` on the PostgreSQL write endpoint `endpoint`. */
export function pgChannelFeed(
  endpoint: PgEndpoint,
  names: ChannelNames,
  { clock, log }: ChannelFeedDeps,
): PgChannelFeed {
  const { channel, label, gauge } = names;
  const listeners = new Set<ChannelListener>();
  const closing = new AbortController();
  const fields = { endpoint: endpoint.address, channel };
  let client: pg.Client | undefined;
  let loop: Promise<void> | undefined;
  let connected = false;
  // listened once at least: from then on a gap in listening drops the caches
  let listened = false;
  let reconnects = 0;
  let failures = 0;
  let markReady!: () => void;
  const readyOnce = new Promise<void>((resolve) => {
    markReady = resolve;
  });

  const emit = (payload: string | typeof GAP) => {
    for (const listener of listeners) listener(payload);
  };

  /** Connects and listens; resolves with why the connection ended, rejects when it could not start. */
  async function listenOnce(): Promise<unknown> {
    const c = new pg.Client(await endpoint.settings());
    client = c;
    const lost = new Promise<unknown>((resolve) => {
      c.on('error', resolve);
      c.on('end', () => resolve(new Error('the server closed the connection')));
    });
    try {
      await c.connect();
      c.on('notification', (n) => {
        if (n.channel === channel) emit(n.payload ?? '');
      });
      await c.query(`LISTEN ${channel}`);
      if (closing.signal.aborted) return undefined;
      connected = true;
      log.info({ ...fields, reconnects }, `${label}: listening`);
      // what users learnt while not listening may have missed a change
      if (listened) emit(GAP);
      listened = true;
      markReady();
      return await lost;
    } finally {
      connected = false;
      client = undefined;
      await c.end().catch(() => {});
    }
  }

  async function connectLoop(): Promise<void> {
    let pause = FIRST_PAUSE_MS;
    for (let attempt = 0; !closing.signal.aborted; attempt++) {
      if (attempt > 0) reconnects++;
      try {
        const why = await listenOnce();
        if (closing.signal.aborted) break;
        pause = FIRST_PAUSE_MS;
        failures++;
        log.warn(
          { ...fields, error: errorMessage(why) },
          `${label}: connection lost, connecting again; ${names.afterGap}`,
        );
      } catch (error) {
        if (closing.signal.aborted) break;
        failures++;
        log.warn(
          { ...fields, error: errorMessage(error), retryInMs: pause },
          `${label}: cannot connect; ${names.whileDown} until it does`,
        );
      }
      // notifications sent while not listening are lost
      if (listened) emit(GAP);
      await clock.sleep(pause, closing.signal).catch(() => {});
      pause = Math.min(pause * 2, MAX_PAUSE_MS);
    }
  }

  return {
    subscribe(listener) {
      listeners.add(listener);
      loop ??= connectLoop();
      return () => listeners.delete(listener);
    },
    ready: () => readyOnce,
    gauges: () => [
      {
        name: `${gauge}_connected`,
        help: `whether the ${label} connection is listening (1) or not (0)`,
        value: connected ? 1 : 0,
      },
      {
        name: `${gauge}_reconnects_total`,
        help: 'connection attempts after the first one (after a failure or a lost connection)',
        value: reconnects,
      },
      {
        name: `${gauge}_failures_total`,
        help: `failed connection attempts and lost connections of the ${label}`,
        value: failures,
      },
    ],
    async close() {
      closing.abort(new Error('closed'));
      await client?.end().catch(() => {});
      await loop;
    },
  };
}
