/**
 * The alarm tables of the Warm store (migration 600): `alarm_events`, the append-only history keyed by
 * the deterministic event id, and `alarm_episodes`, each episode's current state. A batch of events is
 * written in one transaction: the events with `ON CONFLICT DO NOTHING` (a replay adds no row), then
 * each episode's latest state in the batch, replacing the stored one only when its event number is
 * higher (a replayed clear never undoes a newer raise or acknowledgement).
 */
import {
  type AlarmEvent,
  type AlarmStatus,
  type AlarmTargetKind,
  type Episode,
  type Severity,
  severityRank,
} from '../../topology/index.ts';
import { type SqlClient, writeJsonRows } from '../postgres/sql.ts';

const INSERT_EVENTS = `INSERT INTO alarm_events (event_id, episode_id, seq, kind, event_at, actor, note, notify, suppressed,
    episode)
  SELECT i, e, s, k, to_timestamp(a / 1000), b, n, y, x, ep
  FROM jsonb_to_recordset($1::jsonb) AS u(i text, e text, s int, k text, a float8, b text, n text, y bool, x bool,
    ep jsonb)
  ORDER BY i
  ON CONFLICT DO NOTHING`;

const UPSERT_EPISODES = `INSERT INTO alarm_episodes (episode_id, rule_id, ruleset_version, target_kind, target_id,
    product_id, customer_id, site_id, device_id, severity, severity_rank, status, acknowledged, latched, assignee,
    shelved_until, flapping, value, message, opened_at, cleared_at, closed_at, last_event_seq, updated_at)
  SELECT e, r, rv, tk, ti, p, cu, si, d, sv, sr, st, ak, la, asg, to_timestamp(sh / 1000), fl, v, m,
    to_timestamp(o / 1000), to_timestamp(cl / 1000), to_timestamp(c / 1000), sq, to_timestamp(u / 1000)
  FROM jsonb_to_recordset($1::jsonb) AS u(e text, r text, rv int, tk text, ti text, p text, cu text, si text, d text,
    sv text, sr int, st text, ak bool, la bool, asg text, sh float8, fl bool, v float8, m text, o float8, cl float8,
    c float8, sq int, u float8)
  ORDER BY e
  ON CONFLICT (episode_id) DO UPDATE SET ruleset_version = EXCLUDED.ruleset_version,
    product_id = EXCLUDED.product_id, customer_id = EXCLUDED.customer_id, site_id = EXCLUDED.site_id,
    device_id = EXCLUDED.device_id, severity = EXCLUDED.severity, severity_rank = EXCLUDED.severity_rank,
    status = EXCLUDED.status, acknowledged = EXCLUDED.acknowledged, latched = EXCLUDED.latched,
    assignee = EXCLUDED.assignee, shelved_until = EXCLUDED.shelved_until, flapping = EXCLUDED.flapping,
    value = EXCLUDED.value, message = EXCLUDED.message, cleared_at = EXCLUDED.cleared_at,
    closed_at = EXCLUDED.closed_at, last_event_seq = EXCLUDED.last_event_seq, updated_at = EXCLUDED.updated_at
  WHERE alarm_episodes.last_event_seq < EXCLUDED.last_event_seq`;

const EPISODE_COLUMNS = `episode_id, rule_id, ruleset_version, target_kind, target_id, product_id, customer_id, site_id,
  device_id, severity, status, acknowledged, latched, assignee, shelved_until, flapping, value, message, opened_at,
  cleared_at, closed_at, last_event_seq, updated_at`;

interface EpisodeRow {
  episode_id: string;
  rule_id: string;
  ruleset_version: number;
  target_kind: AlarmTargetKind;
  target_id: string;
  product_id: string | null;
  customer_id: string | null;
  site_id: string | null;
  device_id: string | null;
  severity: Severity;
  status: AlarmStatus;
  acknowledged: boolean;
  latched: boolean;
  assignee: string | null;
  shelved_until: Date | null;
  flapping: boolean;
  value: number | null;
  message: string;
  opened_at: Date;
  cleared_at: Date | null;
  closed_at: Date | null;
  last_event_seq: number;
  updated_at: Date;
}

const ms = (d: Date | null) => (d === null ? null : new Date(d).getTime());
const finite = (v: number | null) => (v !== null && Number.isFinite(v) ? v : null);

function episodeOfRow(r: EpisodeRow): Episode {
  return {
    id: r.episode_id,
    ruleId: r.rule_id,
    rulesetVersion: Number(r.ruleset_version),
    target: { kind: r.target_kind, id: r.target_id },
    productId: r.product_id,
    customerId: r.customer_id,
    siteId: r.site_id,
    deviceId: r.device_id,
    severity: r.severity,
    status: r.status,
    acknowledged: r.acknowledged,
    latched: r.latched,
    assignee: r.assignee,
    shelvedUntil: ms(r.shelved_until),
    openedAt: ms(r.opened_at)!,
    clearedAt: ms(r.cleared_at),
    closedAt: ms(r.closed_at),
    lastEventSeq: Number(r.last_event_seq),
    updatedAt: ms(r.updated_at)!,
    flapping: r.flapping,
    value: r.value === null ? null : Number(r.value),
    message: r.message,
  };
}

/** Per episode, the latest state among `events` (highest event number), in episode id order. */
function latestStates(events: readonly AlarmEvent[]): Episode[] {
  const latest = new Map<string, Episode>();
  for (const e of events) {
    const current = latest.get(e.episodeId);
    if (current === undefined || current.lastEventSeq < e.seq) latest.set(e.episodeId, e.episode);
  }
  return [...latest.values()];
}

/** Writes alarm events and their episodes' states on `tx` (run it in a transaction). */
export async function writeAlarmEvents(tx: SqlClient, events: readonly AlarmEvent[]): Promise<void> {
  if (events.length === 0) return;
  await writeJsonRows(tx, INSERT_EVENTS, events, (e) => ({
    i: e.id,
    e: e.episodeId,
    s: e.seq,
    k: e.kind,
    a: e.at,
    b: e.by,
    n: e.note,
    y: e.notify,
    x: e.suppressed,
    ep: { ...e.episode, value: finite(e.episode.value) },
  }));
  await writeJsonRows(tx, UPSERT_EPISODES, latestStates(events), (e) => ({
    e: e.id,
    r: e.ruleId,
    rv: e.rulesetVersion,
    tk: e.target.kind,
    ti: e.target.id,
    p: e.productId,
    cu: e.customerId,
    si: e.siteId,
    d: e.deviceId,
    sv: e.severity,
    sr: severityRank(e.severity),
    st: e.status,
    ak: e.acknowledged,
    la: e.latched,
    asg: e.assignee,
    sh: e.shelvedUntil,
    fl: e.flapping,
    v: finite(e.value),
    m: e.message,
    o: e.openedAt,
    cl: e.clearedAt,
    c: e.closedAt,
    sq: e.lastEventSeq,
    u: e.updatedAt,
  }));
}

/** One episode's current state; `forUpdate` locks its row until the transaction ends. */
export async function readEpisode(
  client: SqlClient,
  episodeId: string,
  options: { readonly forUpdate?: boolean } = {},
): Promise<Episode | undefined> {
  const { rows } = await client.query<EpisodeRow>(
    `SELECT ${EPISODE_COLUMNS} FROM alarm_episodes WHERE episode_id = $1${options.forUpdate ? ' FOR UPDATE' : ''}`,
    [episodeId],
  );
  return rows[0] === undefined ? undefined : episodeOfRow(rows[0]);
}

/** Which episodes to list. */
export interface EpisodeFilter {
  readonly customerId?: string;
  /** Open only (the default), or every episode. */
  readonly status?: 'open' | 'all';
  /** Only episodes at least this severe. */
  readonly minSeverity?: Severity;
  readonly limit?: number;
}

/** Episodes, most severe first, then newest opened. */
export async function listEpisodes(client: SqlClient, filter: EpisodeFilter): Promise<Episode[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if ((filter.status ?? 'open') === 'open') where.push('closed_at IS NULL');
  if (filter.customerId !== undefined) {
    params.push(filter.customerId);
    where.push(`customer_id = $${params.length}`);
  }
  if (filter.minSeverity !== undefined) {
    params.push(severityRank(filter.minSeverity));
    where.push(`severity_rank >= $${params.length}`);
  }
  params.push(Math.max(0, Math.floor(filter.limit ?? 1000)));
  const { rows } = await client.query<EpisodeRow>(
    `SELECT ${EPISODE_COLUMNS} FROM alarm_episodes ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY severity_rank DESC, opened_at DESC, episode_id LIMIT $${params.length}`,
    params,
  );
  return rows.map(episodeOfRow);
}

/** The history by event time; one episode's, by event number, when `episodeId` is given. */
export async function readAlarmEvents(client: SqlClient, episodeId?: string): Promise<AlarmEvent[]> {
  const { rows } = await client.query<{
    event_id: string;
    episode_id: string;
    seq: number;
    kind: AlarmEvent['kind'];
    event_at: Date;
    actor: string | null;
    note: string | null;
    notify: boolean;
    suppressed: boolean;
    episode: Episode | string;
  }>(
    `SELECT event_id, episode_id, seq, kind, event_at, actor, note, notify, suppressed, episode FROM alarm_events
     ${episodeId === undefined ? 'ORDER BY event_at, episode_id, seq' : 'WHERE episode_id = $1 ORDER BY seq'}`,
    episodeId === undefined ? [] : [episodeId],
  );
  return rows.map((r) => ({
    id: r.event_id,
    episodeId: r.episode_id,
    seq: Number(r.seq),
    kind: r.kind,
    at: new Date(r.event_at).getTime(),
    by: r.actor,
    note: r.note,
    notify: r.notify,
    suppressed: r.suppressed,
    episode: typeof r.episode === 'string' ? JSON.parse(r.episode) : r.episode,
  }));
}
