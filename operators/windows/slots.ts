/**
 * What the window operator keeps in keyed state: *slots*, each holding the statistics of its metrics
 * (one column of `STATS_STRIDE` slots per metric, the layout of `topology/metricStats.ts`) in a
 * `Float64Array`, and the binary codec that snapshots them.
 *
 * - Device windows: *panes* (`panes.ts`), a slot per device and pane: the span of event time that one
 *   window of every device size holds (the 1 h window, in every zone but one whose offset changes by
 *   half an hour). The device's 1 h, 6 h and 1 day windows are merged from their panes when emitted, so
 *   a record updates one slot. The open panes of a partition key are the value state `devices` (a
 *   hub's key holds its child devices' too); a pane moves to a field of the map state `closed` once the
 *   final of its smallest window went out.
 * - Product and customer × product windows: the published map state `partials`, one field per window
 *   and row (see `keys.ts`), each a slot: this shard's part of a window that spans shards.
 *
 * A slot's `flags` say what was emitted. A partial: `FINAL` once its final went out, with `emitted` the
 * record count that final held (a later record makes it due again). A pane: bit `sizeBit(size)` once
 * the final of its window of that size holds all its records (a record clears them all); its
 * `emitted` is unused. Whether a running value is due is kept in memory only: a restored shard emits
 * its open windows' running values again.
 */
import {
  clearStats,
  mergeSlots,
  STATS_STRIDE,
  type StateCodec,
  type WindowSize,
} from '../../topology/index.ts';
import type { ColumnLists } from './rows.ts';

/** A partial's final went out (with `emitted` records). */
export const FINAL = 1;

const SIZES: readonly WindowSize[] = ['1h', '6h', '1d'];
const SIZE_INDEX: Readonly<Record<WindowSize, number>> = { '1h': 0, '6h': 1, '1d': 2 };

/** A pane's flag: the final of its window of `size` holds all its records. */
export function sizeBit(size: WindowSize): number {
  return 1 << SIZE_INDEX[size];
}

/** Floats per chunk the long-lived slots' statistics are cut from (128 KiB). */
const CHUNK_FLOATS = 16 * 1024;
let chunk = new Float64Array(0);
let chunkUsed = 0;

/**
 * Room for a kept slot's statistics: a view of a shared chunk rather than a buffer of its own, which
 * costs far more to allocate and to collect than the bytes it holds. A chunk lives as long as any
 * slot cut from it; slots are cut and expire in about the order of their windows, so chunks empty out.
 */
function statsArray(n: number): Float64Array {
  if (n > CHUNK_FLOATS / 8) return new Float64Array(n);
  if (chunkUsed + n > chunk.length) {
    chunk = new Float64Array(CHUNK_FLOATS);
    chunkUsed = 0;
  }
  const data = chunk.subarray(chunkUsed, chunkUsed + n);
  chunkUsed += n;
  return data;
}

/** One window of one key: its statistics by metric. */
export interface Slot {
  /** Product and device (device windows); `''` in a partial, whose field names its row. */
  readonly product: string;
  readonly device: string;
  readonly size: WindowSize;
  readonly start: number;
  readonly end: number;
  /** Metric names (an interned list of `ColumnLists`), column `c` at `STATS_STRIDE * c`. */
  columns: readonly string[];
  data: Float64Array;
  /** Records applied to the slot. */
  records: number;
  /** Records the last final held. */
  emitted: number;
  flags: number;
}

/** A new, empty slot for `columns`; `kept`: it goes into the state (cut from a shared chunk). */
export function newSlot(
  product: string,
  device: string,
  size: WindowSize,
  start: number,
  end: number,
  columns: readonly string[],
  kept = true,
): Slot {
  const n = STATS_STRIDE * columns.length;
  const data = kept ? statsArray(n) : new Float64Array(n);
  for (let c = 0; c < columns.length; c++) clearStats(data, STATS_STRIDE * c);
  return { product, device, size, start, end, columns, data, records: 0, emitted: 0, flags: 0 };
}

/**
 * Room for slots that die together (the merges of one emission), cut from buffers they share rather
 * than a buffer each: `expected` slots are made room for at once.
 */
export class SlotRoom {
  private chunk = new Float64Array(0);
  private used = 0;

  constructor(private expected: number) {}

  /** A new, empty slot (as {@link newSlot}) with no product or device. */
  slot(size: WindowSize, start: number, end: number, columns: readonly string[]): Slot {
    const n = STATS_STRIDE * columns.length;
    if (this.used + n > this.chunk.length) {
      this.chunk = new Float64Array(Math.max(n, Math.min(this.expected * n, CHUNK_FLOATS)));
      this.used = 0;
    }
    this.expected--;
    const data = this.chunk.subarray(this.used, this.used + n);
    this.used += n;
    for (let c = 0; c < columns.length; c++) clearStats(data, STATS_STRIDE * c);
    return { product: '', device: '', size, start, end, columns, data, records: 0, emitted: 0, flags: 0 };
  }
}

/**
 * Empties a slot for reuse with `columns`: statistics and counts as {@link newSlot} makes them, in its
 * own buffer when that has the size (a slot that only passes values on, never kept).
 */
export function emptySlot(slot: Slot, columns: readonly string[]): void {
  const n = STATS_STRIDE * columns.length;
  if (slot.data.length !== n) slot.data = new Float64Array(n);
  for (let c = 0; c < columns.length; c++) clearStats(slot.data, STATS_STRIDE * c);
  slot.columns = columns;
  slot.records = 0;
  slot.emitted = 0;
  slot.flags = 0;
}

/** The column of `metric` in the slot, added (empty) when the slot has none yet. */
export function columnOf(slot: Slot, metric: string, hint: number, lists: ColumnLists): number {
  const columns = slot.columns;
  if (columns[hint] === metric) return hint;
  const found = columns.indexOf(metric);
  if (found >= 0) return found;
  const c = columns.length;
  const data = statsArray(STATS_STRIDE * (c + 1));
  data.set(slot.data);
  clearStats(data, STATS_STRIDE * c);
  slot.data = data;
  slot.columns = lists.of([...columns, metric]);
  return c;
}

/** Merges `part`'s statistics and record count into `into` (columns matched by metric name). */
export function mergeSlot(into: Slot, part: Slot, lists: ColumnLists): void {
  for (let c = 0; c < part.columns.length; c++) {
    const column = columnOf(into, part.columns[c]!, c, lists);
    mergeSlots(into.data, STATS_STRIDE * column, part.data, STATS_STRIDE * c);
  }
  into.records += part.records;
}

// ---------------------------------------------------------------------------------------------
// The codec: [u32 slots] then per slot [u8 size][u8 flags][f64 start][f64 end][f64 records]
// [f64 emitted][str product][str device][str columns joined by US][f64 × STATS_STRIDE × columns],
// little-endian, a str being [u16 bytes][UTF-8].

const US = '\x1f';
const SLAB_BYTES = 256 * 1024;
const encoder = new TextEncoder();
// ignoreBOM: a name that begins with U+FEFF comes back whole
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * Encodes into shared slabs: one allocation per slab rather than one per entry (a capture's entries
 * live until its snapshot is written, and the slab with them).
 */
class Slab {
  private bytes = new Uint8Array(0);
  private view = new DataView(this.bytes.buffer);
  private used = 0;

  /** Room for `most` bytes; returns the offset to write at. */
  reserve(most: number): number {
    if (this.bytes.length - this.used < most) {
      // uninitialised: only the bytes written are ever handed out
      this.bytes = new Uint8Array(Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, most)).buffer);
      this.view = new DataView(this.bytes.buffer);
      this.used = 0;
    }
    return this.used;
  }

  write(slots: readonly Slot[], headers: WeakMap<readonly string[], Uint8Array>): Uint8Array {
    let most = 4;
    for (const s of slots)
      most +=
        36 +
        6 +
        3 * (s.product.length + s.device.length) +
        headerOf(s.columns, headers).length +
        8 * s.data.length;
    const start = this.reserve(most);
    const bytes = this.bytes;
    const view = this.view;
    let at = start;
    view.setUint32(at, slots.length, true);
    at += 4;
    for (const s of slots) {
      view.setUint8(at, SIZE_INDEX[s.size]);
      view.setUint8(at + 1, s.flags);
      view.setFloat64(at + 2, s.start, true);
      view.setFloat64(at + 10, s.end, true);
      view.setFloat64(at + 18, s.records, true);
      view.setFloat64(at + 26, s.emitted, true);
      at += 34;
      at = writeText(bytes, view, at, s.product);
      at = writeText(bytes, view, at, s.device);
      const header = headerOf(s.columns, headers);
      bytes.set(header, at);
      at += header.length;
      bytes.set(new Uint8Array(s.data.buffer, s.data.byteOffset, 8 * STATS_STRIDE * s.columns.length), at);
      at += 8 * STATS_STRIDE * s.columns.length;
    }
    this.used = at;
    return bytes.subarray(start, at);
  }
}

function writeText(bytes: Uint8Array, view: DataView, at: number, text: string): number {
  // ASCII (ids mostly are) byte by byte: no view of the slab per name
  const n = text.length;
  let ascii = true;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) {
      ascii = false;
      break;
    }
    bytes[at + 2 + i] = c;
  }
  if (ascii) {
    view.setUint16(at, n, true);
    return at + 2 + n;
  }
  const written = encoder.encodeInto(text, bytes.subarray(at + 2)).written;
  view.setUint16(at, written, true);
  return at + 2 + written;
}

/** A column list's encoded form ([u16 bytes][names joined by US]), kept per interned list. */
function headerOf(columns: readonly string[], headers: WeakMap<readonly string[], Uint8Array>): Uint8Array {
  let header = headers.get(columns);
  if (header === undefined) {
    const text = encoder.encode(columns.join(US));
    header = new Uint8Array(2 + text.length);
    new DataView(header.buffer).setUint16(0, text.length, true);
    header.set(text, 2);
    headers.set(columns, header);
  }
  return header;
}

/** The codec of a state whose values are arrays of slots (column lists interned in `lists`). */
export function slotsCodec(lists: ColumnLists): StateCodec<Slot[]> {
  const slab = new Slab();
  const headers = new WeakMap<readonly string[], Uint8Array>();
  const texts = new Map<string, readonly string[]>();
  const columnsOf = (text: string): readonly string[] => {
    let columns = texts.get(text);
    if (columns === undefined) {
      if (texts.size > 10_000) texts.clear();
      columns = lists.of(text === '' ? [] : text.split(US));
      texts.set(text, columns);
    }
    return columns;
  };
  return {
    encode: (slots) => slab.write(slots, headers),
    decode(bytes) {
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const readText = (at: number): [string, number] => {
        const n = view.getUint16(at, true);
        return [n === 0 ? '' : decoder.decode(bytes.subarray(at + 2, at + 2 + n)), at + 2 + n];
      };
      const count = view.getUint32(0, true);
      const slots: Slot[] = [];
      let at = 4;
      for (let i = 0; i < count; i++) {
        const size = SIZES[view.getUint8(at)];
        if (size === undefined) throw new Error(`window state: unknown window size ${view.getUint8(at)}`);
        const flags = view.getUint8(at + 1);
        const start = view.getFloat64(at + 2, true);
        const end = view.getFloat64(at + 10, true);
        const records = view.getFloat64(at + 18, true);
        const emitted = view.getFloat64(at + 26, true);
        let product: string;
        let device: string;
        let columnText: string;
        [product, at] = readText(at + 34);
        [device, at] = readText(at);
        [columnText, at] = readText(at);
        const columns = columnsOf(columnText);
        const n = STATS_STRIDE * columns.length;
        const data = statsArray(n);
        new Uint8Array(data.buffer, data.byteOffset, 8 * n).set(bytes.subarray(at, at + 8 * n));
        at += 8 * n;
        slots.push({ product, device, size, start, end, columns, data, records, emitted, flags });
      }
      if (at !== bytes.length)
        throw new Error(`window state: ${bytes.length - at} bytes left after ${count} slots`);
      return slots;
    },
  };
}
