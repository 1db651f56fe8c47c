/**
 * Device windows of one shard: what is due among their panes, and their emission. Everything here is
 * local to the shard (no network): a window's final once the global watermark passes its end plus
 * the allowed lateness, a final again when late records changed it, the running values of changed
 * windows on the device flush interval (paced, in rounds), and expiry past retention. Each window is
 * the merge of its panes (`panes.ts`); a window of one pane is emitted from it directly.
 *
 * A key's open panes are one value (`open`: what a record changes, so a snapshot rewrites only them);
 * a pane moves to a field of its own (`closed`) once the final of its smallest window went out, where
 * it stays for late records until its largest window is past retention. So a snapshot's cost per
 * record does not grow with the retention.
 *
 * What went out is in the panes (`sizeBit` flags, see `slots.ts`), so it survives a restore: a window
 * whose end the watermark passed is due while one of its panes lacks its size's bit. The indexes are
 * in memory and rebuilt from the state when the shard opens (`rebuild`): a restored shard emits its
 * open windows' running values again, and the finals its panes say are due.
 */
import type { WindowAggregate, WindowSize } from '../../topology/index.ts';
import { type AppliedBatch, closedField, type DeviceState } from './aggregate.ts';
import type { WindowBounds } from './assign.ts';
import { deviceAggregates } from './keys.ts';
import type { PaneGeometry, PaneWindows } from './panes.ts';
import type { ColumnLists } from './rows.ts';
import { emptySlot, mergeSlot, newSlot, type Slot, sizeBit } from './slots.ts';

/** Event-time rules of the operator. */
export interface Lateness {
  readonly allowedLatenessMs: number;
  readonly retentionMs: number;
}

/** A pane of a key: its slot, and its field when closed. */
interface KeyPane {
  readonly slot: Slot;
  readonly field: string | undefined;
}

/** One device window of a key (it names the window's aggregates). */
interface DueWindow {
  readonly product: string;
  readonly device: string;
  readonly size: WindowSize;
  readonly start: number;
  readonly end: number;
  /** Index of the size among the geometry's sizes. */
  readonly i: number;
}

/** The device windows of one shard. */
export class DeviceWindows {
  /**
   * Window end (any size) → the partition keys holding a pane in a window that ends then, a key
   * once per pane (a list, not a set: a pane is indexed once for each of its windows, for every
   * record's new pane, and a key's repeats are dropped only when the end is due: `keysAt`).
   */
  private readonly byEnd = new Map<number, string[]>();
  /** The keys of `byEnd`, ascending. */
  private ends: number[] = [];
  /** Window ends whose keys were all settled once the watermark passed them (later: late keys only). */
  private readonly settled = new Set<number>();
  /** Keys with changed open panes (running values due). */
  private dirty = new Set<string>();
  /** Keys with a pane changed or created in a window whose final went out (late records). */
  private readonly late = new Set<string>();
  /** The flush round in progress: the keys changed when it began, and how far it got. */
  private round: string[] = [];
  private next = 0;
  private readonly allBits: number;
  /**
   * Where a window of several panes is merged to be emitted: its aggregates copy the statistics out,
   * so one slot serves every merge instead of a new buffer per window.
   */
  private readonly merged: Slot = newSlot('', '', '1h', 0, 0, [], false);

  constructor(
    private readonly state: DeviceState,
    private readonly geometry: PaneGeometry,
    private readonly lists: ColumnLists,
    private readonly rules: Lateness,
  ) {
    this.allBits = geometry.sizes.reduce((bits, size) => bits | sizeBit(size), 0);
  }

  /** Builds the indexes from the restored state. */
  rebuild(): void {
    for (const key of this.state.open.keys()) {
      for (const pane of this.state.open.get(key)!) this.index(key, this.geometry.windowsOf(pane));
      this.dirty.add(key);
    }
    for (const key of this.state.closed.keys())
      for (const [, pane] of this.state.closed.entries(key)) {
        const windows = this.geometry.windowsOf(pane);
        this.index(key, windows);
        this.closedUntil(windows);
      }
  }

  /** Takes in what a batch changed. */
  changed(applied: AppliedBatch): void {
    for (const { key, pane } of applied.created) {
      this.index(key, pane);
      // a pane in a window whose final went out: that final is due again
      for (const w of pane.windows)
        if (this.settled.has(w.end)) {
          this.late.add(key);
          break;
        }
    }
    for (const key of applied.keys) this.dirty.add(key);
    for (const key of applied.lateKeys) this.late.add(key);
  }

  /** Whether a flush round is in progress (keys of it not yet flushed). */
  get pending(): boolean {
    return this.next < this.round.length;
  }

  /**
   * Finals due under `watermark` (windows it passed, and finals changed by late records), and expiry
   * of the panes past retention. Never limited.
   */
  finals(watermark: number, out: WindowAggregate[]): void {
    const { allowedLatenessMs, retentionMs } = this.rules;
    // late changes first: their panes may expire below
    for (const key of this.late) this.settle(key, watermark, out);
    this.late.clear();
    for (const end of this.ends) {
      if (end + allowedLatenessMs > watermark) break;
      if (this.settled.has(end)) continue;
      for (const key of this.keysAt(end)) this.settle(key, watermark, out);
      this.settled.add(end);
    }
    while (this.ends.length > 0 && this.ends[0]! + retentionMs <= watermark) {
      const end = this.ends.shift()!;
      for (const key of this.keysAt(end)) this.expire(key, end);
      this.byEnd.delete(end);
      this.settled.delete(end);
    }
  }

  /**
   * Running values of the windows of changed open panes, at most `limit` keys; returns the keys
   * flushed. A round takes the keys changed when it begins; keys changed later wait for the next round.
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
      const open = this.state.open.get(key);
      if (open === undefined) continue;
      const windows: DueWindow[] = [];
      for (const pane of open) {
        const { windows: bounds } = this.geometry.windowsOf(pane);
        for (let i = 0; i < bounds.length; i++)
          if (bounds[i]!.end + this.rules.allowedLatenessMs > watermark)
            this.add(windows, pane, i, bounds[i]!);
      }
      if (windows.length > 0) {
        const panes = this.panesOf(key, open);
        for (const w of windows) this.emit(w, panes, false, out);
      }
      flushed++;
    }
    return flushed;
  }

  private index(key: string, pane: PaneWindows): void {
    for (const { end } of pane.windows) {
      let keys = this.byEnd.get(end);
      if (keys === undefined) {
        keys = [];
        this.byEnd.set(end, keys);
        // few distinct ends (a retention's worth of windows): insert in order
        let at = this.ends.length;
        while (at > 0 && this.ends[at - 1]! > end) at--;
        this.ends.splice(at, 0, end);
      }
      // a key whose panes are indexed one after another (a rebuild, a hub's devices) is listed once
      if (keys[keys.length - 1] !== key) keys.push(key);
    }
  }

  /** The keys holding a pane in a window that ends at `end`, each once. */
  private keysAt(end: number): Set<string> {
    return new Set(this.byEnd.get(end));
  }

  /** Every pane of a key: the open ones (`open`) and the closed ones. */
  private panesOf(key: string, open: readonly Slot[] | undefined): KeyPane[] {
    const panes: KeyPane[] = [];
    if (open !== undefined) for (const slot of open) panes.push({ slot, field: undefined });
    for (const [field, slot] of this.state.closed.entries(key)) panes.push({ slot, field });
    return panes;
  }

  /**
   * Emits the finals of the key's windows that the watermark passed and whose panes do not all hold
   * them yet, marks their panes, and moves the open panes whose smallest window is final to `closed`.
   */
  private settle(key: string, watermark: number, out: WindowAggregate[]): void {
    const lateness = this.rules.allowedLatenessMs;
    const open = this.state.open.get(key);
    const panes = this.panesOf(key, open);
    const due: DueWindow[] = [];
    for (const { slot } of panes) {
      if (slot.flags === this.allBits) continue;
      const { windows } = this.geometry.windowsOf(slot);
      for (let i = 0; i < windows.length; i++) {
        const bit = sizeBit(this.geometry.sizes[i]!);
        if ((slot.flags & bit) === 0 && windows[i]!.end + lateness <= watermark)
          this.add(due, slot, i, windows[i]!);
      }
    }
    const changed = new Set<KeyPane>();
    for (const w of due) {
      const bit = sizeBit(w.size);
      for (const pane of this.emit(w, panes, true, out)) {
        pane.slot.flags |= bit;
        changed.add(pane);
      }
    }
    let kept: Slot[] | undefined;
    if (open !== undefined) {
      kept = [];
      for (const slot of open) {
        const windows = this.geometry.windowsOf(slot);
        if (windows.windows[0]!.end + lateness > watermark) kept.push(slot);
        else {
          this.state.closed.set(key, closedField(slot), slot);
          this.closedUntil(windows);
        }
      }
      if (kept.length === 0) this.state.open.delete(key);
      else if (kept.length !== open.length) this.state.open.set(key, kept);
    }
    for (const pane of changed) {
      if (pane.field !== undefined) this.state.closed.set(key, pane.field, pane.slot);
      else if (kept?.includes(pane.slot)) this.state.open.set(key, kept);
    }
  }

  /** Emits a window merged from its panes among `panes`; returns those panes. */
  private emit(w: DueWindow, panes: readonly KeyPane[], final: boolean, out: WindowAggregate[]): KeyPane[] {
    const held: KeyPane[] = [];
    for (const pane of panes) {
      const s = pane.slot;
      if (s.device !== w.device || s.product !== w.product) continue;
      if (this.geometry.windowsOf(s).windows[w.i]!.start === w.start) held.push(pane);
    }
    if (held.length === 1) {
      deviceAggregates(w, held[0]!.slot, final, out);
      return held;
    }
    const merged = this.merged;
    emptySlot(merged, held[0]!.slot.columns);
    for (const { slot } of held) mergeSlot(merged, slot, this.lists);
    deviceAggregates(w, merged, final, out);
    return held;
  }

  /** A pane went to `closed`: new records' panes ending later are looked for among the open ones only. */
  private closedUntil(pane: PaneWindows): void {
    const end = pane.windows[0]!.end;
    if (end > this.state.closedUntil) this.state.closedUntil = end;
  }

  /** Drops the key's panes whose largest window ends at `end` (it is past retention). */
  private expire(key: string, end: number): void {
    const gone: string[] = [];
    for (const [field, pane] of this.state.closed.entries(key))
      if (this.geometry.windowsOf(pane).lastEnd === end) gone.push(field);
    for (const field of gone) this.state.closed.delete(key, field);
    const open = this.state.open.get(key);
    if (open === undefined || !open.some((p) => this.geometry.windowsOf(p).lastEnd === end)) return;
    const kept = open.filter((p) => this.geometry.windowsOf(p).lastEnd !== end);
    if (kept.length === 0) this.state.open.delete(key);
    else this.state.open.set(key, kept);
  }

  /** Adds the window of size index `i` of `pane`'s device to `windows`, once. */
  private add(windows: DueWindow[], pane: Slot, i: number, bounds: WindowBounds): void {
    for (const w of windows)
      if (w.i === i && w.start === bounds.start && w.device === pane.device && w.product === pane.product)
        return;
    windows.push({
      product: pane.product,
      device: pane.device,
      size: this.geometry.sizes[i]!,
      start: bounds.start,
      end: bounds.end,
      i,
    });
  }
}
