/**
 * Applies assignment changes (device → site, site → customer) as validity periods. For each key of
 * the batch the newer changes are folded in version order over the key's latest stored period: a
 * change of target closes the open period at the change's effective time and opens a new one there;
 * a delete closes it and leaves a tombstone version. Writes are three multi-row statements (drop
 * emptied periods, close periods, insert new ones) and one upsert of the keys' versions.
 */
import type { SqlClient } from '../../postgres/sql.ts';
import { byKey, type MasterDataRowChange, newerInOrder } from './change.ts';

/** Where each assignment history lives. */
export const ASSIGNMENT_TABLES = {
  'device-assignment': {
    kind: 'device-site',
    table: 'device_site_assignments',
    key: 'device_id',
    target: 'site_id',
  },
  'site-assignment': {
    kind: 'site-customer',
    table: 'site_customer_assignments',
    key: 'site_id',
    target: 'customer_id',
  },
} as const;
/** An assignment entity. */
export type AssignmentEntity = keyof typeof ASSIGNMENT_TABLES;

interface Period {
  readonly key: string;
  readonly target: string;
  readonly from: number;
  to: number | null;
  readonly stored: boolean;
  dropped?: boolean;
}

interface KeyState {
  open: Period | undefined;
  /** No new period may start before this (the end of the key's latest period). */
  floor: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Applies one assignment entity's changes; returns the keys whose history changed. */
export async function applyAssignmentChanges(
  tx: SqlClient,
  entity: AssignmentEntity,
  changes: readonly MasterDataRowChange[],
): Promise<string[]> {
  if (changes.length === 0) return [];
  const { kind, table, key, target } = ASSIGNMENT_TABLES[entity];
  const groups = byKey(changes);
  const keys = [...groups.keys()];
  const versions = await tx.query<{ key: string; source_version: string }>(
    'SELECT key, source_version FROM assignment_versions WHERE kind = $1 AND key = ANY($2::text[]) FOR UPDATE',
    [kind, keys],
  );
  const storedVersion = new Map(versions.rows.map((r) => [r.key, r.source_version]));
  const latest = await tx.query<{ k: string; t: string; f: number; vt: number | null }>(
    `SELECT DISTINCT ON (${key}) ${key} AS k, ${target} AS t,
            (extract(epoch FROM valid_from) * 1000)::float8 AS f, (extract(epoch FROM valid_to) * 1000)::float8 AS vt
     FROM ${table} WHERE ${key} = ANY($1::text[]) ORDER BY ${key}, valid_from DESC`,
    [keys],
  );
  const states = new Map<string, KeyState>();
  for (const r of latest.rows) {
    const open = r.vt === null ? { key: r.k, target: r.t, from: r.f, to: null, stored: true } : undefined;
    states.set(r.k, { open, floor: r.vt ?? r.f });
  }

  const inserted: Period[] = [];
  const closed: Period[] = [];
  const newVersions: { key: string; version: string; deleted: boolean }[] = [];
  for (const [k, keyChanges] of groups) {
    const newer = newerInOrder(keyChanges, storedVersion.get(k) ?? '');
    if (newer.length === 0) continue;
    const state = states.get(k) ?? { open: undefined, floor: Number.NEGATIVE_INFINITY };
    for (const change of newer) {
      const at = Math.max(change.effectiveAt, state.floor);
      if (change.op === 'delete') {
        close(state, at, closed);
        continue;
      }
      if (!(target in change.fields)) continue; // a patch that leaves the target alone
      const next = change.fields[target] ?? null;
      if (state.open?.target === next) continue;
      close(state, at, closed);
      if (next !== null) {
        state.open = { key: k, target: next, from: at, to: null, stored: false };
        inserted.push(state.open);
      }
    }
    const last = newer[newer.length - 1]!;
    newVersions.push({ key: k, version: last.version, deleted: last.op === 'delete' });
  }
  if (newVersions.length === 0) return [];

  const dropped = closed.filter((p) => p.stored && p.dropped);
  if (dropped.length > 0)
    await tx.query(
      `DELETE FROM ${table} t USING unnest($1::text[], $2::timestamptz[]) AS d(k, f)
       WHERE t.${key} = d.k AND t.valid_from = d.f`,
      [dropped.map((p) => p.key), dropped.map((p) => iso(p.from))],
    );
  const ended = closed.filter((p) => p.stored && !p.dropped);
  if (ended.length > 0)
    await tx.query(
      `UPDATE ${table} t SET valid_to = u.vt FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) AS u(k, f, vt)
       WHERE t.${key} = u.k AND t.valid_from = u.f`,
      [ended.map((p) => p.key), ended.map((p) => iso(p.from)), ended.map((p) => iso(p.to!))],
    );
  const fresh = inserted.filter((p) => !p.dropped);
  if (fresh.length > 0)
    await tx.query(
      `INSERT INTO ${table} (${key}, ${target}, valid_from, valid_to)
       SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[])`,
      [
        fresh.map((p) => p.key),
        fresh.map((p) => p.target),
        fresh.map((p) => iso(p.from)),
        fresh.map((p) => (p.to === null ? null : iso(p.to))),
      ],
    );
  await tx.query(
    `INSERT INTO assignment_versions (kind, key, source_version, deleted)
     SELECT $1, * FROM unnest($2::text[], $3::text[], $4::boolean[])
     ON CONFLICT (kind, key) DO UPDATE SET source_version = EXCLUDED.source_version, deleted = EXCLUDED.deleted
     WHERE assignment_versions.source_version < EXCLUDED.source_version`,
    [
      kind,
      newVersions.map((v) => v.key),
      newVersions.map((v) => v.version),
      newVersions.map((v) => v.deleted),
    ],
  );
  return newVersions.map((v) => v.key);
}

/** Ends the open period at `at`; a period that would end where it starts is dropped instead. */
function close(state: KeyState, at: number, closed: Period[]): void {
  const open = state.open;
  if (open === undefined) return;
  state.open = undefined;
  if (at <= open.from) open.dropped = true;
  else {
    open.to = at;
    state.floor = at;
  }
  if (open.stored) closed.push(open);
}
