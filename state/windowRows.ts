/**
 * The row form in which the Redis backend keeps window state: a field's *row* is its name up to and
 * including its last unit separator (`\x1f`; the window operator's fields are `key US metric`), the
 * rest is its *column*, so one row holds every metric of one key and a batch touches one hash field
 * per key instead of one per key × metric. A field without a separator is a column of row `''`.
 *
 * A row (little-endian): u16 header length, header (per column u16 name length, name), per column
 * its statistics as float64s (the layout of `topology/metricStats.ts`) and the stored revision, then
 * per column one flag byte (in the store: changed since the last flush; in an emission: claimed). The
 * Lua script in `windowScripts.ts` reads and writes the same form, built with these constants.
 */
import { type MetricStats, readStats, STATS_STRIDE, writeStats } from '../topology/index.ts';
import type { Emission, PartialRows } from './windowState.ts';

const SEPARATOR = '\x1f';
/** The stored revision's slot in a column of a row: after the statistics. */
export const REVISION_SLOT = STATS_STRIDE;
/** float64 slots of a column of a row: the statistics and the revision. */
export const STORED_SLOTS = STATS_STRIDE + 1;
/** Bytes of a column's float64 slots. */
export const STORED_BYTES = 8 * STORED_SLOTS;
/** Bytes per column after the header: its float64 slots and its flag. */
export const COLUMN_BYTES = STORED_BYTES + 1;

interface HeaderNode {
  readonly next: Map<string, HeaderNode>;
  header: Buffer | undefined;
}

// headers by column list: the rows of a batch mostly share one list of metrics
let headers: HeaderNode = { next: new Map(), header: undefined };
let headerCount = 0;

function headerOf(columns: readonly string[]): Buffer {
  let node = headers;
  for (const column of columns) {
    let next = node.next.get(column);
    if (next === undefined) {
      next = { next: new Map(), header: undefined };
      node.next.set(column, next);
    }
    node = next;
  }
  if (node.header === undefined) {
    if (++headerCount > 10_000) {
      headers = { next: new Map(), header: undefined };
      headerCount = 0;
    }
    let size = 2;
    for (const column of columns) size += 2 + Buffer.byteLength(column);
    if (size > 0xffff) throw new Error(`window state row has too many metrics (${columns.length})`);
    const header = Buffer.allocUnsafe(size);
    header.writeUInt16LE(size - 2, 0);
    let at = 2;
    for (const column of columns) {
      const length = header.write(column, at + 2);
      header.writeUInt16LE(length, at);
      at += 2 + length;
    }
    node.header = header;
  }
  return node.header;
}

/** A field's row and column. */
export function splitField(field: string): { readonly row: string; readonly column: string } {
  const cut = field.lastIndexOf(SEPARATOR) + 1;
  return { row: field.slice(0, cut), column: field.slice(cut) };
}

// headers by column list object: a caller that keeps rows shares one list among rows of the same metrics
const listHeaders = new WeakMap<readonly string[], Buffer>();

function listHeader(columns: readonly string[]): Buffer {
  let header = listHeaders.get(columns);
  if (header === undefined) {
    header = headerOf(columns);
    listHeaders.set(columns, header);
  }
  return header;
}

const LITTLE_ENDIAN = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f;
// a row's stored statistics are assembled here, then copied into the blob in one go
let scratch = new Float64Array(STORED_SLOTS * 64);
let scratchBytes = Buffer.from(scratch.buffer);

/** Packs a bucket's partials kept by row (see {@link packRows}), building no per-field string or object. */
export function packPartialRows(rows: PartialRows): Buffer {
  const headerList: Buffer[] = [];
  let bound = 0;
  for (const [name, row] of rows.byRow) {
    const header = listHeader(row.columns);
    headerList.push(header);
    bound += 6 + 3 * name.length + header.length + COLUMN_BYTES * row.columns.length;
  }
  const blob = Buffer.allocUnsafeSlow(bound);
  const d = rows.data;
  let at = 0;
  let r = 0;
  for (const [name, row] of rows.byRow) {
    const header = headerList[r++]!;
    const nameLength = name === '' ? 0 : blob.write(name, at + 2);
    blob.writeUInt16LE(nameLength, at);
    at += 2 + nameLength;
    const n = row.columns.length;
    blob.writeUInt32LE(header.length + COLUMN_BYTES * n, at);
    at += 4;
    header.copy(blob, at);
    at += header.length;
    if (scratch.length < STORED_SLOTS * n) {
      scratch = new Float64Array(2 * STORED_SLOTS * n);
      scratchBytes = Buffer.from(scratch.buffer);
    }
    for (let c = 0; c < n; c++) {
      const from = row.at + STATS_STRIDE * c;
      const to = STORED_SLOTS * c;
      for (let k = 0; k < STATS_STRIDE; k++) scratch[to + k] = d[from + k]!;
      scratch[to + REVISION_SLOT] = 0;
    }
    if (LITTLE_ENDIAN) scratchBytes.copy(blob, at, 0, STORED_BYTES * n);
    else for (let k = 0; k < STORED_SLOTS * n; k++) blob.writeDoubleLE(scratch[k]!, at + 8 * k);
    at += STORED_BYTES * n;
    for (let c = 0; c < n; c++) blob[at + c] = 1;
    at += n;
  }
  return blob.subarray(0, at);
}

/** Groups fields by row into the {@link PartialRows} form. */
export function rowsOf(fields: ReadonlyMap<string, MetricStats>): PartialRows {
  const byRow = new Map<string, { columns: string[]; at: number }>();
  const grouped = new Map<string, MetricStats[]>();
  for (const [field, stats] of fields) {
    const cut = field.lastIndexOf(SEPARATOR) + 1;
    const name = cut === 0 ? '' : field.slice(0, cut);
    let row = byRow.get(name);
    if (row === undefined) {
      row = { columns: [], at: 0 };
      byRow.set(name, row);
      grouped.set(name, []);
    }
    row.columns.push(cut === 0 ? field : field.slice(cut));
    grouped.get(name)!.push(stats);
  }
  const data = new Float64Array(STATS_STRIDE * fields.size);
  let at = 0;
  for (const [name, row] of byRow) {
    row.at = at;
    for (const s of grouped.get(name)!) {
      writeStats(data, at, s);
      at += STATS_STRIDE;
    }
  }
  return { byRow, data };
}

/**
 * Packs a bucket's partials as rows: per row u16 name length, name, u32 row length, row (revision 0
 * and every flag set, so the script stores a row new to its bucket as sent).
 */
export function packRows(fields: ReadonlyMap<string, MetricStats>): Buffer {
  return packPartialRows(rowsOf(fields));
}

// column names by header bytes (as latin1 text): emissions repeat a few headers many times
let columnCache = new Map<string, readonly string[]>();

function columnsOf(blob: Buffer, start: number, end: number): readonly string[] {
  const key = blob.toString('latin1', start, end);
  let columns = columnCache.get(key);
  if (columns === undefined) {
    const list: string[] = [];
    for (let at = start; at < end; ) {
      const length = blob.readUInt16LE(at);
      list.push(blob.toString('utf8', at + 2, at + 2 + length));
      at += 2 + length;
    }
    if (columnCache.size > 10_000) columnCache = new Map();
    columns = list;
    columnCache.set(key, columns);
  }
  return columns;
}

// a column's statistics, copied out of a row's bytes (at any alignment) to be read
const oneColumn = new Float64Array(STATS_STRIDE);

function statsAt(view: DataView, at: number): MetricStats {
  for (let k = 0; k < STATS_STRIDE; k++) oneColumn[k] = view.getFloat64(at + 8 * k, true);
  return readStats(oneColumn, 0);
}

/** One column of a stored row, if the row has it. */
export function readColumn(
  row: Buffer,
  column: string,
): { readonly stats: MetricStats; readonly revision: number } | undefined {
  const h = row.readUInt16LE(0);
  const i = columnsOf(row, 2, 2 + h).indexOf(column);
  if (i < 0) return undefined;
  const view = new DataView(row.buffer, row.byteOffset, row.byteLength);
  const at = 2 + h + STORED_BYTES * i;
  return { stats: statsAt(view, at), revision: view.getFloat64(at + 8 * REVISION_SLOT, true) };
}

/**
 * Reads the reply's emission blob (per bucket: name, end, final flag, every-column flag, rows; see
 * `windowScripts.ts`): every column of a bucket turning final, otherwise the flagged ones.
 */
export function readEmissions(blob: Buffer): Emission[] {
  const out: Emission[] = [];
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  let at = 0;
  while (at < blob.length) {
    const bucketLength = view.getUint16(at, true);
    const bucket = blob.toString('utf8', at + 2, at + 2 + bucketLength);
    at += 2 + bucketLength;
    const windowEnd = view.getFloat64(at, true);
    const final = blob[at + 8] === 1;
    const every = blob[at + 9] === 1;
    const rows = view.getUint32(at + 10, true);
    at += 14;
    // a final bucket's turning final is the +1 the script does not write to each column
    const plus = final ? 1 : 0;
    for (let r = 0; r < rows; r++) {
      const nameLength = view.getUint16(at, true);
      const name = nameLength === 0 ? '' : blob.toString('utf8', at + 2, at + 2 + nameLength);
      at += 2 + nameLength;
      const rowLength = view.getUint32(at, true);
      const row = at + 4;
      at = row + rowLength;
      const h = view.getUint16(row, true);
      const columns = columnsOf(blob, row + 2, row + 2 + h);
      const n = columns.length;
      const stats = row + 2 + h;
      const flags = stats + STORED_BYTES * n;
      for (let i = 0; i < n; i++) {
        if (!every && blob[flags + i] !== 1) continue;
        const s = stats + STORED_BYTES * i;
        out.push({
          bucket,
          windowEnd,
          field: name + columns[i]!,
          stats: statsAt(view, s),
          revision: view.getFloat64(s + 8 * REVISION_SLOT, true) + plus,
          final,
        });
      }
    }
  }
  return out;
}
