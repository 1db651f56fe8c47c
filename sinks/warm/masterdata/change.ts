/**
 * The master-data change the applier consumes. It has the shape of `MasterDataChange` in
 * `operators/cdc/change.ts` (the CDC decoder's output); sinks may not import operators, so the
 * shape is repeated here and TypeScript's structural typing connects the two in the CLI's wiring.
 */

/** An entity the applier writes. */
export type MasterDataEntity =
  | 'customer'
  | 'site'
  | 'product'
  | 'device'
  | 'device-assignment'
  | 'site-assignment';

/** A row change of one entity key (see `operators/cdc/change.ts`). */
export interface MasterDataRowChange {
  readonly kind: 'change';
  readonly entity: MasterDataEntity;
  readonly op: 'upsert' | 'patch' | 'delete';
  readonly key: string;
  readonly fields: Readonly<Record<string, string | null>>;
  /** Fixed-width ordering value, compared as text. */
  readonly version: string;
  readonly effectiveAt: number;
  readonly origin: string;
}

/** A control record: recorded, otherwise ignored. */
export interface MasterDataControl {
  readonly kind: 'control';
  readonly origin: string;
  readonly operation: string;
  readonly version: string;
  readonly at: number;
  readonly detail: string;
}

/** What the applier consumes. */
export type MasterDataChange = MasterDataRowChange | MasterDataControl;

/** A key's changes in version order, only those above `stored`; equal versions (a replay) are dropped. */
export function newerInOrder(changes: readonly MasterDataRowChange[], stored: string): MasterDataRowChange[] {
  const sorted = [...changes].sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
  const out: MasterDataRowChange[] = [];
  let last = stored;
  for (const c of sorted) {
    if (c.version <= last) continue;
    out.push(c);
    last = c.version;
  }
  return out;
}

/** Changes grouped by key, keeping each key's arrival order. */
export function byKey(changes: readonly MasterDataRowChange[]): Map<string, MasterDataRowChange[]> {
  const groups = new Map<string, MasterDataRowChange[]>();
  for (const c of changes) {
    const group = groups.get(c.key);
    if (group) group.push(c);
    else groups.set(c.key, [c]);
  }
  return groups;
}
