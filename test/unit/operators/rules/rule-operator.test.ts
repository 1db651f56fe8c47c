/**
 * The rule operator on the runtime (test driver, embedded keyed state, `ManualClock`): threshold rules
 * with hysteresis, on-delay, off-delay, repeat, schedule and maintenance, escalation on the event-time
 * timer, the same episode ids on a replay, and state written only on transitions.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type CompiledRuleset, compileRuleset } from '../../../../operators/rules/compile/compileRuleset.ts';
import { parseRuleset } from '../../../../specs/rules/loader.ts';
import { type AlarmEvent, type Enriched, silentLogger } from '../../../../topology/index.ts';
import { noisySignal, RuleHarness, reading, thermoRules } from '../../../support/ruleFixtures.ts';

const SEC = 1_000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
/** A Monday, 00:00 UTC. */
const T0 = Date.UTC(2026, 0, 5);

const harness = (ruleset: CompiledRuleset, allowedOutOfOrdernessMs = 0) =>
  new RuleHarness({
    rulesets: (p) => (p === ruleset.productId ? ruleset : undefined),
    config: { allowedOutOfOrdernessMs },
  });

const kinds = (events: readonly AlarmEvent[]) => events.map((e) => e.kind);
const raises = (events: readonly AlarmEvent[]) => events.filter((e) => e.kind === 'raise');

/** One reading a second of `values` for `device`, from `from`. */
const series = (device: string, from: number, values: readonly number[], stepMs = SEC): Enriched[] =>
  values.map((v, i) => reading(device, from + i * stepMs, { temperature: v }));

async function runOn(ruleset: CompiledRuleset, records: readonly Enriched[], size = 50) {
  const h = harness(ruleset);
  await h.send(records, size);
  const events = [...h.events];
  const counters = { ...h.operator.counters };
  await h.close();
  return { events, counters };
}

describe('rule operator: threshold rules', () => {
  it("the issue's signal: a plain threshold flaps into 100+ episodes, hysteresis and a 60 s on-delay into at most one", async () => {
    const signal = series('thermo-1', T0, noisySignal(20_260_105, 3_600, 10, 0.3));
    const plain = thermoRules(
      `  - { id: hot, kind: threshold, severity: major, when: { metric: temperature, op: ">", value: 10 } }\n`,
    );
    const damped = thermoRules(
      `  - id: hot
    kind: threshold
    severity: major
    when: { metric: temperature, op: ">", value: 10 }
    clear: { hysteresis: 0.5 }
    onDelay: 60s\n`,
    );
    const a = await runOn(plain, signal);
    expect(raises(a.events).length).toBeGreaterThanOrEqual(100);
    const b = await runOn(damped, signal);
    expect(raises(b.events).length).toBeLessThanOrEqual(1);
    // the state is written on transitions only: far fewer writes than readings when the rule is calm
    expect(b.counters.stateWrites).toBeLessThan(signal.length);
  });

  it('two readings 1 ms apart raise one episode', async () => {
    const rules = thermoRules(
      `  - { id: hot, kind: threshold, severity: major, when: { metric: temperature, op: ">", value: 30 } }\n`,
    );
    const { events } = await runOn(rules, [
      reading('thermo-1', T0, { temperature: 31 }),
      reading('thermo-1', T0 + 1, { temperature: 31.5 }),
    ]);
    expect(kinds(events)).toEqual(['raise']);
    expect(events[0]!.episode.value).toBe(31);
  });

  it('on-delay: raised at exactly pendingSince + D, on the next reading or on the timer, alike', async () => {
    const rules = thermoRules(
      `  - { id: hot, kind: threshold, severity: major, onDelay: 60s, when: { metric: temperature, op: ">", value: 30 } }\n`,
    );
    // held 30 s, then false: nothing
    const short = await runOn(rules, [
      ...series('thermo-1', T0, [31, 31, 31, 31]).map((r, i) => ({
        ...r,
        device_timestamp: T0 + i * 10 * SEC,
      })),
      reading('thermo-1', T0 + 40 * SEC, { temperature: 20 }),
    ]);
    expect(short.events).toEqual([]);
    // held, next reading of the device 2 minutes later: raised at T0 + 60 s
    const byReading = await runOn(rules, [
      reading('thermo-1', T0, { temperature: 31 }),
      reading('thermo-1', T0 + 2 * MIN, { temperature: 31 }),
    ]);
    expect(kinds(byReading.events)).toEqual(['raise']);
    expect(byReading.events[0]!.episode.openedAt).toBe(T0 + MIN);
    // held, then only another device's readings move the watermark past it: the timer raises it
    const byTimer = await runOn(
      rules,
      [reading('thermo-1', T0, { temperature: 31 }), reading('thermo-2', T0 + 2 * MIN, { temperature: 20 })],
      1,
    );
    expect(byTimer.events.map((e) => [e.kind, e.id, e.episode.openedAt])).toEqual(
      byReading.events.map((e) => [e.kind, e.id, e.episode.openedAt]),
    );
  });

  it('hysteresis and off-delay: the clear side must hold for D before clearing', async () => {
    const rules = thermoRules(
      `  - id: hot
    kind: threshold
    severity: major
    when: { metric: temperature, op: ">", value: 30 }
    clear: { hysteresis: 1 }
    offDelay: 30s\n`,
    );
    const values = [31, 29.5, 31, 28, 28, 28, 28, 28];
    const { events } = await runOn(rules, series('thermo-1', T0, values, 10 * SEC));
    // 29.5 is in the deadband; 28 at +30 s starts the off-delay, cleared 30 s later (at +60 s)
    expect(kinds(events)).toEqual(['raise', 'clear', 'close']);
    expect(events[1]!.at).toBe(T0 + 60 * SEC);
  });

  it('repeat: raised only when the condition became true n times within T', async () => {
    const rules = thermoRules(
      `  - { id: hot, kind: threshold, severity: major, repeat: { count: 3, within: 10m }, when: { metric: temperature, op: ">", value: 30 } }\n`,
    );
    // two rising edges, then a third 20 minutes later (outside 10 m): nothing
    const sparse = await runOn(
      rules,
      series('thermo-1', T0, [31, 20, 31, 20], MIN).concat(series('thermo-1', T0 + 20 * MIN, [31, 20])),
    );
    expect(sparse.events).toEqual([]);
    // three rising edges within 5 minutes: raised at the third
    const dense = await runOn(rules, series('thermo-1', T0, [31, 20, 31, 31, 20, 31], MIN));
    expect(kinds(dense.events)).toEqual(['raise']);
    expect(dense.events[0]!.episode.openedAt).toBe(T0 + 5 * MIN);
  });

  it('schedule: outside its hours no raise; the condition still holding when they begin raises then', async () => {
    const rules = thermoRules(
      `  - id: hot
    kind: threshold
    severity: major
    when: { metric: temperature, op: ">", value: 30 }
    schedule: { zone: UTC, days: [mon, tue, wed, thu, fri], hours: [{ from: "07:00", to: "19:00" }] }\n`,
    );
    const night = await runOn(rules, series('thermo-1', T0 + 2 * HOUR, [31, 31, 31], MIN));
    expect(night.events).toEqual([]);
    const sunday = await runOn(rules, series('thermo-1', T0 - 14 * HOUR, [31, 31], MIN));
    expect(sunday.events).toEqual([]);
    const morning = await runOn(rules, series('thermo-1', T0 + 7 * HOUR - MIN, [31, 31, 31], MIN));
    expect(kinds(morning.events)).toEqual(['raise']);
    expect(morning.events[0]!.episode.openedAt).toBe(T0 + 7 * HOUR);
  });

  it('maintenance: inside a window no raise, and an on-delay running into it is dropped', async () => {
    const rules = thermoRules(
      `  - { id: hot, kind: threshold, severity: major, onDelay: 10m, when: { metric: temperature, op: ">", value: 30 } }\n`,
      'maintenance: [{ from: "2026-01-05T10:00:00Z", to: "2026-01-05T12:00:00Z" }]\n',
    );
    const inside = await runOn(rules, series('thermo-1', T0 + 10 * HOUR, [31, 31, 31, 31], 5 * MIN));
    expect(inside.events).toEqual([]);
    // pending from 09:55, due 10:05 in the window: dropped; no raise until after it
    const into = await runOn(rules, series('thermo-1', T0 + 10 * HOUR - 5 * MIN, [31, 31, 31, 31], 5 * MIN));
    expect(into.events).toEqual([]);
    const after = await runOn(rules, series('thermo-1', T0 + 12 * HOUR, [31, 31, 31, 31], 5 * MIN));
    expect(kinds(after.events)).toEqual(['raise']);
    expect(after.events[0]!.episode.openedAt).toBe(T0 + 12 * HOUR + 10 * MIN);
  });

  it('escalation by timer: one step up after 10 minutes active with no new reading of the device', async () => {
    const rules = thermoRules(
      `  - id: hot
    kind: threshold
    severity: minor
    when: { metric: temperature, op: ">", value: 30 }
    escalate: [{ after: 10m, to: critical }]\n`,
    );
    const h = harness(rules);
    await h.send([reading('thermo-1', T0, { temperature: 31 })]);
    // only another device on the shard moves event time on: the timer at T0 + 10 m fires
    await h.send(series('thermo-2', T0 + MIN, [20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20], MIN), 1);
    const events = [...h.events];
    await h.close();
    expect(kinds(events)).toEqual(['raise', 'severity']);
    // the product's severities are mapped to the platform's by rank (minor: 2nd → warning)
    expect(events[0]!.episode.severity).toBe('warning');
    expect(events[1]!.episode.severity).toBe('major');
    expect(events[1]!.at).toBe(T0 + 10 * MIN);
    expect(events[1]!.id).toBe(`${events[0]!.episodeId}/2`);
  });

  it('escalates step by step, each step counted from when the alarm became active', async () => {
    const rules = thermoRules(
      `  - id: hot
    kind: threshold
    severity: minor
    when: { metric: temperature, op: ">", value: 30 }
    escalate: [{ after: 5m, to: critical }, { after: 15m, to: fatal }]\n`,
    );
    const h = harness(rules);
    await h.send([reading('thermo-1', T0, { temperature: 31 })]);
    await h.send(series('thermo-2', T0 + MIN, new Array(20).fill(20), MIN), 3);
    const events = [...h.events];
    await h.close();
    expect(events.map((e) => [e.kind, e.at - T0, e.episode.severity])).toEqual([
      ['raise', 0, 'warning'],
      ['severity', 5 * MIN, 'major'],
      ['severity', 15 * MIN, 'critical'],
    ]);
  });

  it('gives the same events whatever the batches when devices on a shard are out of step', async () => {
    const rules = thermoRules(
      `  - id: hot
    kind: threshold
    severity: minor
    when: { metric: temperature, op: ">", value: 11 }
    clear: { hysteresis: 0.3 }
    onDelay: 10s
    offDelay: 5s
    escalate: [{ after: 1m, to: critical }]\n`,
    );
    // four devices whose clocks and sending lag each other by up to 3 minutes, interleaved on the shard
    const lags = [0, 40 * SEC, 3 * MIN, 90 * SEC];
    const records = lags.flatMap((lag, d) =>
      noisySignal(d + 7, 600, 10, 0.3).map((v, i) => ({
        record: reading(`thermo-${d}`, T0 + i * 2 * SEC, {
          temperature: v + 1.5 * Math.sin((2 * Math.PI * i) / 120),
        }),
        arrival: T0 + i * 2 * SEC + lag + ((i * 7919 + d * 104_729) % 5) * SEC,
      })),
    );
    records.sort((a, b) => a.arrival - b.arrival);
    const ordered = records.map((r) => r.record);
    const runs = await Promise.all(
      [1, 7, 64].map(async (size) => {
        const h = new RuleHarness({ rulesets: () => rules, config: { allowedOutOfOrdernessMs: 2 * MIN } });
        await h.send(ordered, size);
        const out = {
          events: [...h.events].sort((x, y) => x.id.localeCompare(y.id)),
          late: h.operator.counters.late,
        };
        await h.close();
        return out;
      }),
    );
    expect(runs[0]!.events.filter((e) => e.kind === 'raise').length).toBeGreaterThan(3);
    // the device 3 minutes behind is partly behind the watermark: skipped alike in every run
    expect(runs[0]!.late).toBeGreaterThan(0);
    for (const run of runs.slice(1)) {
      expect(run.late).toBe(runs[0]!.late);
      expect(run.events).toEqual(runs[0]!.events);
    }
  });

  it('a replay of the same records gives the same events and ids, however they are cut into batches', async () => {
    const rules = thermoRules(
      `  - id: hot
    kind: threshold
    severity: minor
    when: { metric: temperature, op: ">", value: 11 }
    clear: { hysteresis: 0.3 }
    onDelay: 5s
    offDelay: 5s
    escalate: [{ after: 1m, to: critical }]\n`,
    );
    // a slow wave with noise: the rule raises, escalates and clears again and again
    const wave = (seed: number) =>
      noisySignal(seed, 900, 10, 0.3).map((v, i) => v + 1.5 * Math.sin((2 * Math.PI * i) / 300));
    const records = [0, 1, 2].flatMap((d) => series(`thermo-${d}`, T0 + d * 7, wave(d + 1)));
    records.sort((a, b) => a.device_timestamp - b.device_timestamp);
    const first = await runOn(rules, records, 50);
    const again = await runOn(rules, records, 7);
    expect(raises(first.events).length).toBeGreaterThan(3);
    expect(new Set(kinds(first.events))).toEqual(new Set(['raise', 'severity', 'clear', 'close']));
    const byId = (events: readonly AlarmEvent[]) => [...events].sort((x, y) => x.id.localeCompare(y.id));
    expect(byId(again.events)).toEqual(byId(first.events));
  });

  it('says once per ruleset version which rules it does not evaluate yet', async () => {
    // every rule of the example ruleset is evaluated: no warning
    const text = readFileSync('specs/examples/rules/thermo-t1.rules.yaml', 'utf8');
    const example = compileRuleset(parseRuleset('thermo-t1.rules.yaml', text).ruleset!);
    const siteWide = thermoRules(
      `  - { id: hot, kind: threshold, severity: major, when: { metric: temperature, op: ">", value: 30 } }
  - { id: hot-site, kind: correlation, severity: major, scope: site, when: { all: [hot] } }\n`,
    );
    for (const [rules, expected] of [
      [example, []],
      [
        siteWide,
        [
          {
            message: 'rules of these kinds are not evaluated yet',
            fields: { ruleset: 'thermo-t1-test', version: 1, rules: ['hot-site (correlation, scope site)'] },
          },
        ],
      ],
    ] as const) {
      const warnings: { fields: object; message: string }[] = [];
      const logger = {
        ...silentLogger,
        warn: (fields: object, message: string) => warnings.push({ fields, message }),
      };
      const h = new RuleHarness({ rulesets: () => rules, logger });
      await h.send(series('thermo-1', T0, [20, 21, 22]).concat(series('thermo-2', T0 + 5 * SEC, [20])), 1);
      await h.close();
      expect(warnings).toEqual(expected);
    }
  });

  it('skips readings behind the watermark, and products without a ruleset', async () => {
    const rules = thermoRules(
      `  - { id: hot, kind: threshold, severity: major, when: { metric: temperature, op: ">", value: 30 } }\n`,
    );
    const h = harness(rules);
    await h.send([
      reading('thermo-1', T0 + HOUR, { temperature: 20 }),
      reading('thermo-2', T0, { temperature: 31 }),
      { ...reading('thermo-3', T0 + HOUR, { temperature: 31 }), productId: 'other' },
    ]);
    expect(h.events).toEqual([]);
    expect(h.operator.counters.late).toBe(1);
    await h.close();
  });
});
