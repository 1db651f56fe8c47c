/**
 * The listening side of the invalidations (see `invalidations.ts`): one dedicated connection to the
 * write endpoint per worker, `LISTEN`ing on the channel, handing each payload to the subscribers
 * (the enrich operator's cache). When the connection drops it reconnects with a growing pause, and
 * tells subscribers to drop everything, since notifications sent meanwhile are lost.
 *
 * The connection logs in with the Warm store's own settings (`WarmStore.writeEndpoint`): the same
 * credentials, TLS and connect timeout as its pool. While it is down the caches fall back on their
 * TTL, so every failed attempt and every lost connection is logged, and `gauges()` says whether it
 * is listening.
 */
import pg from 'pg';
import { type Clock, errorMessage, type Logger, type SourceGauge } from '../../../topology/index.ts';
import type { PgEndpoint } from '../../postgres/store.ts';
import { INVALIDATION_CHANNEL, parseInvalidation } from './invalidations.ts';

/** Receives device invalidations; `'all'` drops every cached device. */
export type InvalidationListener = (deviceIds: readonly string[] | 'all') => void;

/** A subscription to device invalidations, shared by a worker's enrich operators. */
export interface PgInvalidationFeed {
  /** Adds a listener; returns its removal. The first one connects. */
  subscribe(listener: InvalidationListener): () => void;
  /** Resolves once the connection is listening (tests wait for it before changing data). */
  ready(): Promise<void>;
  /** Whether it is listening, and how often it had to connect again, for `/metrics`. */
  gauges(): readonly SourceGauge[];
  close(): Promise<void>;
}

/** What the feed needs besides the endpoint. */
export interface InvalidationFeedDeps {
  readonly clock: Clock;
  readonly log: Logger;
}

const FIRST_PAUSE_MS = 100;
const MAX_PAUSE_MS = 5_000;

/** Listens for invalidations on the PostgreSQL write endpoint `endpoint`. */
export function pgInvalidationFeed(
  endpoint: PgEndpoint,
  { clock, log }: InvalidationFeedDeps,
): PgInvalidationFeed {
  const listeners = new Set<InvalidationListener>();
  const closing = new AbortController();
  const fields = { endpoint: endpoint.address, channel: INVALIDATION_CHANNEL };
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

  const emit = (ids: readonly string[] | 'all') => {
    for (const listener of listeners) listener(ids);
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
        if (n.channel === INVALIDATION_CHANNEL) emit(parseInvalidation(n.payload ?? '*'));
      });
      await c.query(`LISTEN ${INVALIDATION_CHANNEL}`);
      if (closing.signal.aborted) return undefined;
      connected = true;
      log.info({ ...fields, reconnects }, 'master-data invalidations: listening');
      // entries cached while not listening may have missed a change
      if (listened) emit('all');
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
          'master-data invalidations: connection lost, connecting again; cached devices are dropped',
        );
      } catch (error) {
        if (closing.signal.aborted) break;
        failures++;
        log.warn(
          { ...fields, error: errorMessage(error), retryInMs: pause },
          'master-data invalidations: cannot connect; cached devices expire by TTL only until it does',
        );
      }
      // notifications sent while not listening are lost: whatever is cached may be stale
      if (listened) emit('all');
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
        name: 'masterdata_invalidations_connected',
        help: 'whether the master-data invalidation connection is listening (1) or not (0)',
        value: connected ? 1 : 0,
      },
      {
        name: 'masterdata_invalidations_reconnects_total',
        help: 'connection attempts after the first one (after a failure or a lost connection)',
        value: reconnects,
      },
      {
        name: 'masterdata_invalidations_failures_total',
        help: 'failed connection attempts and lost connections of the master-data invalidations',
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
