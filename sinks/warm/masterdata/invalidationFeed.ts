/**
 * The listening side of the invalidations (see `invalidations.ts`): the channel's feed
 * (`sinks/postgres/channelFeed.ts`: one connection per worker, reconnected with a growing pause)
 * handing each invalidation to the subscribers (the enrich operator's cache), and `'all'` after a gap
 * in listening, since notifications sent meanwhile are lost. While it is down the caches fall back on
 * their TTL.
 */
import { type ChannelFeedDeps, GAP, type PgChannelFeed, pgChannelFeed } from '../../postgres/channelFeed.ts';
import type { PgEndpoint } from '../../postgres/store.ts';
import { INVALIDATION_CHANNEL, parseInvalidation } from './invalidations.ts';

/** Receives device invalidations; `'all'` drops every cached device. */
export type InvalidationListener = (deviceIds: readonly string[] | 'all') => void;

/** A subscription to device invalidations, shared by a worker's enrich operators. */
export interface PgInvalidationFeed extends Omit<PgChannelFeed, 'subscribe'> {
  /** Adds a listener; returns its removal. The first one connects. */
  subscribe(listener: InvalidationListener): () => void;
}

/** What the feed needs besides the endpoint. */
export type InvalidationFeedDeps = ChannelFeedDeps;

/** Listens for invalidations on the PostgreSQL write endpoint `endpoint`. */
export function pgInvalidationFeed(endpoint: PgEndpoint, deps: InvalidationFeedDeps): PgInvalidationFeed {
  const feed = pgChannelFeed(
    endpoint,
    {
      channel: INVALIDATION_CHANNEL,
      label: 'master-data invalidations',
      gauge: 'masterdata_invalidations',
      whileDown: 'cached devices expire by TTL only',
      afterGap: 'cached devices are dropped',
    },
    deps,
  );
  return {
    ...feed,
    subscribe: (listener) =>
      feed.subscribe((payload) => listener(payload === GAP ? 'all' : parseInvalidation(payload || '*'))),
  };
}
