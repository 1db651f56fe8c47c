/**
 * Dispatches in the Warm store (migration 820): opening one for an alarm episode, idempotently, with
 * the engineer the assignment rules choose (`assign.ts`); moving it through its statuses
 * (`transitions.ts`) with a history row per change; reading and listing them.
 *
 * Assignments are serialised by a transaction-scoped advisory lock, so two episodes opened at once
 * see each other's load and do not both go to the least loaded engineer; the lock is held until the
 * caller's transaction ends, which for the outbox's deliverer is one short transaction.
 */
import { createHash } from 'node:crypto';
import type { SqlClient } from '../../sinks/postgres/sql.ts';
import { chooseEngineer } from './assign.ts';
import { transition } from './transitions.ts';
import type { Dispatch, DispatchChange, DispatchRequest, DispatchStatus, Engineer } from './types.ts';

// Any constant no other advisory lock of shardflow uses (migrations use 7_140_101).
const ASSIGNMENT_LOCK = 7_140_820;

const DISPATCH_COLUMNS = `dispatch_id, episode_id, product_id, customer_id, site_id, device_id, skills, priority, reason,
  engineer_id, status, created_at, updated_at`;

const ENGINEER_COLUMNS = 'engineer_id, name, email, skills, regions, zone, quiet_from, quiet_to, active';

interface DispatchRow {
  dispatch_id: string;
  episode_id: string;
  product_id: string | null;
  customer_id: string | null;
  site_id: string | null;
  device_id: string | null;
  skills: string[];
  priority: Dispatch['priority'];
  reason: string;
  engineer_id: string | null;
  status: DispatchStatus;
  created_at: Date;
  updated_at: Date;
}

/** An `engineers` row as stored. */
interface EngineerRow {
  engineer_id: string;
  name: string;
  email: string;
  skills: string[];
  regions: string[];
  zone: string;
  quiet_from: string | null;
  quiet_to: string | null;
  active: boolean;
}

const ms = (d: Date) => new Date(d).getTime();

function dispatchOfRow(r: DispatchRow): Dispatch {
  return {
    dispatchId: r.dispatch_id,
    episodeId: r.episode_id,
    productId: r.product_id,
    customerId: r.customer_id,
    siteId: r.site_id,
    deviceId: r.device_id,
    skills: r.skills,
    priority: r.priority,
    reason: r.reason,
    engineerId: r.engineer_id,
    status: r.status,
    createdAt: ms(r.created_at),
    updatedAt: ms(r.updated_at),
  };
}

/** An engineer from its row. */
function engineerOfRow(r: EngineerRow): Engineer {
  return {
    id: r.engineer_id,
    name: r.name,
    email: r.email,
    skills: r.skills,
    regions: r.regions,
    zone: r.zone,
    quietHours: r.quiet_from === null || r.quiet_to === null ? null : { from: r.quiet_from, to: r.quiet_to },
    active: r.active,
  };
}

/** The dispatch id of an episode: the same episode, the same id (`d-` and 24 hex digits of SHA-256). */
export function dispatchIdOf(episodeId: string): string {
  return `d-${createHash('sha256').update(episodeId).digest('hex').slice(0, 24)}`;
}

async function readEngineer(client: SqlClient, id: string | null): Promise<Engineer | undefined> {
  if (id === null) return undefined;
  const { rows } = await client.query<EngineerRow>(
    `SELECT ${ENGINEER_COLUMNS} FROM engineers WHERE engineer_id = $1`,
    [id],
  );
  return rows[0] === undefined ? undefined : engineerOfRow(rows[0]);
}

async function existingDispatch(client: SqlClient, dispatchId: string, episodeId: string) {
  const { rows } = await client.query<DispatchRow>(
    `SELECT ${DISPATCH_COLUMNS} FROM dispatches WHERE dispatch_id = $1 OR episode_id = $2 LIMIT 1`,
    [dispatchId, episodeId],
  );
  return rows[0] === undefined ? undefined : dispatchOfRow(rows[0]);
}

/**
 * The active engineers with every skill who cover the site's region (`*` covers every site, and is
 * the only cover of a site with no region), fewest open dispatches first, then by id.
 */
async function candidates(tx: SqlClient, req: DispatchRequest): Promise<Engineer[]> {
  const { rows } = await tx.query<EngineerRow>(
    `SELECT ${ENGINEER_COLUMNS.split(', ')
      .map((c) => `e.${c}`)
      .join(', ')}
     FROM engineers e
     WHERE e.active AND e.skills @> $1::text[]
       AND ('*' = ANY (e.regions) OR e.regions && ARRAY(SELECT region FROM site_regions WHERE site_id = $2))
     ORDER BY (SELECT count(*) FROM dispatches d
               WHERE d.engineer_id = e.engineer_id AND d.status NOT IN ('resolved', 'cancelled')),
              e.engineer_id`,
    [req.skills, req.siteId],
  );
  return rows.map(engineerOfRow);
}

/**
 * Opens the dispatch of `req` on `tx` (run it in the caller's transaction), with an engineer when one
 * matches; otherwise `assigned` with no engineer, waiting for one. Idempotent: when the dispatch (or
 * one for its episode) exists, it is returned with `created: false` and nothing is written, also
 * when another transaction opened it concurrently.
 */
export async function openDispatch(
  tx: SqlClient,
  req: DispatchRequest,
): Promise<{ dispatch: Dispatch; engineer: Engineer | undefined; created: boolean }> {
  const found = await existingDispatch(tx, req.dispatchId, req.episodeId);
  if (found !== undefined)
    return { dispatch: found, engineer: await readEngineer(tx, found.engineerId), created: false };
  await tx.query('SELECT pg_advisory_xact_lock($1)', [ASSIGNMENT_LOCK]);
  const engineer = chooseEngineer(await candidates(tx, req), req.at);
  const { rows } = await tx.query<DispatchRow>(
    `INSERT INTO dispatches (${DISPATCH_COLUMNS})
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'assigned', to_timestamp($11::float8 / 1000), to_timestamp($11::float8 / 1000))
     ON CONFLICT DO NOTHING
     RETURNING ${DISPATCH_COLUMNS}`,
    [
      req.dispatchId,
      req.episodeId,
      req.productId,
      req.customerId,
      req.siteId,
      req.deviceId,
      req.skills,
      req.priority,
      req.reason,
      engineer?.id ?? null,
      req.at,
    ],
  );
  if (rows[0] === undefined) {
    // another transaction opened it between the first look and the insert, and has committed
    const other = (await existingDispatch(tx, req.dispatchId, req.episodeId))!;
    return { dispatch: other, engineer: await readEngineer(tx, other.engineerId), created: false };
  }
  await tx.query(
    `INSERT INTO dispatch_history (dispatch_id, seq, status, engineer_id, at, actor, note)
     VALUES ($1, 1, 'assigned', $2, to_timestamp($3::float8 / 1000), 'shardflow', $4)`,
    [req.dispatchId, engineer?.id ?? null, req.at, engineer === undefined ? 'no engineer matched' : null],
  );
  return { dispatch: dispatchOfRow(rows[0]), engineer, created: true };
}

/** A change of a dispatch: a new status, another engineer, or both; who made it and when. */
export interface DispatchUpdate {
  readonly status?: DispatchStatus;
  readonly engineerId?: string;
  readonly by: string;
  readonly note?: string;
  /** Epoch ms. */
  readonly at: number;
}

/** A dispatch that does not exist, or an engineer that does not. */
export class DispatchNotFoundError extends Error {
  override readonly name = 'DispatchNotFoundError';
}

/**
 * Applies a change in one transaction: the dispatch row locked, the transition checked
 * (`DispatchTransitionError` naming the dispatch and both states), the row updated and a history row
 * added. Returns the dispatch as it now is.
 */
export async function updateDispatch(
  client: SqlClient,
  dispatchId: string,
  change: DispatchUpdate,
): Promise<Dispatch> {
  return client.transaction(async (tx) => {
    const { rows } = await tx.query<DispatchRow>(
      `SELECT ${DISPATCH_COLUMNS} FROM dispatches WHERE dispatch_id = $1 FOR UPDATE`,
      [dispatchId],
    );
    if (rows[0] === undefined) throw new DispatchNotFoundError(`no dispatch ${dispatchId}`);
    const current = dispatchOfRow(rows[0]);
    const next = transition(dispatchId, current, change);
    if (next.engineerId !== current.engineerId && (await readEngineer(tx, next.engineerId)) === undefined)
      throw new DispatchNotFoundError(`no engineer ${next.engineerId}`);
    const updated = await tx.query<DispatchRow>(
      `UPDATE dispatches SET status = $2, engineer_id = $3, updated_at = to_timestamp($4::float8 / 1000)
       WHERE dispatch_id = $1 RETURNING ${DISPATCH_COLUMNS}`,
      [dispatchId, next.status, next.engineerId, change.at],
    );
    await tx.query(
      `INSERT INTO dispatch_history (dispatch_id, seq, status, engineer_id, at, actor, note)
       SELECT $1, coalesce(max(seq), 0) + 1, $2, $3, to_timestamp($4::float8 / 1000), $5, $6
       FROM dispatch_history WHERE dispatch_id = $1`,
      [dispatchId, next.status, next.engineerId, change.at, change.by, change.note ?? null],
    );
    return dispatchOfRow(updated.rows[0]!);
  });
}

/** A dispatch and its history (by seq), or undefined when there is none. */
export async function readDispatch(
  client: SqlClient,
  dispatchId: string,
): Promise<{ dispatch: Dispatch; history: DispatchChange[] } | undefined> {
  const { rows } = await client.query<DispatchRow>(
    `SELECT ${DISPATCH_COLUMNS} FROM dispatches WHERE dispatch_id = $1`,
    [dispatchId],
  );
  if (rows[0] === undefined) return undefined;
  const history = await client.query<{
    seq: number;
    status: DispatchStatus;
    engineer_id: string | null;
    at: Date;
    actor: string;
    note: string | null;
  }>(
    'SELECT seq, status, engineer_id, at, actor, note FROM dispatch_history WHERE dispatch_id = $1 ORDER BY seq',
    [dispatchId],
  );
  return {
    dispatch: dispatchOfRow(rows[0]),
    history: history.rows.map((h) => ({
      dispatchId,
      seq: Number(h.seq),
      status: h.status,
      engineerId: h.engineer_id,
      at: ms(h.at),
      by: h.actor,
      note: h.note,
    })),
  };
}

/** Which dispatches to list. */
export interface DispatchFilter {
  /** `open` (the default: neither resolved nor cancelled), `all`, or one status. */
  readonly status?: 'open' | 'all' | DispatchStatus;
  readonly engineerId?: string;
  readonly customerId?: string;
  /** At most this many (default 1000). */
  readonly limit?: number;
}

/** Dispatches, high priority first, then oldest first (the longest waiting). */
export async function listDispatches(client: SqlClient, filter: DispatchFilter = {}): Promise<Dispatch[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const status = filter.status ?? 'open';
  if (status === 'open') where.push("status NOT IN ('resolved', 'cancelled')");
  else if (status !== 'all') {
    params.push(status);
    where.push(`status = $${params.length}`);
  }
  if (filter.engineerId !== undefined) {
    params.push(filter.engineerId);
    where.push(`engineer_id = $${params.length}`);
  }
  if (filter.customerId !== undefined) {
    params.push(filter.customerId);
    where.push(`customer_id = $${params.length}`);
  }
  params.push(Math.max(0, Math.floor(filter.limit ?? 1000)));
  const { rows } = await client.query<DispatchRow>(
    `SELECT ${DISPATCH_COLUMNS} FROM dispatches ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY CASE priority WHEN 'high' THEN 0 WHEN 'normal' THEN 1 ELSE 2 END, created_at, dispatch_id
     LIMIT $${params.length}`,
    params,
  );
  return rows.map(dispatchOfRow);
}
