import { describe, expect, it } from 'vitest';
import type { DecodedFields } from '../../../../operators/decode/frame.ts';
import { compileTimeValue, zonedTime } from '../../../../operators/decode/timestamps.ts';
import type { TimestampSpec } from '../../../../specs/schema.ts';

/** A rule's reader over a record's fields, as the generated telemetry builder applies it. */
function compileTimestamp(rule: TimestampSpec): (fields: DecodedFields, ingest: number) => number {
  const read = compileTimeValue(rule);
  return (fields, ingest) => read('from' in rule ? undefined : fields[rule.field], ingest);
}

describe('timestamps', () => {
  it('reads device-local time in a zone across the spring and autumn daylight-saving changes', () => {
    // Europe/Berlin: 2026-03-29 02:00 local jumps to 03:00; 2026-10-25 03:00 local falls back to 02:00
    expect(zonedTime([2026, 3, 29, 1, 30, 0], 'Europe/Berlin')).toBe(Date.UTC(2026, 2, 29, 0, 30));
    expect(zonedTime([2026, 3, 29, 3, 30, 0], 'Europe/Berlin')).toBe(Date.UTC(2026, 2, 29, 1, 30));
    expect(zonedTime([2026, 10, 25, 1, 30, 0], 'Europe/Berlin')).toBe(Date.UTC(2026, 9, 24, 23, 30));
    expect(zonedTime([2026, 10, 25, 4, 30, 0], 'Europe/Berlin')).toBe(Date.UTC(2026, 9, 25, 3, 30));
    // a zone with a quarter-hour offset and no DST
    expect(zonedTime([2026, 6, 1, 12, 0, 0], 'Asia/Kathmandu')).toBe(Date.UTC(2026, 5, 1, 6, 15));
    // the same instants again, now from the offset cache
    expect(zonedTime([2026, 3, 29, 3, 30, 0], 'Europe/Berlin')).toBe(Date.UTC(2026, 2, 29, 1, 30));
  });

  it('reads every kind, and refuses what is not a time', () => {
    const f = {
      s: 1_700_000_000,
      ms: 1_700_000_000_123,
      us: 1_700_000_000_123_456,
      iso: '2023-11-14T22:13:20Z',
      bcd: '231114231320',
    };
    expect(compileTimestamp({ field: 's', kind: 'epoch-s' })(f, 0)).toBe(1_700_000_000_000);
    expect(compileTimestamp({ field: 'ms', kind: 'epoch-ms' })(f, 0)).toBe(1_700_000_000_123);
    expect(compileTimestamp({ field: 'us', kind: 'epoch-us' })(f, 0)).toBe(1_700_000_000_123);
    expect(compileTimestamp({ field: 'iso', kind: 'iso8601' })(f, 0)).toBe(
      Date.parse('2023-11-14T22:13:20Z'),
    );
    expect(compileTimestamp({ field: 'bcd', kind: 'bcd', zone: 'Europe/Berlin' })(f, 0)).toBe(
      Date.parse('2023-11-14T22:13:20Z'),
    );
    expect(compileTimestamp({ from: 'ingest' })(f, 42)).toBe(42);
    expect(() => compileTimestamp({ field: 'iso', kind: 'epoch-ms' })(f, 0)).toThrow('not a number');
    expect(() => compileTimestamp({ field: 'bcd', kind: 'local' })(f, 0)).toThrow('YYYY-MM-DD');
    expect(() => zonedTime([2026, 2, 30, 0, 0, 0], undefined)).toThrow('not a calendar time');
    expect(() => compileTimestamp({ field: 'x', kind: 'local', zone: 'Mars/Olympus' })).toThrow(
      'unknown time zone',
    );
  });
});
