/**
 * Compiles a spec's timestamp rule into a reader: epoch seconds, milliseconds or microseconds,
 * ISO-8601, BCD `YYMMDDhhmmss`, or device-local `YYYY-MM-DD hh:mm:ss` in a configured IANA zone.
 */
import type { TimestampSpec } from '../../specs/schema.ts';
import { isKnownZone } from '../../topology/clock.ts';
import { wallClockInstant, zoneOffset } from '../time/zoneOffset.ts';
import { DecodeError } from './errors.ts';
import type { FieldValue } from './frame.ts';

const DAY_MS = 86_400_000;

/** Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/** The instant of a wall-clock time given as numbers, in `zone` (UTC when undefined). */
function zonedInstant(
  y: number,
  mo: number,
  d: number,
  h: number,
  mi: number,
  s: number,
  zone: string | undefined,
): number {
  // arithmetic rather than Date: no allocation per record, and the checks are plain comparisons
  if (
    !(mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth(y, mo) && h <= 23 && mi <= 59 && s <= 59) ||
    !(h >= 0 && mi >= 0 && s >= 0)
  ) {
    throw new DecodeError('bad-timestamp', `not a calendar time: ${[y, mo, d, h, mi, s].join(',')}`);
  }
  const asUtc = daysFromCivil(y, mo, d) * DAY_MS + ((h * 60 + mi) * 60 + s) * 1000;
  return zone === undefined ? asUtc : wallClockInstant(zoneOffset(zone), asUtc);
}

/** The instant of a wall-clock time in `zone` (UTC when undefined). */
export function zonedTime(parts: readonly number[], zone: string | undefined): number {
  const [y, mo, d, h, mi, s] = parts as [number, number, number, number, number, number];
  return zonedInstant(y, mo, d, h, mi, s, zone);
}

function numeric(value: unknown, field: string): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) {
    throw new DecodeError(
      'bad-timestamp',
      `timestamp field "${field}" is not a number: ${JSON.stringify(value)}`,
    );
  }
  return n;
}

const LOCAL = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}/;

/** Reads a time (epoch ms) from one field's value (`undefined` when the field is absent). */
export type TimeValueReader = (value: FieldValue | undefined, ingestTimestamp: number) => number;

/**
 * Compiles a timestamp rule into a reader of the field's value, for generated code that already
 * holds the value; checks the zone once, here.
 */
export function compileTimeValue(rule: TimestampSpec): TimeValueReader {
  if ('from' in rule) return (_value, ingest) => ingest;
  const { field, kind, zone } = rule;
  if (zone !== undefined && !isKnownZone(zone)) throw new Error(`unknown time zone "${zone}"`);
  const present = (value: FieldValue | undefined): FieldValue => {
    if (value === undefined || value === null)
      throw new DecodeError('bad-timestamp', `timestamp field "${field}" is missing`);
    return value;
  };
  switch (kind) {
    case 'epoch-s':
      return function epochSeconds(v) {
        return (typeof v === 'number' && Number.isFinite(v) ? v : numeric(present(v), field)) * 1000;
      };
    case 'epoch-ms':
      return function epochMillis(v) {
        return typeof v === 'number' && Number.isFinite(v) ? v : numeric(present(v), field);
      };
    case 'epoch-us':
      return function epochMicros(v) {
        return Math.floor(
          (typeof v === 'number' && Number.isFinite(v) ? v : numeric(present(v), field)) / 1000,
        );
      };
    case 'iso8601':
      return function iso8601(v) {
        const value = present(v);
        if (typeof value !== 'string') return notIso(field, value);
        const fast = isoUtc(value);
        if (!Number.isNaN(fast)) return fast;
        const ms = ISO_DATE.test(value) ? Date.parse(value) : Number.NaN;
        if (Number.isNaN(ms))
          throw new DecodeError('bad-timestamp', `"${field}" is not ISO-8601: ${JSON.stringify(value)}`);
        return ms;
      };
    case 'bcd':
      return function bcdTime(v) {
        const value = present(v);
        // a 6-byte BCD field decodes to the number whose decimal digits are YYMMDDhhmmss
        if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value < 1e12) {
          const date = Math.floor(value / 1e6);
          const time = value - date * 1e6;
          return zonedInstant(
            2000 + Math.floor(date / 10_000),
            Math.floor(date / 100) % 100,
            date % 100,
            Math.floor(time / 10_000),
            Math.floor(time / 100) % 100,
            time % 100,
            zone,
          );
        }
        const digits = String(value).padStart(12, '0');
        if (!/^\d{12}$/.test(digits))
          throw new DecodeError('bad-timestamp', `"${field}" is not BCD YYMMDDhhmmss: ${digits}`);
        const n = (i: number) => Number(digits.slice(i, i + 2));
        return zonedInstant(2000 + n(0), n(2), n(4), n(6), n(8), n(10), zone);
      };
    case 'local':
      return function localTime(v) {
        const m = LOCAL.exec(String(present(v)));
        if (!m) throw new DecodeError('bad-timestamp', `"${field}" is not YYYY-MM-DD hh:mm:ss`);
        return zonedInstant(+m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!, +m[6]!, zone);
      };
  }
}

function notIso(field: string, value: FieldValue): never {
  throw new DecodeError('bad-timestamp', `"${field}" is not ISO-8601: ${JSON.stringify(value)}`);
}

function digits(s: string, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return Number.NaN;
    v = v * 10 + c;
  }
  return v;
}

/**
 * The common shape `YYYY-MM-DDThh:mm:ss[.sss](Z|±hh:mm)` read by hand (no `Date.parse`, no
 * allocation); NaN for anything else, which `Date.parse` then decides.
 */
function isoUtc(s: string): number {
  const n = s.length;
  if (n < 20 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 84)
    return Number.NaN;
  if (s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return Number.NaN;
  const y = digits(s, 0, 4);
  const mo = digits(s, 5, 2);
  const d = digits(s, 8, 2);
  const h = digits(s, 11, 2);
  const mi = digits(s, 14, 2);
  const sec = digits(s, 17, 2);
  let at = 19;
  let ms = 0;
  if (s.charCodeAt(at) === 46) {
    if (n < at + 4) return Number.NaN;
    ms = digits(s, at + 1, 3);
    at += 4;
  }
  let offset = 0;
  if (at === n - 1 && s.charCodeAt(at) === 90) {
    // Z
  } else if (at === n - 6 && s.charCodeAt(at + 3) === 58) {
    const sign = s.charCodeAt(at);
    if (sign !== 43 && sign !== 45) return Number.NaN;
    offset = (digits(s, at + 1, 2) * 60 + digits(s, at + 4, 2)) * 60_000 * (sign === 43 ? 1 : -1);
  } else return Number.NaN;
  // out-of-range parts (and NaN from a non-digit) go to Date.parse, which knows the edge cases
  if (!(mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth(y, mo) && h <= 23 && mi <= 59 && sec <= 59))
    return Number.NaN;
  if (!(ms >= 0) || Number.isNaN(offset)) return Number.NaN;
  return daysFromCivil(y, mo, d) * DAY_MS + ((h * 60 + mi) * 60 + sec) * 1000 + ms - offset;
}
