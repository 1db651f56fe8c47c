/**
 * The detector kinds in the rule operator (rate of change, out of band, anomaly, predictive), on the
 * test driver with the embedded keyed state: seeded synthetic signals with injected anomalies raise
 * episodes at them and nothing on stationary stretches; hours are fed by the next hour's reading or by
 * the timer at the hour's end; a replay in other batch cuts gives the same events; a ruleset whose
 * detector parameters a detector refuses is refused at the ruleset's key.
 */
import { describe, expect, it } from 'vitest';
import { compileRuleset } from '../../../../operators/rules/compile/compileRuleset.ts';
import { detectorCellCodec } from '../../../../operators/rules/detectorCell.ts';
import { detectorIssues } from '../../../../operators/rules/detectorParams.ts';
import { parseRuleset } from '../../../../specs/rules/loader.ts';
import type { AlarmEvent, Enriched } from '../../../../topology/index.ts';
import { RuleHarness, reading, thermoRules } from '../../../support/ruleFixtures.ts';
import { type Signal, type SignalOptions, syntheticSignal } from '../../../support/syntheticSignals.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;

const records = (device: string, s: Signal, key = device): Enriched[] =>
  Array.from(s.times, (t, i) => reading(device, t, { temperature: s.values[i]! }, { key }));

async function runOn(
  rules: ReturnType<typeof thermoRules>,
  input: readonly Enriched[],
  size = 200,
  siteZone?: (site: string) => string | undefined,
) {
  const h = new RuleHarness({
    rulesets: () => rules,
    config: { allowedOutOfOrdernessMs: 0 },
    ...(siteZone === undefined ? {} : { siteZone }),
  });
  await h.send(input, size);
  const events = [...h.events];
  const counters = { ...h.operator.counters };
  await h.close();
  return { events, counters };
}

const raises = (events: readonly AlarmEvent[], rule?: string) =>
  events.filter((e) => e.kind === 'raise' && (rule === undefined || e.episode.ruleId === rule));
const sortedById = (events: readonly AlarmEvent[]) => [...events].sort((x, y) => x.id.localeCompare(y.id));

/**
 * Raises matched to the injected anomalies: a raise is true when it comes at an anomaly's first
 * reading or within `lagReadings` after it. Recall: anomalies with a raise; precision: true raises.
 */
function score(s: Signal, events: readonly AlarmEvent[], lagReadings: number) {
  const found = new Set<number>();
  let truePositives = 0;
  for (const e of raises(events)) {
    const hit = s.anomalies.findIndex(
      (a) => e.at >= s.times[a.start]! && e.at <= s.times[a.start]! + lagReadings * s.stepMs,
    );
    if (hit >= 0) {
      found.add(hit);
      truePositives++;
    }
  }
  const n = raises(events).length;
  return { recall: found.size / s.anomalies.length, precision: n === 0 ? 1 : truePositives / n, raises: n };
}

async function judged(rule: string, options: SignalOptions, lagReadings: number) {
  const s = syntheticSignal(options);
  const { events, counters } = await runOn(thermoRules(rule), records('thermo-1', s));
  return { s, events, counters, ...score(s, events, lagReadings) };
}

describe('rule operator: detector rules raise at injected anomalies and nowhere else', () => {
  it('rate of change: 10σ spikes raise one episode each, cleared once the rate stayed normal for `over`', async () => {
    const rule = `  - { id: jump, kind: rate-of-change, severity: minor, metric: temperature, maxChange: 7, per: 1m, over: 10m }\n`;
    const spiky = await judged(rule, { seed: 11, days: 3, spikes: { count: 12, size: 10 } }, 1);
    expect(spiky.recall).toBeGreaterThanOrEqual(0.9);
    expect(spiky.precision).toBe(1);
    // the falling edge of a spike is within the episode: one raise per spike, each cleared `over` later
    const clears = spiky.events.filter((e) => e.kind === 'clear');
    expect(clears.length).toBe(spiky.raises);
    for (const c of clears) {
      const raised = raises(spiky.events).find((e) => e.episodeId === c.episodeId)!;
      expect(c.at - raised.at).toBeGreaterThanOrEqual(10 * MIN);
      expect(c.at - raised.at).toBeLessThanOrEqual(12 * MIN);
    }
    const calm = await judged(rule, { seed: 11, days: 3 }, 1);
    expect(calm.raises).toBe(0);
  });

  it('out of band: 8σ spikes and dips raise and clear at the next reading back in the band', async () => {
    const rule = `  - { id: band, kind: out-of-band, severity: minor, metric: temperature, last: 1000, k: 5 }\n`;
    const spiky = await judged(rule, { seed: 12, days: 3, spikes: { count: 12, size: 8 } }, 0);
    expect(spiky.recall).toBeGreaterThanOrEqual(0.9);
    expect(spiky.precision).toBe(1);
    for (const c of spiky.events.filter((e) => e.kind === 'clear')) {
      const raised = raises(spiky.events).find((e) => e.episodeId === c.episodeId)!;
      expect(c.at - raised.at).toBe(MIN);
    }
    expect((await judged(rule, { seed: 12, days: 3 }, 0)).raises).toBe(0);
  });

  it('anomaly, robust-z with its default threshold: 8σ spikes raise, noise does not', async () => {
    const rule = `  - { id: odd, kind: anomaly, severity: minor, metric: temperature, detector: { method: robust-z } }\n`;
    const spiky = await judged(rule, { seed: 13, days: 3, spikes: { count: 12, size: 8, kinds: 'both' } }, 0);
    expect(spiky.recall).toBeGreaterThanOrEqual(0.85);
    expect(spiky.precision).toBe(1);
    expect((await judged(rule, { seed: 13, days: 3 }, 0)).raises).toBe(0);
  });

  it('anomaly, cusum: 3σ level shifts raise once each (level-up and level-down), noise does not', async () => {
    const rule = `  - { id: shift, kind: anomaly, severity: major, metric: temperature, detector: { method: cusum } }\n`;
    const shifted = await judged(rule, { seed: 14, days: 4, shifts: { count: 6, size: 3 } }, 60);
    expect(shifted.recall).toBe(1);
    expect(shifted.precision).toBe(1);
    // a shift is one verdict: the episode clears at the next reading
    for (const c of shifted.events.filter((e) => e.kind === 'clear')) {
      const raised = raises(shifted.events).find((e) => e.episodeId === c.episodeId)!;
      expect(c.at - raised.at).toBe(MIN);
    }
    expect(shifted.events.filter((e) => e.kind === 'clear').length).toBe(shifted.raises);
    expect((await judged(rule, { seed: 14, days: 4 }, 60)).raises).toBe(0);
  });

  it('anomaly by hour of day: fed hourly from the operator, a 5σ daily cycle is normal and 8σ spikes on it raise', async () => {
    const rule = `  - id: odd-hour
    kind: anomaly
    severity: minor
    metric: temperature
    detector: { method: robust-z }
    baseline: hourOfDay\n`;
    const cycle = { seed: 15, days: 12, stepMs: 5 * MIN, dailyAmplitude: 5, quietDays: 8 };
    const spiky = await judged(rule, { ...cycle, spikes: { count: 12, size: 8 } }, 0);
    expect(spiky.recall).toBeGreaterThanOrEqual(0.8);
    expect(spiky.precision).toBe(1);
    expect((await judged(rule, cycle, 0)).raises).toBe(0);
    // fallback 'wait': nothing is judged before an hour's cell has its 7 days, so every raise above
    // was judged against a cell the operator fed
    const s = syntheticSignal({ ...cycle, spikes: { count: 12, size: 8 } });
    const early = spiky.events.filter((e) => e.at < s.times[0]! + 7 * 24 * HOUR);
    expect(early).toEqual([]);
  });

  it('predictive: a drift toward the threshold raises within the horizon before the crossing; stationary hours never', async () => {
    const rule = `  - id: heat-forecast
    kind: predictive
    severity: major
    metric: temperature
    threshold: { op: ">=", value: 26 }
    horizon: 24h
    over: 48h\n`;
    // 0.05σ per hour from day 3: the level 20 reaches 26 after 120 h
    const drift = { seed: 16, days: 9, stepMs: 5 * MIN, drift: { startDay: 3, perHour: 0.05 } };
    const s = syntheticSignal(drift);
    const { events } = await runOn(thermoRules(rule), records('thermo-1', s));
    const crossing = s.times[0]! + 3 * 24 * HOUR + 120 * HOUR;
    const first = raises(events)[0]!;
    expect(first).toBeDefined();
    expect(first.at).toBeLessThan(crossing);
    expect(first.at).toBeGreaterThanOrEqual(crossing - 48 * HOUR);
    // judged on whole hours: the raise comes at an hour's end, with the hour's mean as its value
    expect(first.at % HOUR).toBe(0);
    expect(first.episode.value).toBeGreaterThan(20);
    const calm = await runOn(
      thermoRules(rule),
      records('thermo-1', syntheticSignal({ ...drift, drift: undefined })),
    );
    expect(raises(calm.events)).toEqual([]);
  });
});

describe('rule operator: detector rules on the engine', () => {
  it('an hour is fed at its end by the timer when the device falls silent: the same raise as when its next reading came', async () => {
    const rule = `  - id: heat-forecast
    kind: predictive
    severity: major
    metric: temperature
    threshold: { op: ">=", value: 26 }
    horizon: 24h
    over: 48h\n`;
    const s = syntheticSignal({ seed: 16, days: 9, stepMs: 5 * MIN, drift: { startDay: 3, perHour: 0.05 } });
    const full = records('thermo-1', s);
    const first = raises((await runOn(thermoRules(rule), full)).events)[0]!;
    // thermo-1 says nothing from the raising hour's end on; thermo-2 (another key, same shard) goes on
    const silent = full.filter((r) => r.device_timestamp < first.at);
    const other = Array.from({ length: 30 }, (_, i) =>
      reading('thermo-2', first.at - 30 * MIN + i * 2 * MIN, { humidity: 40 }),
    );
    const input = [...silent, ...other].sort((a, b) => a.device_timestamp - b.device_timestamp);
    const { events } = await runOn(thermoRules(rule), input);
    expect(raises(events)).toEqual([first]);
  });

  it('replayed in other batch cuts, four kinds on two devices give the same events and ids', async () => {
    const rules = thermoRules(
      `  - { id: jump, kind: rate-of-change, severity: minor, metric: temperature, maxChange: 3, per: 1m, over: 10m }
  - { id: band, kind: out-of-band, severity: minor, metric: temperature, last: 500, k: 6 }
  - { id: odd, kind: anomaly, severity: minor, metric: temperature, detector: { method: robust-z } }
  - { id: shift, kind: anomaly, severity: major, metric: temperature, detector: { method: cusum } }
  - id: forecast
    kind: predictive
    severity: major
    metric: temperature
    threshold: { op: ">=", value: 30 }
    horizon: 12h
    over: 6h
    escalate: [{ after: 2h, to: critical }]\n`,
    );
    const a = syntheticSignal({
      seed: 21,
      days: 3,
      stepMs: 2 * MIN,
      spikes: { count: 10, size: 10 },
      drift: { startDay: 2, perHour: 0.3 },
    });
    const b = syntheticSignal({ seed: 22, days: 3, stepMs: 2 * MIN, shifts: { count: 4, size: 3 } });
    const input = [...records('thermo-a', a), ...records('thermo-b', b, 'hub-1')]
      // thermo-b's readings 7 ms after thermo-a's, its partition key a hub's
      .map((r) => (r.device_id === 'thermo-b' ? { ...r, device_timestamp: r.device_timestamp + 7 } : r))
      .sort((x, y) => x.device_timestamp - y.device_timestamp);
    const whole = await runOn(rules, input, 1000);
    const ids = new Set(raises(whole.events).map((e) => e.episode.ruleId));
    expect([...ids].sort()).toEqual(['band', 'forecast', 'jump', 'odd', 'shift']);
    expect(whole.events.some((e) => e.kind === 'severity')).toBe(true);
    for (const size of [7, 61]) {
      const cut = await runOn(rules, input, size);
      expect(sortedById(cut.events)).toEqual(sortedById(whole.events));
    }
  });

  it('writes a detector cell per reading learnt and the rule state on transitions only', async () => {
    const rule = `  - { id: odd, kind: anomaly, severity: minor, metric: temperature, detector: { method: robust-z } }\n`;
    const s = syntheticSignal({ seed: 13, days: 3, spikes: { count: 12, size: 8 } });
    const input = records('thermo-1', s);
    const { counters, events } = await runOn(thermoRules(rule), input);
    expect(counters.detectorWrites).toBe(input.length);
    // the first reading creates the rule state; then one write per raise and per clear
    expect(counters.stateWrites).toBeLessThanOrEqual(1 + 2 * raises(events).length + 2);
  });

  it('a detector cell survives its codec exactly, and bytes of another shape are refused', () => {
    const rules = thermoRules(
      `  - { id: band, kind: out-of-band, severity: minor, metric: temperature, last: 50, k: 4 }\n`,
    );
    expect(rules.rules[0]!.kind).toBe('out-of-band');
    const cell = new Float64Array([
      7,
      Number.NEGATIVE_INFINITY,
      0,
      0,
      0,
      2,
      4,
      0.1,
      0,
      30,
      0,
      -Infinity,
      1,
      2,
      3,
    ]);
    const back = detectorCellCodec.decode(detectorCellCodec.encode(cell));
    expect(Array.from(back)).toEqual(Array.from(cell));
    expect(() => detectorCellCodec.decode(detectorCellCodec.encode(cell.subarray(0, 12)))).toThrow(/slots/);
    expect(() => detectorCellCodec.decode(new Uint8Array(16))).toThrow(/head/);
  });
});

describe('detector parameters in a ruleset', () => {
  const text = (rules: string) => `id: thermo-t1-test\nproductId: thermo-t1\nversion: 1\nrules:\n${rules}`;
  const refusedOf = (rules: string) =>
    parseRuleset('rules.yaml', text(rules), undefined, detectorIssues).problems;

  it('a window the robust-z ring cannot hold is refused at detector.window, naming the rule, with its line', () => {
    const problems = refusedOf(
      `  - id: ok
    kind: threshold
    severity: minor
    when: { metric: temperature, op: ">", value: 1 }
  - id: wide
    kind: anomaly
    severity: minor
    metric: temperature
    detector: { method: robust-z, window: 5000 }\n`,
    );
    expect(problems).toEqual([
      expect.objectContaining({
        file: 'rules.yaml',
        line: 13,
        message: expect.stringMatching(
          /^rules\.1\.detector\.window: rule "wide" \(anomaly\): detector\.window must be ≤ 1024 \(got 5000\)/,
        ),
      }),
    ]);
  });

  it('a predictive span that is not whole hours, or under three, is refused at over', () => {
    const rule = (over: string) =>
      `  - { id: f, kind: predictive, severity: minor, metric: temperature, threshold: { op: ">", value: 9 }, horizon: 1h, over: ${over} }\n`;
    expect(refusedOf(rule('450m'))[0]!.message).toMatch(
      /^rules\.0\.over: rule "f" \(predictive\): over is 7\.5 h: the hourly points it makes must be an integer/,
    );
    expect(refusedOf(rule('2h'))[0]!.message).toMatch(/over is 2 h: the hourly points it makes must be ≥ 3/);
    expect(refusedOf(rule('3h'))).toEqual([]);
  });

  it('compiling a ruleset a detector refuses throws, naming the rule and its key', () => {
    const { ruleset } = parseRuleset(
      'rules.yaml',
      text(
        `  - { id: f, kind: predictive, severity: minor, metric: temperature, threshold: { op: ">", value: 9 }, horizon: 1h, over: 90m }\n`,
      ),
    );
    expect(() => compileRuleset(ruleset!)).toThrow(/rules\.0\.over: rule "f" \(predictive\)/);
  });
});
