/**
 * The rows of the Cold telemetry table (`telemetryTable.ts`) collected for one commit: column by
 * column as they arrive (`TelemetryBuffer`), by partition (`PartitionedTelemetry`).
 */
import { comparePositions, type Enriched, type Position } from '../../../topology/index.ts';
import type { ColumnarRows, ColumnValues } from '../parquet/types.ts';
import { fits, grown, type MetricColumnBuffer, metricColumnBuffer, StringCodes } from './growingColumns.ts';
import { dayOf } from './partition.ts';
import { FIRST_METRIC_ID } from './telemetryTable.ts';
import type { ColdType, SchemaJson } from './types.ts';

/**
 * Joined telemetry collected column by column as it arrives, for the data files of one commit: each
 * string column as codes into its distinct values (devices, sites, shards repeat), times and numbers
 * in typed arrays, metrics without a column of their own as map entries (names coded, numbers kept
 * as numbers and written as text by the encoder). A record's objects are garbage as soon as it is
 * appended: a minute of telemetry held for a commit is a few dozen arrays rather than hundreds of
 * thousands of objects for the garbage collector to trace, and a file's columns go to the encoding
 * thread as copies of arrays rather than as a clone of every row.
 */
export class TelemetryBuffer {
  #length = 0;
  #capacity: number;
  readonly #deviceId: StringCodes;
  readonly #productId: StringCodes;
  readonly #hubId: StringCodes;
  readonly #childId: StringCodes;
  readonly #siteId: StringCodes;
  readonly #customerId: StringCodes;
  readonly #stream: StringCodes;
  readonly #shardId: StringCodes;
  readonly #sequence: StringCodes;
  readonly #specId: StringCodes;
  #deviceTs: Float64Array;
  #ingestTs: Float64Array;
  #subSequence: Int32Array;
  #specVersion: Int32Array;
  #specVersionPresent: Uint8Array;
  // metrics map: row i's entries are #offsets[i] to #offsets[i + 1]; a row without entries is null
  #offsets: Int32Array;
  #entries = 0;
  readonly #keys: StringCodes;
  #numbers: Float64Array;
  /** Entries whose value is not a number, as the text written. */
  readonly #text = new Map<number, string>();
  readonly #metrics: readonly MetricColumnBuffer[];
  readonly #byName: ReadonlyMap<string, MetricColumnBuffer>;
  readonly #schema: SchemaJson;

  /** `capacity`: rows to make room for at first (the arrays double as rows come). */
  constructor(schema: SchemaJson, capacity = 256) {
    this.#schema = schema;
    const n = Math.max(1, capacity);
    this.#capacity = n;
    const strings = () => new StringCodes(n);
    this.#deviceId = strings();
    this.#productId = strings();
    this.#hubId = strings();
    this.#childId = strings();
    this.#siteId = strings();
    this.#customerId = strings();
    this.#stream = strings();
    this.#shardId = strings();
    this.#sequence = strings();
    this.#specId = strings();
    this.#deviceTs = new Float64Array(n);
    this.#ingestTs = new Float64Array(n);
    this.#subSequence = new Int32Array(n);
    this.#specVersion = new Int32Array(n);
    this.#specVersionPresent = new Uint8Array(n);
    this.#offsets = new Int32Array(n + 1);
    this.#keys = new StringCodes(4 * n);
    this.#numbers = new Float64Array(4 * n);
    this.#metrics = schema.fields
      .filter((f) => f.id >= FIRST_METRIC_ID && typeof f.type === 'string')
      .map((f) => metricColumnBuffer(f.name, f.type as ColdType, n));
    this.#byName = new Map(this.#metrics.map((m) => [m.name, m]));
  }

  /** Rows appended. */
  get length(): number {
    return this.#length;
  }

  /** Appends one record as a row. */
  append(r: Enriched): void {
    const i = this.#row();
    const ref = r.rawRef;
    this.#deviceId.set(i, r.device_id);
    this.#deviceTs[i] = r.device_timestamp;
    this.#productId.set(i, r.productId);
    this.#hubId.set(i, r.hub_id);
    this.#childId.set(i, r.childDeviceId);
    this.#siteId.set(i, r.site_id);
    this.#customerId.set(i, r.customer_id);
    this.#ingestTs[i] = r.ingest_timestamp;
    this.#stream.set(i, ref.stream);
    this.#shardId.set(i, ref.shardId);
    this.#sequence.set(i, ref.sequenceNumber);
    this.#subSequence[i] = ref.subSequenceNumber ?? 0;
    this.#specId.set(i, ref.specId);
    this.#setSpecVersion(i, ref.specVersion);
    const metrics = r.metrics;
    for (const name in metrics) {
      const v = metrics[name];
      if (v === null || v === undefined) continue;
      const column = this.#byName.get(name);
      if (column !== undefined && fits(column.type, v)) column.set(i, v);
      else this.#entry(name, v);
    }
    this.#offsets[i + 1] = this.#entries;
  }

  /** The shard of row `i`. */
  shardAt(i: number): string {
    return this.#shardId.value(i)!;
  }

  /** The stream position of row `i`. */
  positionAt(i: number): Position {
    return { sequenceNumber: this.#sequence.value(i)!, subSequenceNumber: this.#subSequence[i]! };
  }

  /** A buffer of the rows `keep` accepts (this one when it accepts all). */
  filter(keep: (shard: string, position: Position) => boolean): TelemetryBuffer {
    const kept: number[] = [];
    for (let i = 0; i < this.#length; i++) if (keep(this.shardAt(i), this.positionAt(i))) kept.push(i);
    if (kept.length === this.#length) return this;
    const out = new TelemetryBuffer(this.#schema, kept.length + 1);
    for (const i of kept) out.#copyRow(this, i);
    return out;
  }

  /** Appends every row of `other` (a buffer of the same schema). */
  appendAll(other: TelemetryBuffer): void {
    for (let i = 0; i < other.#length; i++) this.#copyRow(other, i);
  }

  /** Rows `from` to `to` as the Parquet writer's columns (copies: the buffer may change after). */
  columns(from = 0, to = this.#length): ColumnarRows {
    const n = to - from;
    const base = this.#offsets[from]!;
    const end = this.#offsets[to]!;
    const offsets = new Int32Array(n + 1);
    const present = new Uint8Array(n);
    for (let i = 0; i <= n; i++) offsets[i] = this.#offsets[from + i]! - base;
    for (let i = 0; i < n; i++) present[i] = offsets[i + 1]! > offsets[i]! ? 1 : 0;
    let text: Map<number, string> | undefined;
    for (const [e, value] of this.#text) {
      if (e < base || e >= end) continue;
      text ??= new Map();
      text.set(e - base, value);
    }
    const specVersion = {
      values: this.#specVersion.slice(from, to),
      present: this.#specVersionPresent.slice(from, to),
    };
    const columns = new Map<number, ColumnValues>([
      [1, this.#deviceId.slice(from, to)],
      [2, { values: this.#deviceTs.slice(from, to) }],
      [3, this.#productId.slice(from, to)],
      [4, this.#hubId.slice(from, to)],
      [5, this.#childId.slice(from, to)],
      [6, this.#siteId.slice(from, to)],
      [7, this.#customerId.slice(from, to)],
      [8, { values: this.#ingestTs.slice(from, to) }],
      [9, this.#stream.slice(from, to)],
      [10, this.#shardId.slice(from, to)],
      [11, this.#sequence.slice(from, to)],
      [12, { values: this.#subSequence.slice(from, to) }],
      [13, this.#specId.slice(from, to)],
      [14, specVersion],
      [
        15,
        {
          kind: 'map-entries',
          offsets,
          present,
          keys: {
            kind: 'dictionary',
            codes: this.#keys.codes.slice(base, end),
            dictionary: this.#keys.dictionary,
          },
          values: { kind: 'number-text', numbers: this.#numbers.slice(base, end), text },
        },
      ],
    ]);
    const ids = new Map(this.#schema.fields.map((f) => [f.name, f.id]));
    for (const m of this.#metrics) columns.set(ids.get(m.name)!, m.slice(from, to));
    return { length: n, columns };
  }

  #row(): number {
    const i = this.#length++;
    if (this.#length >= this.#capacity) {
      const n = this.#capacity * 2;
      this.#capacity = n;
      for (const s of [this.#deviceId, this.#productId, this.#hubId, this.#childId, this.#siteId]) s.grow(n);
      for (const s of [this.#customerId, this.#stream, this.#shardId, this.#sequence, this.#specId])
        s.grow(n);
      this.#deviceTs = grown(this.#deviceTs, n);
      this.#ingestTs = grown(this.#ingestTs, n);
      this.#subSequence = grown(this.#subSequence, n);
      this.#specVersion = grown(this.#specVersion, n);
      this.#specVersionPresent = grown(this.#specVersionPresent, n);
      this.#offsets = grown(this.#offsets, n + 1);
      for (const m of this.#metrics) m.grow(n);
    }
    return i;
  }

  #setSpecVersion(i: number, version: number | null | undefined): void {
    if (version === null || version === undefined) return;
    this.#specVersion[i] = version;
    this.#specVersionPresent[i] = 1;
  }

  #entry(name: string, value: unknown): void {
    const e = this.#entries++;
    if (this.#entries > this.#numbers.length) {
      const n = this.#numbers.length * 2;
      this.#numbers = grown(this.#numbers, n);
      this.#keys.grow(n);
    }
    this.#keys.set(e, name);
    if (typeof value === 'number') this.#numbers[e] = value;
    else this.#text.set(e, String(value));
  }

  #copyRow(from: TelemetryBuffer, j: number): void {
    const i = this.#row();
    this.#deviceId.set(i, from.#deviceId.value(j));
    this.#deviceTs[i] = from.#deviceTs[j]!;
    this.#productId.set(i, from.#productId.value(j));
    this.#hubId.set(i, from.#hubId.value(j));
    this.#childId.set(i, from.#childId.value(j));
    this.#siteId.set(i, from.#siteId.value(j));
    this.#customerId.set(i, from.#customerId.value(j));
    this.#ingestTs[i] = from.#ingestTs[j]!;
    this.#stream.set(i, from.#stream.value(j));
    this.#shardId.set(i, from.#shardId.value(j));
    this.#sequence.set(i, from.#sequence.value(j));
    this.#subSequence[i] = from.#subSequence[j]!;
    this.#specId.set(i, from.#specId.value(j));
    if (from.#specVersionPresent[j] === 1) this.#setSpecVersion(i, from.#specVersion[j]);
    for (let k = 0; k < this.#metrics.length; k++) {
      const value = from.#metrics[k]!.get(j);
      if (value !== null) this.#metrics[k]!.set(i, value);
    }
    for (let e = from.#offsets[j]!; e < from.#offsets[j + 1]!; e++)
      this.#entry(from.#keys.value(e)!, from.#text.get(e) ?? from.#numbers[e]);
    this.#offsets[i + 1] = this.#entries;
  }
}

/** One partition of {@link PartitionedTelemetry}: its day, its product and its rows. */
export interface TelemetryPartition {
  readonly day: number;
  readonly productId: string;
  readonly rows: TelemetryBuffer;
}

/**
 * The telemetry of one commit by partition (`day(device_timestamp)`, then product), a
 * {@link TelemetryBuffer} each.
 */
export class PartitionedTelemetry {
  readonly #schema: SchemaJson;
  readonly #byDay = new Map<number, Map<string, TelemetryBuffer>>();
  #length = 0;

  constructor(schema: SchemaJson) {
    this.#schema = schema;
  }

  /** Rows over all partitions. */
  get length(): number {
    return this.#length;
  }

  /** Appends a record to its partition's rows. */
  append(r: Enriched): void {
    this.#rows(dayOf(r.device_timestamp), r.productId).append(r);
    this.#length++;
  }

  *partitions(): Generator<TelemetryPartition> {
    for (const [day, byProduct] of this.#byDay)
      for (const [productId, rows] of byProduct) yield { day, productId, rows };
  }

  /** Keeps only the rows `keep` accepts. */
  filter(keep: (shard: string, position: Position) => boolean): void {
    this.#length = 0;
    for (const byProduct of this.#byDay.values()) {
      for (const [productId, rows] of byProduct) {
        const kept = rows.filter(keep);
        byProduct.set(productId, kept);
        this.#length += kept.length;
      }
    }
  }

  /** Appends every row of `other` (same schema) after this one's. */
  appendAll(other: PartitionedTelemetry): void {
    for (const { day, productId, rows } of other.partitions()) {
      this.#rows(day, productId).appendAll(rows);
      this.#length += rows.length;
    }
  }

  /** Per shard, the position of its first row. */
  firstPositions(): Map<string, Position> {
    const out = new Map<string, Position>();
    for (const { rows } of this.partitions()) {
      for (let i = 0; i < rows.length; i++) {
        const shard = rows.shardAt(i);
        const p = rows.positionAt(i);
        const seen = out.get(shard);
        if (!seen || comparePositions(p, seen) < 0) out.set(shard, p);
      }
    }
    return out;
  }

  #rows(day: number, productId: string): TelemetryBuffer {
    let byProduct = this.#byDay.get(day);
    if (byProduct === undefined) {
      byProduct = new Map();
      this.#byDay.set(day, byProduct);
    }
    let rows = byProduct.get(productId);
    if (rows === undefined) {
      rows = new TelemetryBuffer(this.#schema);
      byProduct.set(productId, rows);
    }
    return rows;
  }
}
