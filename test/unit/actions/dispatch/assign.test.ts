/** Quiet hours judged in each engineer's own zone, across midnight and a daylight-saving change. */
import { describe, expect, it } from 'vitest';
import { chooseEngineer, isQuiet, localMinuteOf } from '../../../../actions/dispatch/assign.ts';

const night = { zone: 'Europe/Lisbon', quietHours: { from: '22:00', to: '07:00' } };
const lunch = { zone: 'America/Chicago', quietHours: { from: '12:00', to: '13:00' } };

describe('quiet hours', () => {
  it('reads the local time of the zone, daylight saving included', () => {
    // 2026-07-01 21:59 UTC is 22:59 in Lisbon (WEST, +1) and 16:59 in Chicago (CDT, -5)
    const at = Date.UTC(2026, 6, 1, 21, 59);
    expect(localMinuteOf('Europe/Lisbon', at)).toBe(22 * 60 + 59);
    expect(localMinuteOf('America/Chicago', at)).toBe(16 * 60 + 59);
    // in January Lisbon is on UTC
    expect(localMinuteOf('Europe/Lisbon', Date.UTC(2026, 0, 1, 21, 59))).toBe(21 * 60 + 59);
  });

  it('spans midnight when from is later than to: from inclusive, to exclusive', () => {
    const lisbon = (h: number, m: number) => Date.UTC(2026, 0, 15, h, m); // Lisbon = UTC in January
    expect(isQuiet(night, lisbon(21, 59))).toBe(false);
    expect(isQuiet(night, lisbon(22, 0))).toBe(true);
    expect(isQuiet(night, lisbon(0, 0))).toBe(true);
    expect(isQuiet(night, lisbon(6, 59))).toBe(true);
    expect(isQuiet(night, lisbon(7, 0))).toBe(false);
    expect(isQuiet(night, lisbon(12, 0))).toBe(false);
  });

  it('within one day when from is earlier than to', () => {
    const chicago = (h: number, m: number) => Date.UTC(2026, 0, 15, h + 6, m); // CST, -6
    expect(isQuiet(lunch, chicago(11, 59))).toBe(false);
    expect(isQuiet(lunch, chicago(12, 0))).toBe(true);
    expect(isQuiet(lunch, chicago(12, 59))).toBe(true);
    expect(isQuiet(lunch, chicago(13, 0))).toBe(false);
  });

  it('none, or equal bounds, never quiet', () => {
    const at = Date.UTC(2026, 0, 15, 3);
    expect(isQuiet({ zone: 'UTC', quietHours: null }, at)).toBe(false);
    expect(isQuiet({ zone: 'UTC', quietHours: { from: '03:00', to: '03:00' } }, at)).toBe(false);
  });

  it('chooses the first candidate not in quiet hours, keeping the given order', () => {
    const at = Date.UTC(2026, 0, 15, 23); // 23:00 in Lisbon, 17:00 in Chicago
    const a = { id: 'a', ...night };
    const b = { id: 'b', ...lunch };
    const c = { id: 'c', zone: 'UTC', quietHours: null };
    expect(chooseEngineer([a, b, c], at)?.id).toBe('b');
    expect(chooseEngineer([a, c, b], at)?.id).toBe('c');
    expect(chooseEngineer([a], at)).toBeUndefined();
  });
});
