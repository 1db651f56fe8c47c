/**
 * `masterdata-apply`: writes a batch of master-data changes to the Warm store in one transaction,
 * entity by entity with multi-row statements, in version order per key. Idempotent: a change whose
 * version is not above the stored one (a replay, or a stale event arriving late) changes nothing.
 * Control records are recorded in `cdc_control_records`. Inside the same transaction it notifies
 * the devices whose enrichment may have changed (changed devices and device assignments, and the
 * devices of sites whose customer changed); the notification is delivered at commit.
 */
import type { Sink } from '../../../topology/index.ts';
import type { SqlClient } from '../../postgres/sql.ts';
import { type AssignmentEntity, applyAssignmentChanges } from './assignments.ts';
import type { MasterDataChange, MasterDataControl, MasterDataRowChange } from './change.ts';
import { applyEntityChanges, type PlainEntity } from './entities.ts';
import { notifyInvalidation } from './invalidations.ts';

/** What one application did. */
export interface AppliedChanges {
  /** Keys written per entity (stale and replayed changes are not counted). */
  readonly written: Readonly<Record<string, number>>;
  readonly controls: number;
  /** Devices notified for cache invalidation. */
  readonly invalidated: readonly string[];
}

const PLAIN: readonly PlainEntity[] = ['customer', 'site', 'product', 'device'];
const ASSIGNMENTS: readonly AssignmentEntity[] = ['device-assignment', 'site-assignment'];

/** Applies changes inside `tx` (the caller's transaction) and queues the invalidation. */
export async function applyMasterDataChanges(
  tx: SqlClient,
  changes: readonly MasterDataChange[],
): Promise<AppliedChanges> {
  const rows = new Map<string, MasterDataRowChange[]>();
  const controls: MasterDataControl[] = [];
  for (const c of changes) {
    if (c.kind === 'control') {
      controls.push(c);
      continue;
    }
    const list = rows.get(c.entity);
    if (list) list.push(c);
    else rows.set(c.entity, [c]);
  }
  const written: Record<string, number> = {};
  const devices = new Set<string>();
  for (const entity of PLAIN) {
    const keys = await applyEntityChanges(tx, entity, rows.get(entity) ?? []);
    if (keys.length > 0) written[entity] = keys.length;
    if (entity === 'device') for (const k of keys) devices.add(k);
  }
  let sites: string[] = [];
  for (const entity of ASSIGNMENTS) {
    const keys = await applyAssignmentChanges(tx, entity, rows.get(entity) ?? []);
    if (keys.length > 0) written[entity] = keys.length;
    if (entity === 'device-assignment') for (const k of keys) devices.add(k);
    else sites = keys;
  }
  if (sites.length > 0) {
    const under = await tx.query<{ device_id: string }>(
      'SELECT DISTINCT device_id FROM device_site_assignments WHERE site_id = ANY($1::text[])',
      [sites],
    );
    for (const r of under.rows) devices.add(r.device_id);
  }
  if (controls.length > 0)
    await tx.query(
      `INSERT INTO cdc_control_records (origin, operation, version, occurred_at, detail)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::jsonb[])
       ON CONFLICT DO NOTHING`,
      [
        controls.map((c) => c.origin),
        controls.map((c) => c.operation),
        controls.map((c) => c.version),
        controls.map((c) => new Date(c.at).toISOString()),
        controls.map((c) => c.detail),
      ],
    );
  const invalidated = [...devices];
  await notifyInvalidation(tx, invalidated);
  return { written, controls: controls.length, invalidated };
}

/** Applies CDC changes to the Warm store's master data (write endpoint). */
export function masterDataApplySink(client: SqlClient): Sink<MasterDataChange> {
  return {
    type: 'masterdata-apply',
    stores: [{ name: 'warm.masterdata', kind: 'postgresql' }],
    // changes apply by key version, in order: any part of a batch can be applied on its own
    rejects: 'isolate',
    write: async (batch) => {
      if (batch.length === 0) return;
      await client.transaction((tx) => applyMasterDataChanges(tx, batch));
    },
  };
}
