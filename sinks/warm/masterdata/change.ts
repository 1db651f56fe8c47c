/**
 * Ordering helpers of the master-data changes the applier consumes (`MasterDataChange`, a record
 * type of `topology/`).
 */
import type { MasterDataRowChange } from '../../../topology/index.ts';

export type {
  MasterDataChange,
  MasterDataControl,
  MasterDataEntity,
  MasterDataRowChange,
} from '../../../topology/index.ts';

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
