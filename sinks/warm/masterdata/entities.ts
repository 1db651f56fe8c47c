/**
 * Applies changes of the plain entities (customers, sites, products, devices): the stored rows of
 * the batch's keys are read and locked in one statement, each key's newer changes are folded in
 * version order (a patch merges into the row, a delete leaves a tombstone), and the results are
 * written with one multi-row upsert per entity.
 */
import type { SqlClient } from '../../postgres/sql.ts';
import { byKey, type MasterDataRowChange, newerInOrder } from './change.ts';

/** Where each plain entity lives. */
export const ENTITY_TABLES = {
  customer: { table: 'customers', id: 'customer_id', columns: ['name'] },
  site: { table: 'sites', id: 'site_id', columns: ['name', 'timezone'] },
  product: { table: 'products', id: 'product_id', columns: ['name'] },
  device: { table: 'devices', id: 'device_id', columns: ['product_id', 'hub_id', 'name'] },
} as const;
/** A plain (non-assignment) entity. */
export type PlainEntity = keyof typeof ENTITY_TABLES;

interface RowState {
  fields: Record<string, string | null>;
  version: string;
  deleted: boolean;
}

/** Applies one entity's changes; returns the keys whose row changed. */
export async function applyEntityChanges(
  tx: SqlClient,
  entity: PlainEntity,
  changes: readonly MasterDataRowChange[],
): Promise<string[]> {
  if (changes.length === 0) return [];
  const { table, id, columns } = ENTITY_TABLES[entity];
  const groups = byKey(changes);
  const { rows } = await tx.query<
    Record<string, string | null> & { source_version: string; deleted: boolean }
  >(
    `SELECT ${id}, ${columns.join(', ')}, source_version, deleted FROM ${table} WHERE ${id} = ANY($1::text[]) FOR UPDATE`,
    [[...groups.keys()]],
  );
  const stored = new Map<string, RowState>();
  for (const row of rows) {
    const fields: Record<string, string | null> = {};
    for (const c of columns) fields[c] = row[c] ?? null;
    stored.set(row[id] as string, { fields, version: row.source_version, deleted: row.deleted });
  }

  const written: { key: string; state: RowState }[] = [];
  for (const [key, keyChanges] of groups) {
    const before = stored.get(key);
    const newer = newerInOrder(keyChanges, before?.version ?? '');
    if (newer.length === 0) continue;
    let state: RowState = before ?? { fields: {}, version: '', deleted: true };
    for (const change of newer) state = fold(state, change, columns);
    written.push({ key, state });
  }
  if (written.length === 0) return [];

  const params: unknown[] = [written.map((w) => w.key)];
  for (const c of columns) params.push(written.map((w) => w.state.fields[c] ?? null));
  params.push(written.map((w) => w.state.version));
  params.push(written.map((w) => w.state.deleted));
  const casts = [...columns.map((_, i) => `$${i + 2}::text[]`)];
  const n = columns.length;
  await tx.query(
    `INSERT INTO ${table} (${id}, ${columns.join(', ')}, source_version, deleted)
     SELECT * FROM unnest($1::text[], ${casts.join(', ')}, $${n + 2}::text[], $${n + 3}::boolean[])
     ON CONFLICT (${id}) DO UPDATE SET ${columns.map((c) => `${c} = EXCLUDED.${c}`).join(', ')},
       source_version = EXCLUDED.source_version, deleted = EXCLUDED.deleted, updated_at = now()
     WHERE ${table}.source_version < EXCLUDED.source_version`,
    params,
  );
  return written.map((w) => w.key);
}

function fold(state: RowState, change: MasterDataRowChange, columns: readonly string[]): RowState {
  if (change.op === 'delete') return { fields: state.fields, version: change.version, deleted: true };
  const fields: Record<string, string | null> = {};
  // Columns the change does not carry belong to another mapping (or the import): they keep their
  // value, unless the row was a tombstone.
  const base = state.deleted ? {} : state.fields;
  for (const c of columns) fields[c] = c in change.fields ? (change.fields[c] ?? null) : (base[c] ?? null);
  return { fields, version: change.version, deleted: false };
}
