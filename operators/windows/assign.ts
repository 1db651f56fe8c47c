/**
 * Tumbling window assignment by event time, in UTC or an IANA zone. In a zone, 6 h and 1 day windows
 * follow the local wall clock (a day is 23 or 25 hours long across a daylight-saving change) and 1 h
 * windows follow local hour boundaries (so half-hour zones get half-past windows). Assignments are
 * cached per 15-minute slot of UTC: every zone offset and every offset change falls on such a slot.
 */
import type { WindowSize } from '../../topology/index.ts';
import { wallClockInstant, zoneOffset } from '../time/zoneOffset.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const SLOT = 15 * MINUTE;

/** Length of each window size on a day without offset change. */
export const WINDOW_MS: Readonly<Record<WindowSize, number>> = {
  '1h': HOUR,
  '6h': 6 * HOUR,
  '1d': 24 * HOUR,
};

/** A window's bounds (epoch ms, end exclusive). */
export interface WindowBounds {
  readonly start: number;
  readonly end: number;
}

/** Gives the window of a size that holds an event time. */
export type WindowAssigner = (eventTime: number, size: WindowSize) => WindowBounds;

const mod = (a: number, b: number) => ((a % b) + b) % b;

/** A window assigner for `zone` (`UTC` by default). */
export function windowAssigner(zone = 'UTC'): WindowAssigner {
  if (zone === 'UTC' || zone === 'Etc/UTC') {
    // successive records mostly fall in the window of the previous one: reuse its bounds
    const last: Partial<Record<WindowSize, WindowBounds>> = {};
    return (t, size) => {
      const previous = last[size];
      if (previous !== undefined && t >= previous.start && t < previous.end) return previous;
      const start = t - mod(t, WINDOW_MS[size]);
      const bounds = { start, end: start + WINDOW_MS[size] };
      last[size] = bounds;
      return bounds;
    };
  }
  const offset = zoneOffset(zone);
  // a boundary in a daylight-saving gap or overlap (zones that change at midnight) resolves as
  // `wallClockInstant` documents; the same function ends one window and starts the next, so they tile
  const instantOf = (wall: number) => wallClockInstant(offset, wall);
  const compute = (t: number, size: WindowSize): WindowBounds => {
    const off = offset(t);
    if (size === '1h') {
      const start = t - mod(t + off, HOUR);
      return { start, end: start + HOUR };
    }
    const wall = t + off;
    const wallStart = wall - mod(wall, WINDOW_MS[size]);
    return { start: instantOf(wallStart), end: instantOf(wallStart + WINDOW_MS[size]) };
  };
  const cache = new Map<number, Partial<Record<WindowSize, WindowBounds>>>();
  return (t, size) => {
    const slot = Math.floor(t / SLOT);
    let entry = cache.get(slot);
    if (entry === undefined) {
      if (cache.size > 20_000) cache.clear();
      entry = {};
      cache.set(slot, entry);
    }
    let bounds = entry[size];
    if (bounds === undefined) {
      bounds = compute(slot * SLOT, size);
      entry[size] = bounds;
    }
    return bounds;
  };
}
