import { describe, expect, it } from 'vitest';
import { wallClockInstant, zoneOffset } from '../../../../operators/time/zoneOffset.ts';
import { isKnownZone } from '../../../../topology/index.ts';

const HOUR = 3_600_000;
const utc = (iso: string) => Date.parse(iso);
/** A wall-clock time written as if it were UTC, the form `wallClockInstant` takes. */
const wall = (local: string) => Date.parse(`${local}Z`);

describe('zone offset', () => {
  it('follows Europe/Berlin across both daylight-saving changes, to the second', () => {
    const berlin = zoneOffset('Europe/Berlin');
    // 29 March 2026, 01:00 UTC: 02:00 CET becomes 03:00 CEST
    expect(berlin(utc('2026-03-29T00:59:59Z'))).toBe(HOUR);
    expect(berlin(utc('2026-03-29T01:00:00Z'))).toBe(2 * HOUR);
    // 25 October 2026, 01:00 UTC: 03:00 CEST becomes 02:00 CET
    expect(berlin(utc('2026-10-25T00:59:59.999Z'))).toBe(2 * HOUR);
    expect(berlin(utc('2026-10-25T01:00:00Z'))).toBe(HOUR);
    // asked again, from the cache
    expect(berlin(utc('2026-03-29T00:30:00Z'))).toBe(HOUR);
    expect(zoneOffset('Europe/Berlin')).toBe(berlin);
  });

  it('gives a half-hour zone its half hour, and a time before 1970 its offset', () => {
    const kolkata = zoneOffset('Asia/Kolkata');
    expect(kolkata(utc('2026-01-05T10:10:00Z'))).toBe(5.5 * HOUR);
    expect(kolkata(utc('1969-12-31T23:59:59.500Z'))).toBe(5.5 * HOUR);
  });

  it('is exact inside a quarter hour that holds a change (historical local mean time)', () => {
    // Liberia moved from −00:44:30 to GMT on 7 January 1972, at 00:44:30 UTC
    const monrovia = zoneOffset('Africa/Monrovia');
    const before = -(44 * 60_000 + 30_000);
    expect(monrovia(utc('1972-01-07T00:44:29Z'))).toBe(before);
    expect(monrovia(utc('1972-01-07T00:44:30Z'))).toBe(0);
    expect(monrovia(utc('1972-01-07T00:30:00Z'))).toBe(before);
    expect(monrovia(utc('1972-01-07T00:45:00Z'))).toBe(0);
  });

  it('knows IANA zones and refuses other names', () => {
    expect(isKnownZone('Asia/Kolkata')).toBe(true);
    expect(isKnownZone('Mars/Olympus_Mons')).toBe(false);
    expect(() => zoneOffset('Mars/Olympus_Mons')).toThrow(RangeError);
  });
});

describe('wall-clock instant', () => {
  it('reads wall times away from a change exactly, in Berlin and Kolkata', () => {
    const berlin = zoneOffset('Europe/Berlin');
    expect(wallClockInstant(berlin, wall('2026-03-29T01:30:00'))).toBe(utc('2026-03-29T00:30:00Z'));
    expect(wallClockInstant(berlin, wall('2026-03-29T03:30:00'))).toBe(utc('2026-03-29T01:30:00Z'));
    expect(wallClockInstant(berlin, wall('2026-10-25T03:30:00'))).toBe(utc('2026-10-25T02:30:00Z'));
    const kolkata = zoneOffset('Asia/Kolkata');
    expect(wallClockInstant(kolkata, wall('2026-01-05T15:40:00'))).toBe(utc('2026-01-05T10:10:00Z'));
    expect(wallClockInstant(kolkata, wall('2026-01-01T00:00:00'))).toBe(utc('2025-12-31T18:30:00Z'));
  });

  it('east of UTC, takes standard time in a gap or an overlap (Europe/Berlin)', () => {
    const berlin = zoneOffset('Europe/Berlin');
    // 02:30 never shows on 29 March: read as CET, it is 03:30 CEST
    expect(wallClockInstant(berlin, wall('2026-03-29T02:30:00'))).toBe(utc('2026-03-29T01:30:00Z'));
    // 02:30 shows twice on 25 October (00:30Z in CEST, 01:30Z in CET): the second
    expect(wallClockInstant(berlin, wall('2026-10-25T02:30:00'))).toBe(utc('2026-10-25T01:30:00Z'));
  });

  it('west of UTC, takes summer time in a gap or an overlap (America/New_York)', () => {
    const newYork = zoneOffset('America/New_York');
    // 02:30 never shows on 8 March: read as EDT, it is 01:30 EST
    expect(wallClockInstant(newYork, wall('2026-03-08T02:30:00'))).toBe(utc('2026-03-08T06:30:00Z'));
    // 01:30 shows twice on 1 November (05:30Z in EDT, 06:30Z in EST): the first
    expect(wallClockInstant(newYork, wall('2026-11-01T01:30:00'))).toBe(utc('2026-11-01T05:30:00Z'));
  });
});
