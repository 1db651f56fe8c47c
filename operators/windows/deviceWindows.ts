/**
 * Device windows of one shard: what is due among the slots of the keyed state `devices`, and their
 * emission. Everything here is local to the shard (no network): finals once the global watermark
 * passes a window's end plus the allowed lateness, a final again when late records changed it, the
 * running values of changed windows on the device flush interval (paced, in rounds), and expiry past
 * retention.
 *
 * The indexes are in memory and rebuilt from the state when the shard opens (`rebuild`): a restored
 * shard emits its open windows' running values again, and finals whose `emitted` count is behind.
 */
import type { ValueState, WindowAggregate } from '../../topology/index.ts';
import type { AppliedBatch } from './aggregate.ts';
import { deviceAggregates } from './keys.ts';
import { FINAL, type Slot } from './slots.ts';

/** Event-time rules of the operator. */
export interface Lateness {
  readonly allowedLatenessMs: number;
  readonly retentionMs: number;
}

/** The device windows of one shard. */
export class DeviceWindows {
  /** Window end → the partition keys holding a slot that ends then. */
  private readonly byEnd = new Map<number, Set<string>>();
  /** Window ends whose finals went out (their later changes are late ones, in `late`). */
  private readonly finalized = new Set<number>();
  /** Keys with changed open windows (running values due). */
  private dirty = new Set<string>();
  /** Keys with a changed window that is past its final (a final due again). */
  private readonly late = new Set<string>();
  /** The flush round in progress: the keys changed when it began, and how far it got. */
  private round: string[] = [];
  private next = 0;

  constructor(
    private readonly devices: ValueState<Slot[]>,
    private readonly rules: Lateness,
  ) {}

  /** Builds the indexes from the restored state. */
  rebuild(watermark: number): void {
    for (const key of this.devices.keys()) {
      for (const slot of this.devices.get(key)!) {
        this.index(key, slot.end);
        this.classify(key, slot, watermark);
      }
    }
  }

  /** Takes in what a batch changed, classified under the global watermark. */
  changed(applied: AppliedBatch, watermark: number): void {
    for (const { key, end } of applied.created) this.index(key, end);
    for (const key of applied.keys) {
      const slots = this.devices.get(key);
      if (slots !== undefined) for (const slot of slots) this.classify(key, slot, watermark);
    }
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
    for (const key of this.late) this.emitFinals(key, watermark, out);
    this.late.clear();
    const ends = [...this.byEnd.keys()].sort((a, b) => a - b);
    for (const end of ends) {
      if (end + allowedLatenessMs > watermark) break;
      const keys = this.byEnd.get(end)!;
      if (!this.finalized.has(end)) {
        for (const key of keys) this.emitFinals(key, watermark, out);
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
      const slots = this.devices.get(key);
      if (slots === undefined) continue;
      for (const slot of slots)
        if (slot.flags === 0 && slot.end + this.rules.allowedLatenessMs > watermark)
          deviceAggregates(slot, false, out);
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
    if (slot.end + this.rules.allowedLatenessMs <= watermark) {
      if (slot.flags & FINAL ? slot.records !== slot.emitted : this.finalized.has(slot.end))
        this.late.add(key);
    } else if (slot.flags === 0) this.dirty.add(key);
  }

  /** Emits the finals of the key's windows that are due and not yet out with their current records. */
  private emitFinals(key: string, watermark: number, out: WindowAggregate[]): void {
    const slots = this.devices.get(key);
    if (slots === undefined) return;
    let changed = false;
    for (const slot of slots) {
      if (slot.end + this.rules.allowedLatenessMs > watermark) continue;
      if (slot.flags & FINAL && slot.emitted === slot.records) continue;
      deviceAggregates(slot, true, out);
      slot.flags |= FINAL;
      slot.emitted = slot.records;
      changed = true;
    }
    if (changed) this.devices.set(key, slots);
  }

  private expire(key: string, end: number): void {
    const slots = this.devices.get(key);
    if (slots === undefined) return;
    const kept = slots.filter((s) => s.end !== end);
    if (kept.length === slots.length) return;
    if (kept.length === 0) this.devices.delete(key);
    else this.devices.set(key, kept);
  }
}
