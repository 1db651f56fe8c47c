/**
 * What the Cold tests read back from a table and the sink itself never reads: the chain of snapshots
 * behind the current one, and column bounds decoded from Iceberg's single-value binary form (the
 * inverse of `encodeBound` in `sinks/cold/parquet/bounds.ts`).
 */
import { currentSnapshot } from '../../sinks/cold/iceberg/metadata.ts';
import type { SnapshotJson, TableMetadata } from '../../sinks/cold/iceberg/types.ts';
import type { BoundValue } from '../../sinks/cold/parquet/bounds.ts';
import type { ColdType } from '../../sinks/cold/parquet/types.ts';

const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Snapshots from the current one back through its parents (newest first). */
export function ancestry(meta: TableMetadata): SnapshotJson[] {
  const byId = new Map(meta.snapshots.map((s) => [s['snapshot-id'], s]));
  const out: SnapshotJson[] = [];
  let s = currentSnapshot(meta);
  while (s) {
    out.push(s);
    const parent = s['parent-snapshot-id'];
    s = parent === undefined ? undefined : byId.get(parent);
  }
  return out;
}

/** Decodes Iceberg's single-value binary form: `long`/`timestamptz` give bigint (µs for timestamps). */
export function decodeBound(type: ColdType, bytes: Uint8Array): BoundValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (type) {
    case 'string':
      return utf8Decoder.decode(bytes);
    case 'boolean':
      return bytes[0] !== 0;
    case 'int':
    case 'date':
      return view.getInt32(0, true);
    case 'long':
    case 'timestamptz':
      return view.getBigInt64(0, true);
    case 'double':
      return view.getFloat64(0, true);
  }
}
