/**
 * Cache invalidation of devices after a master-data change, over PostgreSQL LISTEN/NOTIFY on the
 * write endpoint.
 *
 * Why NOTIFY rather than Redis pub/sub: a NOTIFY issued inside the applier's transaction is
 * delivered when, and only if, that transaction commits, so a worker can never drop a cache entry
 * before the new rows are visible, nor miss one because the process died between the commit and a
 * separate publish. It needs no other service and works on PGlite (the demo) too. Its limits: a
 * payload under 8,000 bytes (hence chunks, and "everything" for a huge change), and delivery only to
 * connected listeners, so a listener that reconnects drops its whole cache. Aurora replicas do not
 * relay notifications: listeners connect to the write endpoint.
 */
import type { SqlClient } from '../../postgres/sql.ts';

/** The notification channel. */
export const INVALIDATION_CHANNEL = 'shardflow_masterdata';
// under PostgreSQL's 8,000-byte payload limit
const MAX_PAYLOAD = 7_000;
// past this many devices one "drop everything" is cheaper than thousands of notifications
const MAX_IDS = 20_000;
/** The payload that drops every cached device. */
const INVALIDATE_ALL = '*';

/** Queues the invalidation of `deviceIds` in `tx`; delivered at its commit. */
export async function notifyInvalidation(tx: SqlClient, deviceIds: readonly string[]): Promise<void> {
  if (deviceIds.length === 0) return;
  if (deviceIds.length > MAX_IDS) {
    await tx.query('SELECT pg_notify($1, $2)', [INVALIDATION_CHANNEL, INVALIDATE_ALL]);
    return;
  }
  const payloads: string[] = [];
  let chunk: string[] = [];
  let size = 2;
  for (const id of deviceIds) {
    const cost = JSON.stringify(id).length + 1;
    if (size + cost > MAX_PAYLOAD && chunk.length > 0) {
      payloads.push(JSON.stringify(chunk));
      chunk = [];
      size = 2;
    }
    chunk.push(id);
    size += cost;
  }
  payloads.push(JSON.stringify(chunk));
  await tx.query('SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p', [INVALIDATION_CHANNEL, payloads]);
}

/** The device ids a notification payload names, or `'all'`. */
export function parseInvalidation(payload: string): readonly string[] | 'all' {
  if (payload === INVALIDATE_ALL) return 'all';
  const ids: unknown = JSON.parse(payload);
  return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string') : 'all';
}
