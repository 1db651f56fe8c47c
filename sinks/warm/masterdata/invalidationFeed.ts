/**
 * The listening side of the invalidations (see `invalidations.ts`): one dedicated connection to the
 * write endpoint per worker, `LISTEN`ing on the channel, handing each payload to the subscribers
 * (the enrich operator's cache). When the connection drops it reconnects with a growing pause, and
 * tells subscribers to drop everything, since notifications sent meanwhile are lost.
 */
import pg from 'pg';
import type { Clock } from '../../../topology/index.ts';
import { INVALIDATION_CHANNEL, parseInvalidation } from './invalidations.ts';

/** Receives device invalidations; `'all'` drops every cached device. */
export type InvalidationListener = (deviceIds: readonly string[] | 'all') => void;

/** A subscription to device invalidations, shared by a worker's enrich operators. */
export interface PgInvalidationFeed {
  /** Adds a listener; returns its removal. The first one connects. */
  subscribe(listener: InvalidationListener): () => void;
  /** Resolves once the connection is listening (tests wait for it before changing data). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/** Listens for invalidations on the PostgreSQL write endpoint at `url`. */
export function pgInvalidationFeed(url: string, clock: Clock): PgInvalidationFeed {
  const listeners = new Set<InvalidationListener>();
  const closing = new AbortController();
  let client: pg.Client | undefined;
  let started = false;
  let markReady!: () => void;
  const readyOnce = new Promise<void>((resolve) => {
    markReady = resolve;
  });

  const emit = (ids: readonly string[] | 'all') => {
    for (const listener of listeners) listener(ids);
  };

  async function connectLoop(): Promise<void> {
    let pause = 100;
    let first = true;
    while (!closing.signal.aborted) {
      const c = new pg.Client({ connectionString: url });
      const lost = new Promise<void>((resolve) => {
        c.on('error', () => resolve());
        c.on('end', () => resolve());
      });
      try {
        await c.connect();
        c.on('notification', (n) => {
          if (n.channel === INVALIDATION_CHANNEL) emit(parseInvalidation(n.payload ?? '*'));
        });
        await c.query(`LISTEN ${INVALIDATION_CHANNEL}`);
        client = c;
        if (!first) emit('all');
        first = false;
        pause = 100;
        markReady();
        await lost;
      } catch {
        // unreachable: wait and retry below
      } finally {
        client = undefined;
        await c.end().catch(() => {});
      }
      if (closing.signal.aborted) break;
      if (!first) emit('all');
      await clock.sleep(pause, closing.signal).catch(() => {});
      pause = Math.min(pause * 2, 5_000);
    }
  }

  return {
    subscribe(listener) {
      listeners.add(listener);
      if (!started) {
        started = true;
        void connectLoop();
      }
      return () => listeners.delete(listener);
    },
    ready: () => readyOnce,
    async close() {
      closing.abort(new Error('closed'));
      await client?.end().catch(() => {});
    },
  };
}
