/**
 * Aggregate rules in the rule operator (`operators/rules/aggregateRule.ts`): a statistic of a device's
 * window judged when the window is complete (or, for running values, at each reading too), the windows
 * cut in the windows' zone; the same events whatever the batch cuts.
 */
import { describe, expect, it } from 'vitest';
import { aggregateCellCodec } from '../../../../operators/rules/aggregateRule.ts';
import type { CompiledRuleset } from '../../../../operators/rules/compile/compileRuleset.ts';
import type { AlarmEvent, Enriched } from '../../../../topology/index.ts';
import { RuleHarness, reading, thermoRules } from '../../../support/ruleFixtures.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** A Monday, 00:00 UTC. */
const T0 = Date.UTC(2026, 0, 5);

const HOT_DAY = thermoRules(
  `  - { id: hot-day, kind: aggregate, severity: minor, message: a hot day, metric: temperature, window: 1d, statistic: mean, op: ">", value: 26 }\n`,
);

async function run(
  ruleset: CompiledRuleset,
  records: readonly Enriched[],
  size = 50,
  windowZone?: string,
): Promise<{ events: AlarmEvent[]; writes: number }> {
  const h = new RuleHarness({
    rulesets: (p) => (p === ruleset.productId ? ruleset : undefined),
    config: { allowedOutOfOrdernessMs: 0 },
    ...(windowZone === undefined ? {} : { windowZone }),
  });
  await h.send(records, size);
  const events = [...h.events];
  const writes = h.operator.counters.aggregateWrites;
  await h.close();
  return { events, writes };
}

/** Readings of `device` every 10 minutes from `from` for `ms`, the temperature `f(i)`. */
function every10min(device: string, from: number, ms: number, f: (i: number) => number): Enriched[] {
  const out: Enriched[] = [];
  for (let i = 0; i * 10 * MIN < ms; i++)
    out.push(reading(device, from + i * 10 * MIN, { temperature: f(i) }));
  return out;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const brief = (events: readonly AlarmEvent[]) =>
  events.map((e) => ({ kind: e.kind, at: e.at, value: e.episode.value, device: e.episode.deviceId }));

describe('rule operator: aggregate rules', () => {
  // day 1 about 24 °C, day 2 about 28 °C, day 3 about 24 °C, one reading on day 4
  const wave = (day: number) => (i: number) => (day === 1 ? 28 : 24) + Math.sin(i / 5);
  const days = [0, 1, 2].flatMap((d) => every10min('thermo-1', T0 + d * DAY, DAY, wave(d)));
  const day4 = reading('thermo-1', T0 + 3 * DAY + 5 * MIN, { temperature: 20 });
  const records = [...days, day4];

  it("a day's mean: raised at the end of the day that holds, with the day's mean; cleared at the end of the next", async () => {
    const { events, writes } = await run(HOT_DAY, records);
    const day2 = days.slice(144, 288).map((r) => r.metrics.temperature as number);
    // the mean by Welford's update, as the windows compute it: equal to the plain mean to rounding
    const value = expect.closeTo(mean(day2), 12);
    expect(brief(events)).toEqual([
      { kind: 'raise', at: T0 + 2 * DAY, value, device: 'thermo-1' },
      { kind: 'clear', at: T0 + 3 * DAY, value, device: 'thermo-1' },
      { kind: 'close', at: T0 + 3 * DAY, value, device: 'thermo-1' },
    ]);
    expect(events[0]!.episode.message).toBe('a hot day');
    expect(writes).toBe(records.length);
  });

  it('gives the same events whatever the batch cuts, with the window ends judged by timers or readings', async () => {
    const other = every10min('thermo-2', T0 + 7, 3 * DAY, (i) => 25 + 3 * Math.sin(i / 40));
    const both = [...records, ...other].sort((a, b) => a.device_timestamp - b.device_timestamp);
    const a = await run(HOT_DAY, both, 500);
    const b = await run(HOT_DAY, both, 7);
    const c = await run(HOT_DAY, both, 1);
    expect(a.events.length).toBeGreaterThanOrEqual(3);
    expect(b.events).toEqual(a.events);
    expect(c.events).toEqual(a.events);
  });

  it('running values: raised at the reading that makes the hour hold, cleared by the first reading of an hour that does not', async () => {
    const rules = thermoRules(
      `  - { id: spike-hour, kind: aggregate, severity: major, metric: temperature, window: 1h, statistic: max, final: false, op: ">", value: 30 }\n`,
    );
    const temps = [20, 21, 31, 22, 20, 20, 21, 20]; // every 15 minutes: the spike in the first hour
    const spike = temps.map((t, i) => reading('thermo-1', T0 + i * 15 * MIN, { temperature: t }));
    const { events } = await run(rules, spike);
    expect(brief(events)).toEqual([
      { kind: 'raise', at: T0 + 30 * MIN, value: 31, device: 'thermo-1' },
      { kind: 'clear', at: T0 + HOUR, value: 31, device: 'thermo-1' },
      { kind: 'close', at: T0 + HOUR, value: 31, device: 'thermo-1' },
    ]);
  });

  it("cuts its windows in the windows' zone: a Kolkata day ends at 18:30 UTC", async () => {
    const rules = thermoRules(
      `  - { id: busy-day, kind: aggregate, severity: info, metric: temperature, window: 1d, statistic: count, op: ">=", value: 3 }\n`,
    );
    // three readings on the Kolkata day that ends 2026-01-05T18:30Z, one after it
    const at = [T0 + 10 * HOUR, T0 + 15 * HOUR, T0 + 18 * HOUR, T0 + 19 * HOUR];
    const readings = at.map((t) => reading('thermo-1', t, { temperature: 20 }));
    const kolkata = await run(rules, readings, 50, 'Asia/Kolkata');
    expect(brief(kolkata.events)).toEqual([
      { kind: 'raise', at: Date.UTC(2026, 0, 5, 18, 30), value: 3, device: 'thermo-1' },
    ]);
    // in UTC the four readings are one day, still open
    expect((await run(rules, readings)).events).toEqual([]);
  });

  it('does not add a reading of a window already judged, and leaves a device without the metric alone', async () => {
    const rules = thermoRules(
      `  - { id: many, kind: aggregate, severity: info, metric: temperature, window: 1h, statistic: sum, op: ">", value: 100 }\n`,
    );
    const h = new RuleHarness({ rulesets: () => rules, config: { allowedOutOfOrdernessMs: 30 * MIN } });
    await h.send([
      reading('thermo-1', T0 + 10 * MIN, { temperature: 60 }),
      reading('thermo-1', T0 + 70 * MIN, { temperature: 1 }), // ends the first hour: sum 60
      reading('thermo-1', T0 + 50 * MIN, { temperature: 60 }), // of the hour judged: not added
      reading('thermo-1', T0 + 130 * MIN, { humidity: 50 }), // no temperature
    ]);
    expect(h.events).toEqual([]);
    await h.close();
  });

  it("a cell's bytes round-trip exactly, and bytes of another length are refused", () => {
    const cell = new Float64Array(13).map((_, i) => (i === 5 ? Number.NEGATIVE_INFINITY : i * 1.5));
    expect(aggregateCellCodec.decode(aggregateCellCodec.encode(cell))).toEqual(cell);
    expect(() => aggregateCellCodec.decode(new Uint8Array(8 * 12))).toThrow(/96 bytes where a cell has 104/);
  });
});
