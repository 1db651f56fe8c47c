/**
 * Device windows of one shard: what is due among their slots, and their emission. Everything here is
 * local to the shard (no network): finals once the global watermark passes a window's end plus the
 * allowed lateness, a final again when late records changed it, the running values of changed
 * windows on the device flush interval (paced, in rounds), and expiry past retention.
 *
 * A key's open windows are one value (`open`: what a record changes, so a snapshot rewrites only
 * them); a window moves to a field of its own (`closed`) when its final goes out, where it stays for
 * late records until retention expires it. So a snapshot's cost per record does not grow with the
 * retention.
 *
 * The indexes are in memory and rebuilt from the state when the shard opens (`rebuild`): a restored
 * shard emits its open windows' running values again, and finals whose `emitted` count is behind.
 */
import type { WindowAggregate } from '../../topology/index.ts';
import { type AppliedBatch, closedField, type DeviceState } from './aggregate.ts';
import { deviceAggregates } from './keys.ts';
import { FINAL, type Slot } from './slots.ts';

/** Event-time rules of the operator. */
export interface Lateness {
  readonly allowedLatenessMs: number;
  readonly retentionMs: number;
}

/** The device windows of one shard. */
export class DeviceWindows {
  /** Window end → the partition keys holding a slot (open or closed) that ends then. */
  private readonly byEnd = new Map<number, Set<string>>();
  /** Window ends whose finals went out (a window of theirs opened later is a late one). */
  private readonly finalized = new Set<number>();
  /** Keys with changed open windows (running values due). */
  private dirty = new Set<string>();
  /** Keys with a final due again (late records) or a window opened after its end was finalized. */
  private readonly late = new Set<string>();
  /** The flush round in progress: the keys changed when it began, and how far it got. */
  private round: string[] = [];
  private next = 0;

  constructor(
    private readonly state: DeviceState,
    private readonly rules: Lateness,
  ) {}

  /** Builds the indexes from the restored state. */
  rebuild(watermark: number): void {
    for (const key of this.state.open.keys()) {
      for (const slot of this.state.open.get(key)!) {
        this.index(key, slot.end);
        this.classify(key, slot, watermark);
      }
    }
    for (const key of this.state.closed.keys()) {
      for (const [, slot] of this.state.closed.entries(key)) {
        this.index(key, slot.end);
        this.finalized.add(slot.end);
        if (slot.records !== slot.emitted) this.late.add(key);
      }
    }
  }

  /** Takes in what a batch changed, classified under the global watermark. */
  changed(applied: AppliedBatch, watermark: number): void {
    for (const { key, end } of applied.created) this.index(key, end);
    for (const key of applied.keys) {
      const slots = this.state.open.get(key);
      if (slots !== undefined) for (const slot of slots) this.classify(key, slot, watermark);
    }
    for (const key of applied.lateKeys) this.late.add(key);
  }

  /** Whether a flush round is in progress (keys of it not yet flushed). */
  get pending(): boolean {
    return this.next < this.round.length;
  }

  /**
   * Finals due under `watermark` (windows it passed, and finals changed by late records), and expiry
   * of the windows past retention. Never limited.
   */
  finals(watermark: number, out: WindowAggregate[]): void {
    const { allowedLatenessMs, retentionMs } = this.rules;
    // late changes first: their windows may expire below
    for (const key of this.late) {
      this.closeDue(key, watermark, out);
      this.emitChanged(key, out);
    }
    this.late.clear();
    const ends = [...this.byEnd.keys()].sort((a, b) => a - b);
    for (const end of ends) {
      if (end + allowedLatenessMs > watermark) break;
      const keys = this.byEnd.get(end)!;
      if (!this.finalized.has(end)) {
        for (const key of keys) this.closeDue(key, watermark, out);
        this.finalized.add(end);
      }
      if (end + retentionMs <= watermark) {
        for (const key of keys) this.expire(key, end);
        this.byEnd.delete(end);
        this.finalized.delete(end);
      }
    }
  }

  /**
   * Running values of changed open windows, at most `limit` keys; returns the keys flushed. A round
   * takes the keys changed when it begins; keys changed later wait for the next round.
   */
  running(watermark: number, limit: number, out: WindowAggregate[]): number {
    if (this.next >= this.round.length) {
      this.round = [...this.dirty];
      this.next = 0;
      this.dirty = new Set();
    }
    let flushed = 0;
    while (this.next < this.round.length && flushed < limit) {
      const key = this.round[this.next++]!;
      const slots = this.state.open.get(key);
      if (slots === undefined) continue;
      for (const slot of slots)
        if (slot.end + this.rules.allowedLatenessMs > watermark) deviceAggregates(slot, false, out);
      flushed++;
    }
    return flushed;
  }

  private index(key: string, end: number): void {
    let keys = this.byEnd.get(end);
    if (keys === undefined) {
      keys = new Set();
      this.byEnd.set(end, keys);
    }
    keys.add(key);
  }

  private classify(key: string, slot: Slot, watermark: number): void {
    if (slot.end + this.rules.allowedLatenessMs > watermark) this.dirty.add(key);
    else if (this.finalized.has(slot.end)) this.late.add(key);
  }

  /** Emits the finals of the key's open windows that are due, and moves them to `closed`. */
  private closeDue(key: string, watermark: number, out: WindowAggregate[]): void {
    const slots = this.state.open.get(key);
    if (slots === undefined) return;
    const kept: Slot[] = [];
    for (const slot of slots) {
      if (slot.end + this.rules.allowedLatenessMs > watermark) {
        kept.push(slot);
        continue;
      }
      deviceAggregates(slot, true, out);
      slot.flags |= FINAL;
      slot.emitted = slot.records;
      this.state.closed.set(key, closedField(slot), slot);
    }
    if (kept.length === slots.length) return;
    if (kept.length === 0) this.state.open.delete(key);
    else this.state.open.set(key, kept);
  }

  /** Emits again the finals of the key's closed windows that late records changed. */
  private emitChanged(key: string, out: WindowAggregate[]): void {
    for (const [field, slot] of this.state.closed.entries(key)) {
      if (slot.emitted === slot.records) continue;
      deviceAggregates(slot, true, out);
      slot.emitted = slot.records;
      this.state.closed.set(key, field, slot);
    }
  }

  private expire(key: string, end: number): void {
    const gone: string[] = [];
    for (const [field, slot] of this.state.closed.entries(key)) if (slot.end === end) gone.push(field);
    for (const field of gone) this.state.closed.delete(key, field);
    const slots = this.state.open.get(key);
    if (slots === undefined || !slots.some((s) => s.end === end)) return;
    const kept = slots.filter((s) => s.end !== end);
    if (kept.length === 0) this.state.open.delete(key);
    else this.state.open.set(key, kept);
  }
}
