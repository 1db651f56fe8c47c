/**
 * Product and customer × product windows of one shard. Their keys span shards, so each shard keeps
 * its part of them, a *partial* per window and row, in the published map state `partials` (key `''`):
 * the runtime writes it with every snapshot where every worker can read it, together with the shard's
 * watermark. A window is emitted merged from every shard's partial (this shard's from memory, the
 * others' as published): its running value on the scope's flush interval by the shards that changed
 * it, its final by each shard holding a part of it once the global watermark passes its end plus the
 * allowed lateness, and again by a shard whose late records changed it. The revision counts the
 * merged records, so the same window emitted by several shards is one value to the stores; a view
 * that misses some shard's latest part has fewer records and a lower revision. A partial is expired
 * one retention period later than a device window, since another worker, whose view of the global
 * watermark is behind this one's, may still accept a late record of the window and merge this part.
 *
 * After a split or merge, a parent's partials stay published under its id, and each child holds a
 * copy of them under another key (`inheritedKey`, from the runtime): a to-do list, never merged as
 * the child's own. A child emits the final of an inherited window it has no part of (merged from every
 * shard's part, the parent's as published) once the global watermark passes it, then drops the copy:
 * without it a window only the parent had records of would never be final.
 */
import {
  type AggregateScope,
  type MapState,
  mergeSlots,
  type PublishedState,
  STATS_STRIDE,
  type WindowAggregate,
} from '../../topology/index.ts';
import type { SharedBuckets } from './aggregate.ts';
import type { Lateness } from './deviceWindows.ts';
import { type PartialKey, parsePartial, partialField, sharedAggregates } from './keys.ts';
import type { ColumnLists } from './rows.ts';
import { columnOf, FINAL, mergeSlot, newSlot, type Slot, SlotRoom } from './slots.ts';
import type { GlobalWatermark } from './watermark.ts';

/** When a final is merged again after it went out (see `SharedWindows.recheck`). */
const RECHECK_MS = [1_000, 2_000, 4_000, 8_000, 16_000, 32_000];

/** The name of the published map state that holds the partials. */
export const PARTIALS = 'partials';
/** Buckets whose partials' fields are remembered (a few days of windows). */
const FIELD_BUCKETS = 200;
/** The key partials are kept under: the shard as a whole. */
const SHARD = '';

/** The shared windows of one shard. */
export class SharedWindows {
  /** Fields whose running value is due (changed, not final). */
  private readonly dirty = new Set<string>();
  private readonly keys = new Map<string, PartialKey>();
  /**
   * Finals this shard emitted, merged again on later ticks (`RECHECK_MS` after the emission): what
   * another worker published may still have lagged behind the watermark they were emitted under
   * (a shard that changed owner publishes again only once its new owner's snapshot is written). A
   * merge with more records than the last emitted goes out as the final again.
   */
  private readonly recheck = new Map<string, { readonly at: number[]; records: number }>();
  /**
   * The watermark at which one of the shard's partials may next be due (its final, or its expiry),
   * or a late record changed one whose final went out: until then an emission need not look at them
   * (they are many; a batch merges into few). Found again by every look.
   */
  private nextDue = Number.NEGATIVE_INFINITY;
  /**
   * Partial fields by bucket and row: a batch's rows find theirs made already, so the partials'
   * lookups hash a known string rather than a new one per row and batch.
   */
  private readonly fieldNames = new Map<string, Map<string, string>>();

  constructor(
    private readonly partials: MapState<Slot>,
    private readonly lists: ColumnLists,
    private readonly rules: Lateness,
  ) {}

  /** Builds the due set from the restored state: every open partial's running value goes out again. */
  rebuild(): void {
    for (const [field, slot] of this.partials.entries(SHARD)) if (slot.flags === 0) this.dirty.add(field);
  }

  /** Merges a batch's shared windows into the partials. */
  merge(shared: SharedBuckets): void {
    for (const [bucket, { end, rows }] of shared) {
      for (const [name, row] of rows.byRow) {
        if (row.records === 0) continue;
        const field = this.fieldOf(bucket, name);
        let slot = this.partials.get(SHARD, field);
        if (slot === undefined) {
          const key = this.keyOf(field);
          slot = newSlot('', '', key.size, key.start, end, row.columns);
        }
        for (let c = 0; c < row.columns.length; c++) {
          const column = columnOf(slot, row.columns[c]!, c, this.lists);
          mergeSlots(slot.data, STATS_STRIDE * column, rows.data, row.at + STATS_STRIDE * c);
        }
        slot.records += row.records;
        // a final that went out is due again, a new window at its end
        if (slot.flags & FINAL) this.nextDue = Number.NEGATIVE_INFINITY;
        else this.nextDue = Math.min(this.nextDue, end + this.rules.allowedLatenessMs);
        this.partials.set(SHARD, field, slot);
        this.dirty.add(field);
      }
    }
  }

  /** This shard's partial of a field, from memory. */
  partial(field: string): Slot | undefined {
    return this.partials.get(SHARD, field);
  }

  /**
   * One emission round under `watermark`: every due final, then the running values of the changed
   * partials of `scopes` (at most `limit` rows; the rest stay due), each merged from every shard's
   * part (`parts`); then expiry past retention. Returns the rows flushed and the first scope that kept
   * rows for later.
   */
  async emit(
    parts: SharedParts,
    now: number,
    watermark: number,
    scopes: readonly AggregateScope[],
    limit: number,
    out: WindowAggregate[],
  ): Promise<{ flushed: number; left: AggregateScope | undefined }> {
    const { allowedLatenessMs, retentionMs } = this.rules;
    const finals: string[] = [];
    const expired: string[] = [];
    if (this.nextDue <= watermark) {
      let next = Number.POSITIVE_INFINITY;
      for (const [field, slot] of this.partials.entries(SHARD)) {
        const done = slot.flags & FINAL && slot.emitted === slot.records;
        // kept a retention longer than a device window: another worker, its view of the watermark
        // behind this one's, may still take a late record for the window and merge this part into it
        next = Math.min(next, done ? slot.end + 2 * retentionMs : slot.end + allowedLatenessMs);
        if (slot.end + allowedLatenessMs > watermark) continue;
        if (!done) finals.push(field);
        if (slot.end + 2 * retentionMs <= watermark) expired.push(field);
      }
      this.nextDue = next;
    }
    // inherited windows (see the file comment) that are due and this shard has no part of; only
    // once other shards' parts can be read (the parent's are published)
    const inherited: [string, string][] = [];
    const orphans = new Set<string>();
    if (parts.remote)
      for (const key of this.partials.keys()) {
        if (key === SHARD) continue;
        for (const [field, slot] of this.partials.entries(key)) {
          if (slot.end + allowedLatenessMs > watermark) continue;
          inherited.push([key, field]);
          const done = slot.flags & FINAL && slot.emitted === slot.records;
          if (!done && this.partials.get(SHARD, field) === undefined) orphans.add(field);
        }
      }
    const running: string[] = [];
    let left: AggregateScope | undefined;
    for (const scope of scopes) {
      for (const field of this.dirty) {
        if (this.keyOf(field).scope !== scope) continue;
        const slot = this.partials.get(SHARD, field);
        if (slot === undefined || slot.end + allowedLatenessMs <= watermark) {
          this.dirty.delete(field);
          continue;
        }
        if (running.length >= limit) {
          left ??= scope;
          break;
        }
        running.push(field);
      }
    }
    const again: string[] = [];
    for (const [field, r] of this.recheck) {
      if (r.at.length === 0 || this.partials.get(SHARD, field) === undefined) this.recheck.delete(field);
      else if (r.at[0]! <= now && !finals.includes(field)) {
        r.at.shift();
        again.push(field);
      }
    }
    if (finals.length + running.length + orphans.size + again.length > 0) {
      const merged = await parts.merged([...finals, ...running, ...orphans, ...again]);
      for (const field of again) {
        const whole = merged.get(field);
        const r = this.recheck.get(field)!;
        if (whole === undefined || whole.records <= r.records) continue;
        sharedAggregates(this.keyOf(field), whole, true, out);
        r.records = whole.records;
      }
      for (const field of orphans) {
        const whole = merged.get(field);
        if (whole !== undefined) sharedAggregates(this.keyOf(field), whole, true, out);
      }
      for (const field of finals) {
        const slot = this.partials.get(SHARD, field)!;
        const whole = merged.get(field)!;
        sharedAggregates(this.keyOf(field), whole, true, out);
        this.recheck.set(field, { at: RECHECK_MS.map((ms) => now + ms), records: whole.records });
        slot.flags |= FINAL;
        slot.emitted = slot.records;
        this.partials.set(SHARD, field, slot);
        this.dirty.delete(field);
      }
      for (const field of running) {
        sharedAggregates(this.keyOf(field), merged.get(field)!, false, out);
        this.dirty.delete(field);
      }
    }
    for (const field of expired) {
      this.partials.delete(SHARD, field);
      this.keys.delete(field);
    }
    for (const [key, field] of inherited) {
      this.partials.delete(key, field);
      if (this.partials.get(SHARD, field) === undefined) this.keys.delete(field);
    }
    return { flushed: running.length, left };
  }

  private fieldOf(bucket: string, row: string): string {
    let rows = this.fieldNames.get(bucket);
    if (rows === undefined) {
      // past windows' buckets are never asked for again: forgotten now and then
      if (this.fieldNames.size >= FIELD_BUCKETS) this.fieldNames.clear();
      rows = new Map();
      this.fieldNames.set(bucket, rows);
    }
    let field = rows.get(row);
    if (field === undefined) {
      field = partialField(bucket, row);
      rows.set(row, field);
    }
    return field;
  }

  private keyOf(field: string): PartialKey {
    let key = this.keys.get(field);
    if (key === undefined) {
      key = parsePartial(field);
      this.keys.set(field, key);
    }
    return key;
  }
}

/**
 * Every shard's parts of the shared windows: this worker's shards' from memory, the other shards' as
 * they published them (read only when other workers' shards published any).
 */
export class SharedParts {
  constructor(
    private readonly locals: ReadonlyMap<string, { readonly shared: SharedWindows }>,
    private readonly published: () => PublishedState | undefined,
    private readonly global: GlobalWatermark,
    private readonly lists: ColumnLists,
  ) {}

  /** Whether merging needs the network (other workers' shards published partials). */
  get remote(): boolean {
    return this.global.hasRemote && this.published() !== undefined;
  }

  /** Each field merged from every shard's part of it. */
  async merged(fields: readonly string[]): Promise<Map<string, Slot>> {
    const published = this.remote ? await this.published()!.read<Slot>(PARTIALS, fields) : undefined;
    const out = new Map<string, Slot>();
    // the merges live as long as this emission: one room for all of them
    const room = new SlotRoom(fields.length);
    for (const field of fields) {
      let merged: Slot | undefined;
      for (const { shared } of this.locals.values()) {
        const part = shared.partial(field);
        if (part === undefined) continue;
        merged ??= room.slot(part.size, part.start, part.end, part.columns);
        mergeSlot(merged, part, this.lists);
      }
      for (const [shardId, part] of published?.get(field) ?? []) {
        if (this.global.isLocal(shardId)) continue;
        merged ??= room.slot(part.size, part.start, part.end, part.columns);
        mergeSlot(merged, part, this.lists);
      }
      if (merged !== undefined) out.set(field, merged);
    }
    return out;
  }
}
