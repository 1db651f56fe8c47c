/**
 * A change as the source system states it, before mapping: one row or document, its operation, its
 * commit order and time. The DMS and Mongo parsers produce it; `mapChange` turns it into master-data
 * changes through the mapping config.
 */
import type { MasterDataChange, MasterDataRowChange } from './change.ts';
import { changeVersion } from './change.ts';
import { asEpochMs, asText, type CdcMapping } from './mapping.ts';

/** A parsed source row change. */
export interface SourceRowChange {
  readonly kind: 'row';
  /** e.g. `dms:crm.devices`, `mongo:iot.sites`. */
  readonly origin: string;
  readonly matches: (source: CdcMapping['source']) => boolean;
  readonly op: 'upsert' | 'patch' | 'delete';
  /** The row (upsert, delete) or, for a patch, the value a field path was set to. */
  readonly value: (path: string) => unknown;
  /** For a patch: whether the change touched the path. Always true otherwise. */
  readonly touched: (path: string) => boolean;
  /** Where the key is read (Mongo deletes carry only `documentKey`). */
  readonly keyValue: (path: string) => unknown;
  /** The key before the change, when the source gives a before-image (a primary-key update). */
  readonly previousKeyValue?: (path: string) => unknown;
  /** Commit time in microseconds and order within it. */
  readonly micros: bigint;
  readonly order: bigint;
  /** Commit time (epoch ms). */
  readonly at: number;
}

/** A parsed control record (DDL, task events). */
export interface SourceControl {
  readonly kind: 'control';
  readonly origin: string;
  readonly operation: string;
  readonly micros: bigint;
  readonly order: bigint;
  readonly at: number;
  readonly detail: string;
}

/** What a source parser gives back. */
export type SourceChange = SourceRowChange | SourceControl;

/** A source change that cannot be mapped (no key, say): the record goes to the dead letters. */
export class CdcMappingError extends Error {
  override readonly name = 'CdcMappingError';
}

/** The master-data changes a source change makes under `mappings`; empty when none maps it. */
export function mapChange(
  change: SourceChange,
  mappings: readonly CdcMapping[],
  sequenceNumber: string,
  subSequence: number,
): MasterDataChange[] {
  const version = changeVersion(change.micros, change.order, sequenceNumber, subSequence);
  if (change.kind === 'control')
    return [
      {
        kind: 'control',
        origin: change.origin,
        operation: change.operation,
        version,
        at: change.at,
        detail: change.detail,
      },
    ];
  const out: MasterDataChange[] = [];
  for (const mapping of mappings) {
    if (!change.matches(mapping.source)) continue;
    const keyPath = mapping.key ?? '_id';
    const key = asText(change.keyValue(keyPath));
    if (key === null) throw new CdcMappingError(`${change.origin}: no value for key "${keyPath}"`);
    const fields: Record<string, string | null> = {};
    let touchedAny = change.op !== 'patch';
    for (const [target, path] of Object.entries(mapping.fields)) {
      if (change.op === 'delete' || !change.touched(path)) continue;
      fields[target] = asText(change.value(path));
      touchedAny = true;
    }
    if (!touchedAny) continue;
    const validFrom =
      mapping.validFrom === undefined ? undefined : asEpochMs(change.value(mapping.validFrom));
    const base = { kind: 'change' as const, entity: mapping.entity, key, version, origin: change.origin };
    const effectiveAt = validFrom ?? change.at;
    const previous = change.previousKeyValue && asText(change.previousKeyValue(keyPath));
    if (previous !== undefined && previous !== null && previous !== key) {
      // a primary-key update: the old key is gone, the new one starts
      out.push({ ...base, key: previous, op: 'delete', fields: {}, effectiveAt });
    }
    const row: MasterDataRowChange = { ...base, op: change.op, fields, effectiveAt };
    out.push(row);
  }
  return out;
}
