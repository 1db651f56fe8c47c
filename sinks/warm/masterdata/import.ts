/**
 * Bulk import of master data from files (`shardflow masterdata import`): rows of one entity are
 * checked one by one (errors name the line) and upserted through the same code as CDC changes, in
 * one transaction per chunk with multi-row statements, so cache invalidations go out as well.
 *
 * An imported row is a change made at the import's time: its version is that time (in the CDC
 * versions' fixed-width form) and the row's line, so a later CDC change wins over it and importing
 * the same file again leaves the same data. An assignment row starts at its `valid_from`, or at the
 * import's time.
 */
import type { SqlClient } from '../../postgres/sql.ts';
import { type AppliedChanges, applyMasterDataChanges } from './applier.ts';
import type { MasterDataEntity, MasterDataRowChange } from './change.ts';

/** The file entities and their columns: the key first, then the fields. */
export const IMPORT_ENTITIES = {
  customers: { entity: 'customer', key: 'customer_id', fields: ['name'] },
  sites: { entity: 'site', key: 'site_id', fields: ['name', 'timezone'] },
  products: { entity: 'product', key: 'product_id', fields: ['name'] },
  devices: { entity: 'device', key: 'device_id', fields: ['product_id', 'hub_id', 'name'] },
  'device-assignments': { entity: 'device-assignment', key: 'device_id', fields: ['site_id'] },
  'site-assignments': { entity: 'site-assignment', key: 'site_id', fields: ['customer_id'] },
} as const satisfies Record<string, { entity: MasterDataEntity; key: string; fields: readonly string[] }>;
/** A file entity name, e.g. `devices`. */
export type ImportEntity = keyof typeof IMPORT_ENTITIES;

/** The columns a file of `entity` may have. */
export function importColumns(entity: ImportEntity): readonly string[] {
  const spec = IMPORT_ENTITIES[entity];
  return [spec.key, ...spec.fields, ...(spec.entity.endsWith('-assignment') ? ['valid_from'] : [])];
}

/** A row of a file with its line number. */
export interface ImportRow {
  readonly line: number;
  readonly values: Readonly<Record<string, unknown>>;
}

/** A row that cannot be imported, and why. */
export interface RowError {
  readonly line: number;
  readonly message: string;
}

/** Checks a row and turns it into a change made at `importedAt`; a string is the row's error. */
export function rowChange(
  entity: ImportEntity,
  row: ImportRow,
  importedAt: number,
): MasterDataRowChange | string {
  const spec = IMPORT_ENTITIES[entity];
  const allowed = importColumns(entity);
  const unknown = Object.keys(row.values).filter((k) => !allowed.includes(k));
  if (unknown.length > 0)
    return `unknown column ${unknown.map((k) => `"${k}"`).join(', ')} (columns: ${allowed.join(', ')})`;
  const text = (k: string): string | null | undefined => {
    const v = row.values[k];
    if (v === undefined) return undefined;
    if (v === null || v === '') return null;
    return typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : undefined;
  };
  const key = text(spec.key);
  if (!key) return `"${spec.key}" is required`;
  const fields: Record<string, string | null> = {};
  for (const f of spec.fields) {
    if (!(f in row.values)) continue;
    const v = text(f);
    if (v === undefined) return `"${f}" must be text`;
    fields[f] = v;
  }
  let effectiveAt = importedAt;
  const validFrom = text('valid_from');
  if (validFrom) {
    const ms = Date.parse(validFrom);
    if (Number.isNaN(ms)) return `"valid_from" is not an ISO 8601 time: "${validFrom}"`;
    effectiveAt = ms;
  }
  return {
    kind: 'change',
    entity: spec.entity,
    op: 'upsert',
    key,
    fields,
    version: importVersion(importedAt, row.line),
    effectiveAt,
    origin: `import:${entity}`,
  };
}

/** Upserts one chunk of checked rows in one transaction. */
export function importChanges(
  write: SqlClient,
  changes: readonly MasterDataRowChange[],
): Promise<AppliedChanges> {
  return write.transaction((tx) => applyMasterDataChanges(tx, changes));
}

// the fixed-width version of `operators/cdc/change.ts`: µs, order, sequence, sub-sequence
function importVersion(at: number, line: number): string {
  return `${(BigInt(at) * 1000n).toString().padStart(17, '0')}.${String(line).padStart(20, '0')}.${'0'.repeat(64)}.000000`;
}
