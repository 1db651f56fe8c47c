/**
 * The outbox table (migration 800), its one layout: rows written with the alarm events that cause
 * them (`insertActions`, `ON CONFLICT DO NOTHING` on the idempotency key), cancelled by an
 * acknowledgement (`cancelStoppable`), claimed by a deliverer (`claimDue`, `FOR UPDATE SKIP LOCKED`)
 * and finished (`finishActions`) in the claiming transaction.
 */
import { type SqlClient, writeJsonRows } from '../../sinks/postgres/sql.ts';

/** What an outbox row does. */
export const ACTION_KINDS = [
  'notify',
  'remind',
  'clear',
  'shadow',
  'firmware',
  'verify',
  'dispatch',
  'engineer',
  'workflow',
  'digest',
] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

/** The kinds that tell a customer's people something: counted by the per-customer flood control. */
export const NOTIFICATION_KINDS: ReadonlySet<ActionKind> = new Set(['notify', 'remind', 'clear']);

/** Where a row is delivered: a channel's kind, or `outbox` for the steps the deliverer does itself. */
export type ActionChannel = 'sns' | 'email' | 'webhook' | 'shadow' | 'firmware' | 'workflow' | 'outbox';

/** A row's statuses: `pending` until it is done one way or another. */
export type ActionStatus = 'pending' | 'sent' | 'cancelled' | 'failed' | 'skipped' | 'digested' | 'expired';

/** An outbox row as it is planned. */
export interface NewAction {
  /** The idempotency key: `episode/step/channel:target`. */
  readonly key: string;
  readonly episodeId: string;
  readonly kind: ActionKind;
  readonly channel: ActionChannel;
  readonly customerId: string | null;
  readonly deviceId: string | null;
  readonly productId: string | null;
  readonly payload: unknown;
  /** Epoch ms. */
  readonly dueAt: number;
  readonly stopOnAck: boolean;
  /** `pending`, or `expired` for an event too old to act on (kept to show why nothing went out). */
  readonly status?: 'pending' | 'expired';
}

/** A claimed row. */
export interface ClaimedAction extends NewAction {
  readonly attempts: number;
  readonly createdAt: number;
}

/** How a claimed row ends (or is put off). */
export type ActionOutcome =
  | {
      readonly status: 'sent' | 'cancelled' | 'skipped' | 'failed';
      readonly result?: string;
      readonly error?: string;
    }
  | { readonly status: 'digested'; readonly digestKey: string }
  /** Tried again at `dueAt` (the attempt counted). */
  | { readonly status: 'retry'; readonly dueAt: number; readonly error: string }
  /** Put off to `dueAt` without an attempt (a shelved episode's escalation steps and reminders). */
  | { readonly status: 'postpone'; readonly dueAt: number; readonly result: string };

const INSERT = `INSERT INTO action_outbox (action_key, episode_id, kind, channel, customer_id, device_id, product_id,
    payload, due_at, stop_on_ack, status, created_at)
  SELECT k, e, t, c, cu, d, p, pl, to_timestamp(u / 1000.0), s, st, to_timestamp(n / 1000.0)
  FROM jsonb_to_recordset($1::jsonb) AS x(k text, e text, t text, c text, cu text, d text, p text, pl jsonb,
    u float8, s bool, st text, n float8)
  ORDER BY k
  ON CONFLICT (action_key) DO NOTHING`;

/** Inserts planned rows; a row whose key is there already is left as it is. */
export async function insertActions(tx: SqlClient, rows: readonly NewAction[], now: number): Promise<void> {
  if (rows.length === 0) return;
  await writeJsonRows(tx, INSERT, rows, (r) => ({
    k: r.key,
    e: r.episodeId,
    t: r.kind,
    c: r.channel,
    cu: r.customerId,
    d: r.deviceId,
    p: r.productId,
    pl: r.payload,
    u: r.dueAt,
    s: r.stopOnAck,
    st: r.status ?? 'pending',
    n: now,
  }));
}

/**
 * Cancels the pending rows an acknowledgement stops (escalation steps, reminders) of `episodeIds`.
 * Rows a deliverer holds right now are skipped, not waited for: they are being sent, and the
 * deliverer checks the episode before it sends the next one.
 */
export async function cancelStoppable(
  tx: SqlClient,
  episodeIds: readonly string[],
  reason: string,
  now: number,
): Promise<number> {
  if (episodeIds.length === 0) return 0;
  const { rows } = await tx.query(
    `UPDATE action_outbox SET status = 'cancelled', result = $2, done_at = to_timestamp($3 / 1000.0)
     WHERE action_key IN (
       SELECT action_key FROM action_outbox
       WHERE episode_id = ANY($1::text[]) AND status = 'pending' AND stop_on_ack
       FOR UPDATE SKIP LOCKED)
     RETURNING action_key`,
    [episodeIds, reason, now],
  );
  return rows.length;
}

interface ClaimRow {
  action_key: string;
  episode_id: string;
  kind: ActionKind;
  channel: ActionChannel;
  customer_id: string | null;
  device_id: string | null;
  product_id: string | null;
  payload: unknown;
  due_at: Date;
  stop_on_ack: boolean;
  attempts: number;
  created_at: Date;
}

/**
 * Locks and returns up to `limit` pending rows due by `now` on `channels`, earliest first; rows
 * other deliverers hold are skipped. Run it in the transaction that finishes them.
 */
export async function claimDue(
  tx: SqlClient,
  channels: readonly ActionChannel[],
  now: number,
  limit: number,
): Promise<ClaimedAction[]> {
  const { rows } = await tx.query<ClaimRow>(
    `SELECT action_key, episode_id, kind, channel, customer_id, device_id, product_id, payload, due_at, stop_on_ack,
       attempts, created_at
     FROM action_outbox
     WHERE status = 'pending' AND due_at <= to_timestamp($1 / 1000.0) AND channel = ANY($2::text[])
     ORDER BY due_at LIMIT $3
     FOR UPDATE SKIP LOCKED`,
    [now, channels, limit],
  );
  return rows.map((r) => ({
    key: r.action_key,
    episodeId: r.episode_id,
    kind: r.kind,
    channel: r.channel,
    customerId: r.customer_id,
    deviceId: r.device_id,
    productId: r.product_id,
    payload: typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload,
    dueAt: new Date(r.due_at).getTime(),
    stopOnAck: r.stop_on_ack,
    attempts: Number(r.attempts),
    createdAt: new Date(r.created_at).getTime(),
  }));
}

const FINISH = `UPDATE action_outbox AS o SET
    status = CASE WHEN x.s IN ('retry', 'postpone') THEN 'pending' ELSE x.s END,
    attempts = o.attempts + CASE WHEN x.s IN ('sent', 'failed', 'retry') THEN 1 ELSE 0 END,
    due_at = CASE WHEN x.s IN ('retry', 'postpone') THEN to_timestamp(x.u / 1000.0) ELSE o.due_at END,
    last_error = COALESCE(x.er, o.last_error),
    result = COALESCE(x.r, o.result),
    digest_key = COALESCE(x.dk, o.digest_key),
    done_at = CASE WHEN x.s IN ('retry', 'postpone') THEN NULL ELSE to_timestamp(x.n / 1000.0) END
  FROM jsonb_to_recordset($1::jsonb) AS x(k text, s text, u float8, er text, r text, dk text, n float8)
  WHERE o.action_key = x.k`;

/** Records how claimed rows ended, at `now`. */
export async function finishActions(
  tx: SqlClient,
  outcomes: ReadonlyMap<string, ActionOutcome>,
  now: number,
): Promise<void> {
  if (outcomes.size === 0) return;
  await writeJsonRows(tx, FINISH, [...outcomes], ([key, o]) => ({
    k: key,
    s: o.status,
    u: o.status === 'retry' || o.status === 'postpone' ? o.dueAt : null,
    er: 'error' in o ? (o.error ?? null) : null,
    r: 'result' in o ? (o.result ?? null) : null,
    dk: o.status === 'digested' ? o.digestKey : null,
    n: now,
  }));
}

/** A row as `shardflow outbox list|show` prints it. */
export interface ActionRow {
  readonly key: string;
  readonly episodeId: string;
  readonly kind: ActionKind;
  readonly channel: ActionChannel;
  readonly customerId: string | null;
  readonly deviceId: string | null;
  readonly status: ActionStatus;
  readonly dueAt: number;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly result: string | null;
  readonly createdAt: number;
  readonly doneAt: number | null;
  readonly payload: unknown;
}

/** Which rows to list. */
export interface ActionFilter {
  readonly status?: ActionStatus;
  readonly episodeId?: string;
  readonly customerId?: string;
  readonly limit?: number;
}

/** Rows by due time, newest first. */
export async function listActions(client: SqlClient, filter: ActionFilter): Promise<ActionRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  for (const [column, value] of [
    ['status', filter.status],
    ['episode_id', filter.episodeId],
    ['customer_id', filter.customerId],
  ] as const) {
    if (value === undefined) continue;
    params.push(value);
    where.push(`${column} = $${params.length}`);
  }
  params.push(Math.max(1, Math.floor(filter.limit ?? 100)));
  const { rows } = await client.query<{
    action_key: string;
    episode_id: string;
    kind: ActionKind;
    channel: ActionChannel;
    customer_id: string | null;
    device_id: string | null;
    status: ActionStatus;
    due_at: Date;
    attempts: number;
    last_error: string | null;
    result: string | null;
    created_at: Date;
    done_at: Date | null;
    payload: unknown;
  }>(
    `SELECT action_key, episode_id, kind, channel, customer_id, device_id, status, due_at, attempts, last_error,
       result, created_at, done_at, payload
     FROM action_outbox ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY due_at DESC, action_key LIMIT $${params.length}`,
    params,
  );
  return rows.map((r) => ({
    key: r.action_key,
    episodeId: r.episode_id,
    kind: r.kind,
    channel: r.channel,
    customerId: r.customer_id,
    deviceId: r.device_id,
    status: r.status,
    dueAt: new Date(r.due_at).getTime(),
    attempts: Number(r.attempts),
    lastError: r.last_error,
    result: r.result,
    createdAt: new Date(r.created_at).getTime(),
    doneAt: r.done_at === null ? null : new Date(r.done_at).getTime(),
    payload: typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload,
  }));
}

/** Puts failed rows (all, or those of `keys`) back to pending, due at `now`, attempts from zero. */
export async function retryFailed(
  client: SqlClient,
  now: number,
  keys?: readonly string[],
): Promise<string[]> {
  const { rows } = await client.query<{ action_key: string }>(
    `UPDATE action_outbox SET status = 'pending', attempts = 0, due_at = to_timestamp($1 / 1000.0), done_at = NULL
     WHERE status = 'failed' ${keys === undefined ? '' : 'AND action_key = ANY($2::text[])'}
     RETURNING action_key`,
    keys === undefined ? [now] : [now, keys],
  );
  return rows.map((r) => r.action_key).sort();
}
