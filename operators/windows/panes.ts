/**
 * Panes of the device windows: a pane is the span of event time that one window of every device size
 * holds, the intersection of a record's 1 h, 6 h and 1 day windows. In UTC and in every zone whose
 * offset changes by whole hours that is the record's 1 h window; where an offset changes by half an
 * hour, a 1 h window that straddles a 6 h or day boundary is cut in two panes. The device state keeps
 * one slot per pane, and each device window is the merge of the panes it holds (its slots, found by
 * the pane's windows), so a record updates one slot, not one per window size. A pane is known by its
 * start (a device has one pane per start).
 */
import type { WindowSize } from '../../topology/index.ts';
import { WINDOW_MS, type WindowAssigner, type WindowBounds } from './assign.ts';

/** A pane's windows, one per device size (smallest first), and its own bounds. */
export interface PaneWindows {
  readonly start: number;
  readonly end: number;
  readonly windows: readonly WindowBounds[];
  /** The latest end among `windows`: the pane lives until then plus retention. */
  readonly lastEnd: number;
}

/** Pane starts whose windows are remembered (about a month of hours). */
const CACHED = 1_000;

/** The panes of the device sizes `sizes` under `assign`. */
export class PaneGeometry {
  /** The device window sizes, smallest first. */
  readonly sizes: readonly WindowSize[];
  private readonly byStart = new Map<number, PaneWindows>();

  constructor(
    private readonly assign: WindowAssigner,
    sizes: readonly WindowSize[],
  ) {
    this.sizes = [...new Set(sizes)].sort((a, b) => WINDOW_MS[a] - WINDOW_MS[b]);
  }

  /** The pane that holds event time `t`. */
  paneOf(t: number): PaneWindows {
    let start = Number.NEGATIVE_INFINITY;
    let end = Number.POSITIVE_INFINITY;
    for (const size of this.sizes) {
      const w = this.assign(t, size);
      if (w.start > start) start = w.start;
      if (w.end < end) end = w.end;
    }
    const pane = this.byStart.get(start);
    if (pane !== undefined) return pane;
    const computed = this.windowsOf({ start, end });
    for (let i = 0; i < this.sizes.length; i++)
      if (computed.windows[i]!.start !== this.assign(t, this.sizes[i]!).start)
        throw new Error(`window panes: the pane [${start}, ${end}) of ${t} is not in the windows of ${t}`);
    return computed;
  }

  /**
   * The windows of a pane. They are the windows the assigner gives the pane's last instant, not its
   * start: where an offset goes back by half an hour, two 1 h windows overlap, and the instants of the
   * overlap fall in the earlier one, which a pane of the later one starts in (`paneOf` checks this).
   */
  windowsOf(pane: { readonly start: number; readonly end: number }): PaneWindows {
    let found = this.byStart.get(pane.start);
    if (found === undefined) {
      const windows = this.sizes.map((size) => this.assign(pane.end - 1, size));
      let lastEnd = Number.NEGATIVE_INFINITY;
      for (const w of windows) lastEnd = Math.max(lastEnd, w.end);
      found = { start: pane.start, end: pane.end, windows, lastEnd };
      if (this.byStart.size >= CACHED) this.byStart.clear();
      this.byStart.set(pane.start, found);
    }
    return found;
  }
}
