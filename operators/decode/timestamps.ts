/**
 * Compiles a spec's timestamp rule into a reader: epoch seconds, milliseconds or microseconds,
 * ISO-8601, BCD `YYMMDDhhmmss`, or device-local `YYYY-MM-DD hh:mm:ss` in a configured IANA zone.
 */
import type { TimestampSpec } from '../../specs/schema.ts';
import { DecodeError } from './errors.ts';
import type { DecodedFields } from './frame.ts';

/** Reads a record's time (epoch ms) from its fields, or from the ingest time. */
export type TimestampReader = (fields: DecodedFields, ingestTimestamp: number) => number;

const formatters = new Map<string, Intl.DateTimeFormat>();

const HOUR_MS = 3_600_000;
const offsetCache = new Map<string, number>();

/**
 * Offset of `zone` from UTC at the instant `epochMs`, in ms. Zones change offset only on the hour
 * (or half hour) in practice, so offsets are cached per zone and UTC quarter hour: devices report
 * the same few hours over and over, and `Intl` is far too slow to ask per record.
 */
function zoneOffset(zone: string, epochMs: number): number {
  const key = `${zone}|${Math.floor(epochMs / (HOUR_MS / 4))}`;
  let offset = offsetCache.get(key);
  if (offset === undefined) {
    if (offsetCache.size > 10_000) offsetCache.clear();
    offset = computeZoneOffset(zone, epochMs);
    offsetCache.set(key, offset);
  }
  return offset;
}

function computeZoneOffset(zone: string, epochMs: number): number {
  let f = formatters.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(zone, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(epochMs)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return (
    Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) - Math.floor(epochMs / 1000) * 1000
  );
}

/** The instant of a wall-clock time in `zone` (UTC when undefined). */
export function zonedTime(parts: readonly number[], zone: string | undefined): number {
  const [y, mo, d, h, mi, s] = parts as [number, number, number, number, number, number];
  const asUtc = Date.UTC(y, mo - 1, d, h, mi, s);
  const check = new Date(asUtc);
  if (check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) {
    throw new DecodeError('bad-timestamp', `not a calendar time: ${parts.join(',')}`);
  }
  if (zone === undefined) return asUtc;
  // two passes find the right offset across daylight-saving changes
  const first = asUtc - zoneOffset(zone, asUtc);
  return asUtc - zoneOffset(zone, first);
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

const BCD = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/;
const LOCAL = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})$/;

/** Compiles a timestamp rule; checks the zone once, here. */
export function compileTimestamp(rule: TimestampSpec): TimestampReader {
  if ('from' in rule) return (_fields, ingest) => ingest;
  const { field, kind, zone } = rule;
  if (zone !== undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone });
    } catch {
      throw new Error(`unknown time zone "${zone}"`);
    }
  }
  const read = (fields: DecodedFields) => {
    const value = fields[field];
    if (value === undefined || value === null)
      throw new DecodeError('bad-timestamp', `timestamp field "${field}" is missing`);
    return value;
  };
  switch (kind) {
    case 'epoch-s':
      return (f) => numeric(read(f), field) * 1000;
    case 'epoch-ms':
      return (f) => numeric(read(f), field);
    case 'epoch-us':
      return (f) => Math.floor(numeric(read(f), field) / 1000);
    case 'iso8601':
      return (f) => {
        const value = read(f);
        const ms =
          typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
        if (Number.isNaN(ms))
          throw new DecodeError('bad-timestamp', `"${field}" is not ISO-8601: ${JSON.stringify(value)}`);
        return ms;
      };
    case 'bcd':
      return (f) => {
        const digits = String(read(f)).padStart(12, '0');
        const m = BCD.exec(digits);
        if (!m) throw new DecodeError('bad-timestamp', `"${field}" is not BCD YYMMDDhhmmss: ${digits}`);
        const [, yy, mo, d, h, mi, s] = m.map(Number) as number[];
        return zonedTime([2000 + yy!, mo!, d!, h!, mi!, s!], zone);
      };
    case 'local':
      return (f) => {
        const m = LOCAL.exec(String(read(f)));
        if (!m) throw new DecodeError('bad-timestamp', `"${field}" is not YYYY-MM-DD hh:mm:ss`);
        return zonedTime(m.slice(1).map(Number), zone);
      };
  }
}
