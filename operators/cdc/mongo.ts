/**
 * MongoDB change-stream documents forwarded as (extended) JSON: `operationType`, `ns` `{ db, coll }`,
 * `documentKey`, `fullDocument` (inserts, replaces, and updates with `updateLookup`),
 * `updateDescription` `{ updatedFields, removedFields }`, `clusterTime` (a BSON timestamp:
 * `{ $timestamp: { t, i } }` in extended JSON) and, from MongoDB 6, `wallTime`.
 */
import { asEpochMs, valueAt } from './mapping.ts';
import { CdcMappingError, type SourceChange } from './sourceChange.ts';

/** Whether a parsed JSON document looks like a change-stream document. */
export function isMongoChange(doc: Record<string, unknown>): boolean {
  return typeof doc.operationType === 'string';
}

function clusterTimeOf(value: unknown): { t: number; i: number } {
  const inner =
    typeof value === 'object' && value !== null && '$timestamp' in value
      ? (value as { $timestamp: unknown }).$timestamp
      : value;
  const ts = inner as { t?: unknown; i?: unknown } | null;
  if (typeof ts?.t !== 'number' || typeof ts.i !== 'number')
    throw new CdcMappingError('clusterTime is missing or not a timestamp { t, i }');
  return { t: ts.t, i: ts.i };
}

/** The value a patch sets at `path`: the path itself, or inside an updated parent (`address` for `address.site`). */
function patchValue(updated: Record<string, unknown>, path: string): { hit: boolean; value: unknown } {
  if (path in updated) return { hit: true, value: updated[path] };
  const parts = path.split('.');
  for (let n = parts.length - 1; n > 0; n--) {
    const parent = parts.slice(0, n).join('.');
    if (parent in updated) return { hit: true, value: valueAt(updated[parent], parts.slice(n).join('.')) };
  }
  return { hit: false, value: undefined };
}

/** Parses one change-stream document. */
export function parseMongoChange(doc: Record<string, unknown>): SourceChange {
  const ns = (doc.ns ?? {}) as { db?: string; coll?: string };
  const origin = `mongo:${ns.db ?? ''}.${ns.coll ?? ''}`;
  const { t, i } = clusterTimeOf(doc.clusterTime);
  const micros = BigInt(t) * 1_000_000n;
  const at = asEpochMs(doc.wallTime) ?? t * 1000;
  const operationType = String(doc.operationType);
  const matches = (s: { kind: string; db?: string; collection?: string }) =>
    s.kind === 'mongo' && s.collection === ns.coll && (s.db === undefined || s.db === ns.db);
  const documentKey = (doc.documentKey ?? {}) as Record<string, unknown>;
  const full = doc.fullDocument;
  const base = { kind: 'row' as const, origin, matches, micros, order: BigInt(i), at };
  const keyFrom = (source: unknown) => (path: string) => valueAt(documentKey, path) ?? valueAt(source, path);

  if (
    operationType === 'insert' ||
    operationType === 'replace' ||
    (operationType === 'update' && typeof full === 'object' && full !== null)
  ) {
    if (typeof full !== 'object' || full === null)
      throw new CdcMappingError(`${origin}: ${operationType} without fullDocument`);
    return {
      ...base,
      op: 'upsert',
      value: (p) => valueAt(full, p),
      touched: () => true,
      keyValue: keyFrom(full),
    };
  }
  if (operationType === 'update') {
    const description = (doc.updateDescription ?? {}) as { updatedFields?: unknown; removedFields?: unknown };
    const updated = (description.updatedFields ?? {}) as Record<string, unknown>;
    const removed = Array.isArray(description.removedFields) ? (description.removedFields as string[]) : [];
    const isRemoved = (p: string) => removed.some((r) => p === r || p.startsWith(`${r}.`));
    return {
      ...base,
      op: 'patch',
      value: (p) => (isRemoved(p) ? null : patchValue(updated, p).value),
      touched: (p) => isRemoved(p) || patchValue(updated, p).hit,
      keyValue: keyFrom(undefined),
    };
  }
  if (operationType === 'delete')
    return {
      ...base,
      op: 'delete',
      value: () => undefined,
      touched: () => true,
      keyValue: keyFrom(undefined),
    };
  // drop, rename, dropDatabase, invalidate and the DDL events of newer servers
  return {
    kind: 'control',
    origin,
    operation: operationType,
    micros,
    order: BigInt(i),
    at,
    detail: JSON.stringify({ operationType, ns: doc.ns }),
  };
}
