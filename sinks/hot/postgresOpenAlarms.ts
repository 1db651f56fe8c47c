/**
 * Open alarms in the PostgreSQL Hot store (`hot_open_alarms`, migration 600): one row per episode,
 * upserted forward-only by the episode's event number, read for a customer's dashboard by the index
 * on (customer, severity, opened at) of the rows not closed, and for a device page by the one on
 * (device, severity, opened at) (migration 620). Closed episodes keep their row until the
 * retention, so a replayed older event finds a newer row and changes nothing.
 */
import { type Episode, SEVERITIES, type Severity, severityRank } from '../../topology/index.ts';
import { type SqlClient, writeJsonRows } from '../postgres/sql.ts';
import { latestEpisodes, OPEN_ALARMS_LIMIT, type OpenAlarm, type OpenAlarmQuery } from './hotStore.ts';

const UPSERT = `INSERT INTO hot_open_alarms (episode_id, customer_id, site_id, device_id, product_id, rule_id,
    target_kind, target_id, severity, severity_rank, status, acknowledged, latched, assignee, shelved_until, flapping,
    value, message, opened_at, updated_at, closed_at, last_event_seq)
  SELECT e, cu, si, d, p, r, tk, ti, sv, sr, st, ak, la, asg, to_timestamp(sh / 1000), fl, v, m, to_timestamp(o / 1000),
    to_timestamp(u / 1000), to_timestamp(c / 1000), sq
  FROM jsonb_to_recordset($1::jsonb) AS u(e text, cu text, si text, d text, p text, r text, tk text, ti text, sv text,
    sr int, st text, ak bool, la bool, asg text, sh float8, fl bool, v float8, m text, o float8, u float8, c float8,
    sq int)
  ON CONFLICT (episode_id) DO UPDATE SET customer_id = EXCLUDED.customer_id, site_id = EXCLUDED.site_id,
    device_id = EXCLUDED.device_id, product_id = EXCLUDED.product_id, severity = EXCLUDED.severity,
    severity_rank = EXCLUDED.severity_rank, status = EXCLUDED.status, acknowledged = EXCLUDED.acknowledged,
    latched = EXCLUDED.latched, assignee = EXCLUDED.assignee, shelved_until = EXCLUDED.shelved_until,
    flapping = EXCLUDED.flapping, value = EXCLUDED.value, message = EXCLUDED.message,
    updated_at = EXCLUDED.updated_at, closed_at = EXCLUDED.closed_at, last_event_seq = EXCLUDED.last_event_seq
  WHERE hot_open_alarms.last_event_seq < EXCLUDED.last_event_seq`;

interface OpenAlarmRow {
  episode_id: string;
  customer_id: string | null;
  site_id: string | null;
  device_id: string | null;
  product_id: string | null;
  rule_id: string;
  target_kind: OpenAlarm['target']['kind'];
  target_id: string;
  severity: Severity;
  status: OpenAlarm['status'];
  acknowledged: boolean;
  latched: boolean;
  assignee: string | null;
  shelved_until: Date | null;
  flapping: boolean;
  value: number | null;
  message: string;
  opened_at: Date;
  updated_at: Date;
  last_event_seq: number;
}

const ms = (d: Date | null) => (d === null ? null : new Date(d).getTime());

/** Upserts the batch's latest state of each episode (see `HotStore.writeOpenAlarms`). */
export async function writeOpenAlarms(write: SqlClient, episodes: readonly Episode[]): Promise<void> {
  await writeJsonRows(write, UPSERT, latestEpisodes(episodes), (e) => ({
    e: e.id,
    cu: e.customerId,
    si: e.siteId,
    d: e.deviceId,
    p: e.productId,
    r: e.ruleId,
    tk: e.target.kind,
    ti: e.target.id,
    sv: e.severity,
    sr: severityRank(e.severity),
    st: e.status,
    ak: e.acknowledged,
    la: e.latched,
    asg: e.assignee,
    sh: e.shelvedUntil,
    fl: e.flapping,
    v: e.value !== null && Number.isFinite(e.value) ? e.value : null,
    m: e.message,
    o: e.openedAt,
    u: e.updatedAt,
    c: e.closedAt,
    sq: e.lastEventSeq,
  }));
}

/** Open alarms, most severe first, then newest opened. */
export async function readOpenAlarms(read: SqlClient, query: OpenAlarmQuery): Promise<OpenAlarm[]> {
  const where = ['closed_at IS NULL'];
  const params: unknown[] = [];
  if (query.customerId !== undefined) {
    params.push(query.customerId);
    where.push(`customer_id = $${params.length}`);
  }
  if (query.deviceId !== undefined) {
    params.push(query.deviceId);
    where.push(`device_id = $${params.length}`);
  }
  if (query.minSeverity !== undefined) {
    params.push(SEVERITIES.indexOf(query.minSeverity));
    where.push(`severity_rank >= $${params.length}`);
  }
  params.push(Math.max(0, Math.floor(query.limit ?? OPEN_ALARMS_LIMIT)));
  const { rows } = await read.query<OpenAlarmRow>(
    `SELECT episode_id, customer_id, site_id, device_id, product_id, rule_id, target_kind, target_id, severity, status,
       acknowledged, latched, assignee, shelved_until, flapping, value, message, opened_at, updated_at, last_event_seq
     FROM hot_open_alarms WHERE ${where.join(' AND ')}
     ORDER BY severity_rank DESC, opened_at DESC, episode_id LIMIT $${params.length}`,
    params,
  );
  return rows.map((r) => ({
    episodeId: r.episode_id,
    ruleId: r.rule_id,
    target: { kind: r.target_kind, id: r.target_id },
    customerId: r.customer_id,
    siteId: r.site_id,
    deviceId: r.device_id,
    productId: r.product_id,
    severity: r.severity,
    status: r.status,
    acknowledged: r.acknowledged,
    latched: r.latched,
    assignee: r.assignee,
    shelvedUntil: ms(r.shelved_until),
    flapping: r.flapping,
    value: r.value === null ? null : Number(r.value),
    message: r.message,
    openedAt: ms(r.opened_at)!,
    updatedAt: ms(r.updated_at)!,
    lastEventSeq: Number(r.last_event_seq),
  }));
}

/** Removes the rows of episodes closed before `cutoff`. */
export async function expireClosedAlarms(write: SqlClient, cutoff: number): Promise<void> {
  await write.query('DELETE FROM hot_open_alarms WHERE closed_at < $1', [new Date(cutoff).toISOString()]);
}
