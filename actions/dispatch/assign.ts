/**
 * Who may take a dispatch now: the engineers that match by skills and region come from the Warm store
 * already ordered by load; this file judges their quiet hours at the request's time, in each
 * engineer's own zone, and picks the first one free. Pure, so the rules are tested without a database.
 */
import type { Engineer } from './types.ts';

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The local minute of the day (0–1439) at `at` in `zone`. */
export function localMinuteOf(zone: string, at: number): number {
  let format = formatters.get(zone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-GB', {
      timeZone: zone,
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(zone, format);
  }
  let hour = 0;
  let minute = 0;
  for (const part of format.formatToParts(at)) {
    if (part.type === 'hour') hour = Number(part.value);
    else if (part.type === 'minute') minute = Number(part.value);
  }
  return hour * 60 + minute;
}

/** Minutes after midnight of an 'HH:MM' time. */
export function minuteOfDay(hhmm: string): number {
  const [h, m] = hhmm.split(':');
  return Number(h) * 60 + Number(m);
}

/**
 * Whether `at` falls in the engineer's quiet hours: `from` inclusive, `to` exclusive, spanning
 * midnight when `from` is later than `to` (22:00–07:00). Equal times mean no quiet hours.
 */
export function isQuiet(engineer: Pick<Engineer, 'zone' | 'quietHours'>, at: number): boolean {
  if (engineer.quietHours === null) return false;
  const from = minuteOfDay(engineer.quietHours.from);
  const to = minuteOfDay(engineer.quietHours.to);
  const now = localMinuteOf(engineer.zone, at);
  return from <= to ? now >= from && now < to : now >= from || now < to;
}

/** The first candidate (they come ordered: fewest open dispatches, then id) not in quiet hours at `at`. */
export function chooseEngineer<E extends Pick<Engineer, 'zone' | 'quietHours'>>(
  candidates: readonly E[],
  at: number,
): E | undefined {
  return candidates.find((e) => !isQuiet(e, at));
}
