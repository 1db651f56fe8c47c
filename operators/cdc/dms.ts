/**
 * AWS DMS records on a Kinesis target (JSON message format): `{ data, metadata, before-image? }`.
 * `metadata` holds `record-type` (`data` | `control`), `operation` (`load` | `insert` | `update` |
 * `delete`, or a DDL/control operation), `schema-name`, `table-name`, `timestamp` (microsecond ISO
 * text) and, with IncludeTransactionDetails, `transaction-id`, `commit-timestamp` and
 * `transaction-record-id`. A delete's `data` holds the deleted row. Null columns may be absent
 * (IncludeNullAndEmpty off), so a missing column reads as null.
 */
import { CdcMappingError, type SourceChange } from './sourceChange.ts';

/** Whether a parsed JSON document looks like a DMS record. */
export function isDmsRecord(doc: Record<string, unknown>): boolean {
  return typeof doc.metadata === 'object' && doc.metadata !== null && 'record-type' in doc.metadata;
}

/** Microseconds since the epoch of a DMS timestamp (`2024-05-01T10:00:00.123456Z`). */
export function dmsMicros(text: string): bigint {
  const match = /^(.*?:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)?$/.exec(text.trim().replace(' ', 'T'));
  const seconds = match ? Date.parse(`${match[1]}${match[3] ?? 'Z'}`) : Number.NaN;
  if (!match || Number.isNaN(seconds)) throw new CdcMappingError(`unreadable DMS timestamp "${text}"`);
  const fraction = (match[2] ?? '').padEnd(6, '0').slice(0, 6);
  return BigInt(seconds) * 1000n + BigInt(fraction);
}

const DATA_OPERATIONS = { load: 'upsert', insert: 'upsert', update: 'upsert', delete: 'delete' } as const;

/** Parses one DMS record. */
export function parseDmsRecord(doc: Record<string, unknown>): SourceChange {
  const metadata = doc.metadata as Record<string, unknown>;
  const schema = String(metadata['schema-name'] ?? '');
  const table = String(metadata['table-name'] ?? '');
  const origin = `dms:${schema}.${table}`;
  const stamp = metadata['commit-timestamp'] ?? metadata.timestamp;
  if (typeof stamp !== 'string') throw new CdcMappingError(`${origin}: metadata.timestamp is missing`);
  const micros = dmsMicros(stamp);
  const at = Number(micros / 1000n);
  const recordId = metadata['transaction-record-id'];
  const order = typeof recordId === 'number' || typeof recordId === 'string' ? BigInt(recordId) : 0n;
  const operation = String(metadata.operation ?? '');
  if (metadata['record-type'] === 'control')
    return { kind: 'control', origin, operation, micros, order, at, detail: JSON.stringify(metadata) };
  const op = DATA_OPERATIONS[operation as keyof typeof DATA_OPERATIONS];
  if (op === undefined) throw new CdcMappingError(`${origin}: unknown DMS operation "${operation}"`);
  const data = doc.data;
  if (typeof data !== 'object' || data === null) throw new CdcMappingError(`${origin}: no data`);
  const row = data as Record<string, unknown>;
  const before = doc['before-image'];
  return {
    kind: 'row',
    origin,
    matches: (s) => s.kind === 'dms' && s.schema === schema && s.table === table,
    op,
    value: (column) => row[column],
    touched: () => true,
    keyValue: (column) => row[column],
    ...(typeof before === 'object' && before !== null && operation === 'update'
      ? { previousKeyValue: (column: string) => (before as Record<string, unknown>)[column] }
      : {}),
    micros,
    order,
    at,
  };
}
