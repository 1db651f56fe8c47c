/**
 * The UTC offset of an IANA zone, for the two places that read wall clocks: decode (device-local
 * times) and window assignment (local day and six-hour windows). `Intl` is far too slow to ask per
 * record, so each zone's offsets are cached per UTC quarter hour: devices report the same few hours
 * over and over, and offsets change on quarter hours in practice. A quarter hour that holds a change
 * (only historical local mean times do) is never cached, so the cache never changes an answer.
 */

const QUARTER_HOUR_MS = 900_000;
/** Quarter hours kept per zone before its cache starts again (about 100 days of event time). */
const MAX_CACHED_QUARTERS = 10_000;

/** The offset of one zone from UTC at an instant (epoch ms), in ms. */
export type ZoneOffset = (epochMs: number) => number;

const byZone = new Map<string, ZoneOffset>();

/** The cached offset of `zone` (an IANA name; throws a `RangeError` when unknown), one per zone. */
export function zoneOffset(zone: string): ZoneOffset {
  let offset = byZone.get(zone);
  if (offset === undefined) {
    offset = cachedOffset(exactOffset(zone));
    byZone.set(zone, offset);
  }
  return offset;
}

/**
 * The instant (epoch ms) at which `zone`'s clocks show `wall`, a wall-clock time given as if it
 * were UTC. Two passes: `wall − offset(wall − offset(wall))`, exact away from a change.
 *
 * Across a daylight-saving change a wall time in a gap (never shown) or an overlap (shown twice)
 * gets, of the two offsets around the change, the one nearer zero. East of UTC (Europe/Berlin) that
 * is standard time: 02:30 on the spring day reads as 03:30 summer time (moved on by the gap), and
 * 02:30 on the autumn day is its second occurrence. West of UTC (America/New_York) it is summer
 * time: a gap's time moves back by the gap, and an overlap's time is its first occurrence. Decode
 * and window assignment both rely on exactly this; a change would move stored times and windows.
 */
export function wallClockInstant(offset: ZoneOffset, wall: number): number {
  return wall - offset(wall - offset(wall));
}

function exactOffset(zone: string): ZoneOffset {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  return function exactZoneOffset(epochMs) {
    // the wall clock shows whole seconds: compare it with the whole second it shows
    const whole = Math.floor(epochMs / 1000) * 1000;
    const p: Record<string, number> = {};
    for (const part of format.formatToParts(whole))
      if (part.type !== 'literal') p[part.type] = Number(part.value);
    return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) - whole;
  };
}

function cachedOffset(exact: ZoneOffset): ZoneOffset {
  // numeric keys, so a lookup hashes no string
  const byQuarter = new Map<number, number>();
  return function cachedZoneOffset(epochMs) {
    const quarter = Math.floor(epochMs / QUARTER_HOUR_MS);
    let offset = byQuarter.get(quarter);
    if (offset === undefined) {
      const start = quarter * QUARTER_HOUR_MS;
      offset = exact(start);
      if (exact(start + QUARTER_HOUR_MS - 1000) !== offset) return exact(epochMs);
      if (byQuarter.size > MAX_CACHED_QUARTERS) byQuarter.clear();
      byQuarter.set(quarter, offset);
    }
    return offset;
  };
}
