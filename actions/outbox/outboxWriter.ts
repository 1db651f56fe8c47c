/**
 * The outbox's side of the alarm event sink: in the transaction that writes a batch of alarm events,
 * the rows they ask for (`plan.ts`) are inserted and the stoppable rows of acknowledged or ended
 * episodes cancelled, and deliverers are told (`NOTIFY` on {@link OUTBOX_CHANNEL} at commit) so the
 * first notification does not wait for a poll.
 */
import { type ChannelFeedDeps, type PgChannelFeed, pgChannelFeed } from '../../sinks/postgres/channelFeed.ts';
import type { SqlClient } from '../../sinks/postgres/sql.ts';
import type { PgEndpoint } from '../../sinks/postgres/store.ts';
import { type AlarmEvent, type Clock, systemClock } from '../../topology/index.ts';
import type { PolicyLookup } from '../policies/catalog.ts';
import { cancelStoppable, insertActions } from './outboxTable.ts';
import { planActions } from './plan.ts';

/** The NOTIFY channel of new outbox rows. */
export const OUTBOX_CHANNEL = 'shardflow_outbox';

export interface OutboxWriterOptions {
  readonly policyFor: PolicyLookup;
  readonly clock?: Pick<Clock, 'now'>;
  /** Events older than this when first written are recorded as expired, never acted on. */
  readonly maxEventAgeMs: number;
}

/** Writes the actions of `events` on `tx`, the alarm sink's transaction. */
export type OutboxWriter = (tx: SqlClient, events: readonly AlarmEvent[]) => Promise<void>;

/** An {@link OutboxWriter} over the policies in force. */
export function outboxWriter(options: OutboxWriterOptions): OutboxWriter {
  const clock = options.clock ?? systemClock;
  return async (tx, events) => {
    const now = clock.now();
    const plan = planActions(events, {
      policyFor: options.policyFor,
      now,
      maxEventAgeMs: options.maxEventAgeMs,
    });
    await cancelStoppable(tx, plan.stop, 'acknowledged or ended', now);
    await insertActions(tx, plan.rows, now);
    if (plan.rows.some((r) => r.dueAt <= now)) await tx.query(`SELECT pg_notify('${OUTBOX_CHANNEL}', '')`);
  };
}

/** New due rows, announced at commit: deliverers look at once instead of at their next poll. */
export function outboxFeed(endpoint: PgEndpoint, deps: ChannelFeedDeps): PgChannelFeed {
  return pgChannelFeed(
    endpoint,
    {
      channel: OUTBOX_CHANNEL,
      label: 'new outbox rows',
      gauge: 'outbox_wakeups',
      whileDown: 'deliverers find due rows by polling',
      afterGap: 'deliverers look for due rows',
    },
    deps,
  );
}
