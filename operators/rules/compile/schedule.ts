/**
 * A rule's schedule and maintenance windows as predicates on event time. The schedule's days and
 * hours are read on the local clock of its zone (the site's, passed per reading, or a fixed one),
 * through the quarter-hour cache of zone offsets the decode and window stages use.
 */
import type { MaintenanceWindow, Schedule } from '../../../specs/rules/schedule.ts';
import { WEEKDAYS } from '../../../specs/rules/schedule.ts';
import { isKnownZone } from '../../../topology/index.ts';
import { zoneOffset } from '../../time/zoneOffset.ts';

const DAY_MS = 86_400_000;

/** Whether a reading taken at `eventTimeMs` at a site in `siteZone` falls in the rule's schedule. */
export type InSchedule = (eventTimeMs: number, siteZone?: string) => boolean;

/** Whether `eventTimeMs` falls in a maintenance window. */
export type InMaintenance = (eventTimeMs: number) => boolean;

/** Always in force: a rule without a schedule. */
export const ALWAYS: InSchedule = () => true;
/** Never in maintenance. */
export const NEVER: InMaintenance = () => false;

/** The day of the week (0 = Sunday) and the minute of the day of a local wall-clock time. */
export function localDayAndMinute(eventTimeMs: number, zone: string): { day: number; minute: number } {
  const local = eventTimeMs + zoneOffset(zone)(eventTimeMs);
  const days = Math.floor(local / DAY_MS);
  // 1970-01-01 was a Thursday
  return { day: (((days + 4) % 7) + 7) % 7, minute: Math.floor((local - days * DAY_MS) / 60_000) };
}

/**
 * Compiles a schedule. A time range whose end is before its start spans midnight and belongs to the
 * day it starts on only in its evening part: days are the local day of the reading itself.
 * With `zone: site` and no zone for the site, or one this runtime does not know (master data is not
 * checked against the zone database), the schedule is read in UTC: a bad zone on one site must not
 * stop its shard.
 */
export function compileSchedule(schedule: Schedule | undefined): InSchedule {
  if (schedule === undefined) return ALWAYS;
  let days = 0;
  for (const d of schedule.days) days |= 1 << WEEKDAYS.indexOf(d);
  const ranges = schedule.hours.map((h) => [h.from, h.to] as const);
  const fixed = schedule.zone === 'site' ? undefined : schedule.zone;
  return function inSchedule(eventTimeMs, siteZone) {
    const { day, minute } = localDayAndMinute(eventTimeMs, fixed ?? siteZoneOrUtc(siteZone));
    if ((days & (1 << day)) === 0) return false;
    for (const [from, to] of ranges) {
      if (from < to ? minute >= from && minute < to : minute >= from || minute < to) return true;
    }
    return false;
  };
}

const knownSiteZones = new Map<string, boolean>();

function siteZoneOrUtc(zone: string | undefined): string {
  if (zone === undefined) return 'UTC';
  let known = knownSiteZones.get(zone);
  if (known === undefined) {
    known = isKnownZone(zone);
    // a bounded memo: site zones are few, and garbage must not grow it without limit
    if (knownSiteZones.size > 1_000) knownSiteZones.clear();
    knownSiteZones.set(zone, known);
  }
  return known ? zone : 'UTC';
}

/** Compiles maintenance windows (a rule's and its ruleset's together). */
export function compileMaintenance(windows: readonly MaintenanceWindow[]): InMaintenance {
  if (windows.length === 0) return NEVER;
  const spans = windows.map((w) => [w.from, w.to] as const).sort((a, b) => a[0] - b[0]);
  return function inMaintenance(eventTimeMs) {
    for (const [from, to] of spans) {
      if (eventTimeMs < from) return false;
      if (eventTimeMs < to) return true;
    }
    return false;
  };
}
