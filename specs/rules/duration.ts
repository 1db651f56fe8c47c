/**
 * Durations as rule authors write them: a whole number and a unit, `500ms`, `60s`, `5m`, `2h`, `1d`.
 * Event-time durations throughout (on-delay, repeat windows, escalation), kept in milliseconds once
 * validated.
 */
import { z } from 'zod';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const PATTERN = /^(\d+)(ms|s|m|h|d)$/;

/** The milliseconds of a duration text, or undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const match = PATTERN.exec(text.trim());
  if (!match) return undefined;
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** A duration field: text such as `60s` or `5m`, parsed to milliseconds. */
export const durationSchema = z
  .string()
  .transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined || ms <= 0) {
      ctx.addIssue({
        code: 'custom',
        message: `"${text}" is not a duration: a whole number > 0 and a unit, ms, s, m, h or d (e.g. 60s, 5m)`,
      });
      return z.NEVER;
    }
    return ms;
  })
  .describe('a duration: 500ms, 60s, 5m, 2h, 1d');
