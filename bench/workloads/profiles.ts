/**
 * Rate profiles: how many records a workload offers per second over a run. Each profile answers
 * "how many records are due by time t" exactly (the integral of its rate), so a producer paced by
 * elapsed time makes up a slow tick in the next one and the total is the profile's, not the timer's.
 */
import { z } from 'zod';

/** A rate profile as a workload declares it. */
export const rateProfileSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('steady'),
      rate: z.number().positive().describe('records per second'),
    })
    .strict(),
  z
    .object({
      kind: z.literal('ramp'),
      from: z.number().nonnegative().describe('records per second at the start'),
      to: z.number().positive().describe('records per second at the end of the ramp, then held'),
      overSeconds: z.number().positive().describe('length of the ramp'),
    })
    .strict(),
  z
    .object({
      kind: z.literal('burst'),
      rate: z.number().positive().describe('records per second between bursts'),
      peak: z.number().positive().describe('records per second during a burst'),
      everySeconds: z.number().positive().describe('a burst starts every so many seconds'),
      burstSeconds: z.number().positive().describe('length of a burst'),
    })
    .strict(),
]);
/** See {@link rateProfileSchema}. */
export type RateProfile = z.output<typeof rateProfileSchema>;

/** Records per second at `t` seconds into the run. */
export function rateAt(p: RateProfile, t: number): number {
  if (p.kind === 'steady') return p.rate;
  if (p.kind === 'ramp') return t >= p.overSeconds ? p.to : p.from + ((p.to - p.from) * t) / p.overSeconds;
  return t % p.everySeconds < p.burstSeconds ? p.peak : p.rate;
}

/** Records due in the first `t` seconds of the run (the integral of {@link rateAt}). */
export function dueBy(p: RateProfile, t: number): number {
  if (t <= 0) return 0;
  if (p.kind === 'steady') return p.rate * t;
  if (p.kind === 'ramp') {
    const r = Math.min(t, p.overSeconds);
    const ramp = p.from * r + ((p.to - p.from) * r * r) / (2 * p.overSeconds);
    return ramp + p.to * Math.max(0, t - p.overSeconds);
  }
  const cycles = Math.floor(t / p.everySeconds);
  const inCycle = t - cycles * p.everySeconds;
  const burst = Math.min(p.burstSeconds, p.everySeconds);
  const perCycle = p.peak * burst + p.rate * (p.everySeconds - burst);
  const partial = p.peak * Math.min(inCycle, burst) + p.rate * Math.max(0, inCycle - burst);
  return cycles * perCycle + partial;
}

/** The profile with its rates multiplied so its base rate is `rate` (the `rate` knob). */
export function scaleProfile(p: RateProfile, rate: number): RateProfile {
  if (p.kind === 'steady') return { ...p, rate };
  if (p.kind === 'ramp') return { ...p, from: (p.from * rate) / p.to, to: rate };
  return { ...p, peak: (p.peak * rate) / p.rate, rate };
}

/** The profile in a few words, for tables. */
export function describeProfile(p: RateProfile): string {
  const f = (n: number) => Math.round(n).toLocaleString('en-US');
  if (p.kind === 'steady') return `steady ${f(p.rate)}/s`;
  if (p.kind === 'ramp') return `ramp ${f(p.from)}→${f(p.to)}/s over ${p.overSeconds} s`;
  return `${f(p.rate)}/s, bursts of ${f(p.peak)}/s for ${p.burstSeconds} s every ${p.everySeconds} s`;
}
