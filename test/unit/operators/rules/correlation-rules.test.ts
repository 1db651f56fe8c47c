/**
 * Device-scope correlation rules in the rule operator (`operators/rules/correlationRule.ts`): judged
 * at the event times at which the rules they watch change, on those rules' episodes as they were
 * then; `within`; chains of correlations; the same events whatever the batch cuts.
 */
import { describe, expect, it } from 'vitest';
import type { CompiledRuleset } from '../../../../operators/rules/compile/compileRuleset.ts';
import type { AlarmEvent, Enriched } from '../../../../topology/index.ts';
import { RuleHarness, reading, thermoRules } from '../../../support/ruleFixtures.ts';

const MIN = 60_000;
/** A Monday, 00:00 UTC. */
const T0 = Date.UTC(2026, 0, 5);

const RULES = `  - { id: hot, kind: threshold, severity: major, when: { metric: temperature, op: ">", value: 30 } }
  - { id: damp, kind: threshold, severity: minor, onDelay: 2m, when: { metric: humidity, op: ">", value: 85 } }
  - { id: hot-and-damp, kind: correlation, severity: critical, scope: device, when: { all: [hot, damp] }, within: 5m }
  - { id: hot-not-damp, kind: correlation, severity: info, scope: device, when: { all: [hot, { not: damp }] } }
  - { id: chain, kind: correlation, severity: info, scope: device, when: { any: [hot-and-damp] } }\n`;

async function run(ruleset: CompiledRuleset, records: readonly Enriched[], size = 50): Promise<AlarmEvent[]> {
  const h = new RuleHarness({ rulesets: () => ruleset, config: { allowedOutOfOrdernessMs: 0 } });
  await h.send(records, size);
  const events = [...h.events];
  await h.close();
  return events;
}

/** Readings of thermo-1 every minute: `temperature(m)` and `humidity(m)` at minute m. */
function minutes(n: number, temperature: (m: number) => number, humidity: (m: number) => number): Enriched[] {
  return Array.from({ length: n }, (_, m) =>
    reading('thermo-1', T0 + m * MIN, { temperature: temperature(m), humidity: humidity(m) }),
  );
}

const of = (events: readonly AlarmEvent[], rule: string) =>
  events.filter((e) => e.episode.ruleId === rule).map((e) => ({ kind: e.kind, at: e.at }));

describe('rule operator: device-scope correlations', () => {
  it('raises when the rules it watches hold together, at the time the last of them was raised, and clears with them', async () => {
    // hot from minute 3 to 12; damp's condition from minute 5, raised after its 2 min on-delay at 7
    const records = minutes(
      20,
      (m) => (m >= 3 && m < 12 ? 35 : 20),
      (m) => (m >= 5 ? 90 : 50),
    );
    const events = await run(thermoRules(RULES), records);
    expect(of(events, 'hot')).toEqual([
      { kind: 'raise', at: T0 + 3 * MIN },
      { kind: 'clear', at: T0 + 12 * MIN },
      { kind: 'close', at: T0 + 12 * MIN },
    ]);
    expect(of(events, 'damp')).toEqual([{ kind: 'raise', at: T0 + 7 * MIN }]);
    expect(of(events, 'hot-and-damp')).toEqual([
      { kind: 'raise', at: T0 + 7 * MIN },
      { kind: 'clear', at: T0 + 12 * MIN },
      { kind: 'close', at: T0 + 12 * MIN },
    ]);
    // hot without damp from 3 until damp was raised at 7
    expect(of(events, 'hot-not-damp')).toEqual([
      { kind: 'raise', at: T0 + 3 * MIN },
      { kind: 'clear', at: T0 + 7 * MIN },
      { kind: 'close', at: T0 + 7 * MIN },
    ]);
    // a correlation over a correlation follows it at the same times
    expect(of(events, 'chain')).toEqual(of(events, 'hot-and-damp'));
  });

  it('raises nothing when the rules were raised further apart than within', async () => {
    // hot from minute 1, damp raised at 12: 11 minutes apart, within is 5
    const records = minutes(
      20,
      (m) => (m >= 1 ? 35 : 20),
      (m) => (m >= 10 ? 90 : 50),
    );
    const events = await run(thermoRules(RULES), records);
    expect(of(events, 'damp')).toEqual([{ kind: 'raise', at: T0 + 12 * MIN }]);
    expect(of(events, 'hot-and-damp')).toEqual([]);
  });

  it('gives the same events whatever the batch cuts (the on-delay completed by a timer or by a reading)', async () => {
    const devices = [0, 1, 2].flatMap((d) =>
      Array.from({ length: 120 }, (_, m) =>
        reading(`thermo-${d}`, T0 + m * MIN + d * 7, {
          temperature: 30 + 6 * Math.sin((m + 9 * d) / 6),
          humidity: 85 + 8 * Math.sin((m + 5 * d) / 11),
        }),
      ),
    );
    devices.sort((a, b) => a.device_timestamp - b.device_timestamp);
    const rules = thermoRules(RULES);
    const a = await run(rules, devices, 500);
    const b = await run(rules, devices, 7);
    const c = await run(rules, devices, 1);
    expect(a.filter((e) => e.episode.ruleId === 'hot-and-damp' && e.kind === 'raise').length).toBeGreaterThan(
      2,
    );
    expect(b).toEqual(a);
    expect(c).toEqual(a);
  });

  it('treats a rule an override disabled for the device as unknown: all of it is never true', async () => {
    const rules = thermoRules(RULES);
    const withOverride = thermoRules(
      `${RULES}overrides:\n  - device: thermo-1\n    rules: { damp: { enabled: false } }\n`,
    );
    const records = minutes(
      20,
      () => 35,
      () => 90,
    );
    expect(of(await run(rules, records), 'hot-and-damp').length).toBeGreaterThan(0);
    expect(of(await run(withOverride, records), 'hot-and-damp')).toEqual([]);
    expect(of(await run(withOverride, records), 'hot-not-damp')).toEqual([]);
  });
});
