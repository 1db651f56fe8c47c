/**
 * When a rule is in force: a weekly schedule (days of the week and hours of the day, in the site's
 * time zone or a fixed IANA zone) and maintenance windows (absolute ranges of time during which the
 * rule raises nothing).
 *
 *   schedule: { zone: site, days: [mon, tue, wed, thu, fri], hours: [{ from: "07:00", to: "19:00" }] }
 *   maintenance: [{ from: 2026-03-01T22:00:00Z, to: 2026-03-02T02:00:00Z }]
 */
import { z } from 'zod';
import { isKnownZone } from '../../topology/index.ts';

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** "HH:MM" → minutes of the day (0..1440). */
const clockTime = z.string().transform((text, ctx) => {
  const match = /^(\d{1,2}):(\d{2})$/.exec(text);
  if (!match) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a time of day "HH:MM"` });
    return z.NEVER;
  }
  const hour = Number(match[1]);
  const minute = Number(match[2]);
  if (hour > 24 || (hour === 24 && minute !== 0)) {
    ctx.addIssue({ code: 'custom', message: `hour out of range in "${text}" (00 to 24)` });
    return z.NEVER;
  }
  if (minute > 59) {
    ctx.addIssue({ code: 'custom', message: `minute out of range in "${text}" (00 to 59)` });
    return z.NEVER;
  }
  return hour * 60 + minute;
});

/** A weekly schedule; outside it the rule's condition is not judged. */
export const scheduleSchema = z
  .object({
    zone: z
      .string()
      .default('site')
      .refine((zone) => zone === 'site' || isKnownZone(zone), {
        message: 'unknown time zone (give an IANA zone such as Europe/Berlin, or site)',
      })
      .describe("site: the site's time zone (UTC when the site has none), or an IANA zone"),
    days: z
      .array(z.enum(WEEKDAYS))
      .min(1)
      .default([...WEEKDAYS]),
    hours: z
      .array(
        z
          .object({ from: clockTime, to: clockTime })
          .strict()
          .refine((h) => h.from !== h.to, { message: 'from and to are the same time' }),
      )
      .min(1)
      .default([{ from: 0, to: 1440 }])
      .describe('local times of day, from inclusive, to exclusive; from > to spans midnight'),
  })
  .strict();
export type Schedule = z.output<typeof scheduleSchema>;

const instant = z.union([z.string(), z.date()]).transform((value, ctx) => {
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  if (Number.isNaN(ms) || (typeof value === 'string' && !/(Z|[+-]\d{2}:?\d{2})$/.test(value))) {
    ctx.addIssue({ code: 'custom', message: `"${String(value)}" is not an ISO 8601 time with a zone` });
    return z.NEVER;
  }
  return ms;
});

/** Absolute maintenance windows (epoch ms, from inclusive, to exclusive). */
export const maintenanceSchema = z.array(
  z
    .object({ from: instant, to: instant, reason: z.string().optional() })
    .strict()
    .refine((w) => w.from < w.to, { message: 'a maintenance window must end after it starts' }),
);
export type MaintenanceWindow = z.output<typeof maintenanceSchema>[number];
