/**
 * The compiled rules: generated conditions agree with the interpretive walk of the same trees on
 * random trees and readings; three-valued logic, hysteresis, overrides, correlations, aggregates,
 * schedules across daylight-saving changes and maintenance windows.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { interpretClear, interpretCondition } from '../../../../bench/interpretiveRules.ts';
import {
  type CompiledRule,
  type CompiledThreshold,
  compileRuleset,
} from '../../../../operators/rules/compile/compileRuleset.ts';
import { loadSpecDirectory } from '../../../../specs/loader.ts';
import type { Comparison, Condition } from '../../../../specs/rules/condition.ts';
import type { Expr } from '../../../../specs/rules/expression.ts';
import { parseRuleset } from '../../../../specs/rules/loader.ts';
import type { Ruleset, ThresholdRule } from '../../../../specs/rules/schema.ts';

const SPECS = loadSpecDirectory('specs/examples').specs.map((s) => s.spec);

/** A thermo-t1 ruleset from YAML text; fails the test if it is refused. */
function ruleset(text: string): Ruleset {
  const { ruleset, problems } = parseRuleset('rules.yaml', text, (p) =>
    SPECS.filter((s) => s.productId === p),
  );
  expect(problems).toEqual([]);
  return ruleset!;
}

const HEAD = 'id: t\nproductId: thermo-t1\nversion: 1\n';

/** A ruleset of one threshold rule with this condition and clear side, as the schema would give it. */
function thresholdSet(when: Condition, clear?: ThresholdRule['clear']): Ruleset {
  const rule = {
    id: 'r',
    kind: 'threshold',
    severity: 'major',
    message: '',
    latched: false,
    enabled: true,
    when,
    ...(clear === undefined ? {} : { clear }),
  };
  return {
    id: 't',
    productId: 'p',
    version: 1,
    severities: ['info', 'minor', 'major', 'critical', 'fatal'],
    rules: [rule],
    overrides: [],
  } as Ruleset;
}

function threshold(rules: readonly CompiledRule[], id: string): CompiledThreshold {
  const rule = rules.find((r) => r.id === id);
  if (rule?.kind !== 'threshold') throw new Error(`${id} is not a threshold rule`);
  return rule;
}

// ---- random trees and readings ----

const METRICS = ['a', 'b', 'c', 'mode', 'flag'] as const;
const number = fc.oneof(
  fc.integer({ min: -6, max: 6 }),
  fc.double({ min: -100, max: 100, noNaN: true }),
  fc.constantFrom(0, -0, 0.1, 1e-9),
);
const metricValue = fc.oneof(
  { weight: 6, arbitrary: number },
  { weight: 1, arbitrary: fc.constantFrom('eco', 'boost') },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
);
const readingArb = fc.dictionary(fc.constantFrom(...METRICS), metricValue, { maxKeys: METRICS.length });

const { expr } = fc.letrec<{ expr: Expr }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    number.map((value): Expr => ({ type: 'number', value: Math.abs(value) })),
    fc.constantFrom(...METRICS).map((name): Expr => ({ type: 'metric', name })),
    tie('expr').map((arg): Expr => ({ type: 'negate', arg })),
    fc
      .tuple(
        fc.constantFrom('+', '-', '*', '/') as fc.Arbitrary<'+' | '-' | '*' | '/'>,
        tie('expr'),
        tie('expr'),
      )
      .map(([op, left, right]): Expr => ({ type: 'binary', op, left, right })),
    tie('expr').map((arg): Expr => ({ type: 'call', fn: 'abs', args: [arg] })),
    fc
      .tuple(
        fc.constantFrom('min', 'max') as fc.Arbitrary<'min' | 'max'>,
        fc.array(tie('expr'), { minLength: 2, maxLength: 3 }),
      )
      .map(([fn, args]): Expr => ({ type: 'call', fn, args })),
  ),
}));

const ordering = fc.constantFrom('>', '>=', '<', '<=') as fc.Arbitrary<Comparison['op']>;
const equality = fc.constantFrom('==', '!=') as fc.Arbitrary<Comparison['op']>;
const comparison: fc.Arbitrary<Condition> = fc
  .oneof(
    fc.record({ name: fc.constantFrom(...METRICS), op: ordering, value: number }),
    fc.record({
      name: fc.constantFrom(...METRICS),
      op: equality,
      value: fc.oneof(fc.integer({ min: -6, max: 6 }), fc.constantFrom('eco', 'boost'), fc.boolean()),
    }),
  )
  .map(
    ({ name, op, value }): Condition => ({
      type: 'compare',
      left: { type: 'metric', name },
      source: name,
      op,
      value,
    }),
  );
const exprComparison: fc.Arbitrary<Condition> = fc
  .record({ left: expr, op: fc.oneof(ordering, equality), value: number })
  .map(({ left, op, value }): Condition => ({ type: 'compare', left, source: '', op, value }));

const { condition } = fc.letrec<{ condition: Condition }>((tie) => ({
  condition: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    comparison,
    exprComparison,
    fc
      .array(tie('condition'), { minLength: 1, maxLength: 4 })
      .map((all): Condition => ({ type: 'all', all })),
    fc
      .array(tie('condition'), { minLength: 1, maxLength: 4 })
      .map((any): Condition => ({ type: 'any', any })),
    tie('condition').map((not): Condition => ({ type: 'not', not })),
  ),
}));

const clearSide: fc.Arbitrary<ThresholdRule['clear'] | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.double({ min: 0, max: 5, noNaN: true }).map((hysteresis) => ({ hysteresis })),
  condition.map((when) => ({ when })),
);

describe('compiled conditions', () => {
  it('agree with the interpretive walk on random trees and 12,000 random readings', () => {
    const seen = { true: 0, false: 0, undefined: 0 };
    let readings = 0;
    fc.assert(
      fc.property(
        condition,
        clearSide,
        fc.array(readingArb, { minLength: 20, maxLength: 20 }),
        (when, clear, batch) => {
          const source = thresholdSet(when, clear);
          const rule = threshold(compileRuleset(source).rules, 'r');
          const reference = source.rules[0] as ThresholdRule;
          for (const metrics of batch) {
            readings++;
            const reading = { metrics };
            const verdict = rule.condition(reading);
            expect(verdict).toBe(interpretCondition(when, metrics));
            expect(rule.clear(reading)).toBe(interpretClear(reference, metrics));
            seen[String(verdict) as keyof typeof seen]++;
          }
        },
      ),
      { numRuns: 600, seed: 19 },
    );
    expect(readings).toBeGreaterThanOrEqual(10_000);
    // the trees and readings reach every verdict often: the agreement is not one of constants
    for (const count of Object.values(seen)) expect(count).toBeGreaterThan(1_000);
  });

  it('are three-valued: an absent metric makes a comparison unknown, not false', () => {
    const rules = compileRuleset(
      ruleset(`${HEAD}rules:
  - id: both
    kind: threshold
    severity: major
    when: { all: [{ metric: temperature, op: ">", value: 30 }, { metric: humidity, op: ">", value: 50 }] }
  - id: either
    kind: threshold
    severity: major
    when: { any: [{ metric: temperature, op: ">", value: 30 }, { metric: humidity, op: ">", value: 50 }] }
  - id: ratio
    kind: threshold
    severity: major
    when: { not: { expr: "temperature / humidity", op: ">", value: 1 } }
`),
    ).rules;
    const both = threshold(rules, 'both');
    const either = threshold(rules, 'either');
    const ratio = threshold(rules, 'ratio');
    expect(both.condition({ metrics: { temperature: 31 } })).toBeUndefined();
    expect(both.condition({ metrics: { temperature: 29 } })).toBe(false);
    expect(both.condition({ metrics: { temperature: 31, humidity: 51 } })).toBe(true);
    expect(both.clear({ metrics: { temperature: 31 } })).toBeUndefined();
    expect(either.condition({ metrics: { humidity: 51 } })).toBe(true);
    expect(either.condition({ metrics: { humidity: 49 } })).toBeUndefined();
    expect(either.condition({ metrics: { temperature: 'hot', humidity: 49 } })).toBeUndefined();
    expect(ratio.condition({ metrics: { temperature: 1, humidity: 0 } })).toBeUndefined(); // 1 / 0
    expect(ratio.condition({ metrics: { temperature: 1, humidity: 2 } })).toBe(true);
    expect(ratio.condition({ metrics: { temperature: 3, humidity: null } })).toBeUndefined();
    expect(both.metrics).toEqual(['temperature', 'humidity']);
  });

  it('clear with a deadband under a hysteresis, the band turned round under a not', () => {
    const rules = compileRuleset(
      ruleset(`${HEAD}rules:
  - id: high
    kind: threshold
    severity: major
    when: { metric: temperature, op: ">", value: 10 }
    clear: { hysteresis: 0.5 }
  - id: not-low
    kind: threshold
    severity: major
    when: { not: { metric: temperature, op: "<", value: 10 } }
    clear: { hysteresis: 1 }
`),
    ).rules;
    const high = threshold(rules, 'high');
    expect(
      [10.2, 9.8, 9.5, 9.4].map((t) => [
        high.condition({ metrics: { temperature: t } }),
        high.clear({ metrics: { temperature: t } }),
      ]),
    ).toEqual([
      [true, false],
      [false, false],
      [false, true],
      [false, true],
    ]);
    const notLow = threshold(rules, 'not-low');
    expect(
      [10, 9.5, 9, 8.9].map((t) => [
        notLow.condition({ metrics: { temperature: t } }),
        notLow.clear({ metrics: { temperature: t } }),
      ]),
    ).toEqual([
      [true, false],
      [false, false],
      [false, false],
      [false, true],
    ]);
  });
});

describe('overrides', () => {
  const text = `${HEAD}rules:
  - id: hot
    kind: threshold
    severity: major
    when: { all: [{ metric: temperature, op: ">", value: 30, param: high }, { metric: humidity, op: "<", value: 90 }] }
    escalate: [{ after: 10m, to: critical }]
  - id: silent
    kind: absence
    severity: minor
    after: 15m
overrides:
  - customer: c1
    rules:
      hot: { params: { high: 35 }, severity: minor }
  - site: s1
    rules:
      hot: { params: { high: 40 } }
  - device: d1
    rules:
      hot: { severity: critical }
      silent: { enabled: false }
`;
  const compiled = compileRuleset(ruleset(text));
  const at37 = { metrics: { temperature: 37, humidity: 50 } };

  it('apply device > site > customer > product, field by field', () => {
    expect(threshold(compiled.rules, 'hot').condition(at37)).toBe(true);
    const customer = threshold(compiled.rulesFor({ deviceId: 'x', customerId: 'c1' }), 'hot');
    expect([customer.condition(at37), customer.severity, customer.severityRank]).toEqual([true, 'minor', 1]);
    expect(customer.condition({ metrics: { temperature: 34, humidity: 50 } })).toBe(false);
    const site = threshold(compiled.rulesFor({ deviceId: 'x', customerId: 'c1', siteId: 's1' }), 'hot');
    expect([site.condition(at37), site.severity]).toEqual([false, 'minor']);
    const device = compiled.rulesFor({ deviceId: 'd1', customerId: 'c1', siteId: 's1' });
    expect([threshold(device, 'hot').condition(at37), threshold(device, 'hot').severity]).toEqual([
      false,
      'critical',
    ]);
    // escalation steps not above the overridden severity are dropped
    expect(threshold(device, 'hot').escalate).toEqual([]);
    expect(customer.escalate).toEqual([{ afterMs: 600_000, to: 'critical', rank: 3 }]);
    expect(device.find((r) => r.id === 'silent')!.enabled).toBe(false);
    expect(compiled.rules.find((r) => r.id === 'silent')).toMatchObject({ enabled: true, after: 900_000 });
  });

  it('compile each combination once', () => {
    const a = compiled.rulesFor({ deviceId: 'x', customerId: 'c1' });
    expect(compiled.rulesFor({ deviceId: 'y', customerId: 'c1', siteId: 'elsewhere' })).toBe(a);
    expect(compiled.rulesFor({ deviceId: 'z' })).toBe(compiled.rules);
  });
});

describe('correlations and aggregates', () => {
  const compiled = compileRuleset(
    ruleset(`${HEAD}rules:
  - id: hot
    kind: threshold
    severity: major
    when: { metric: temperature, op: ">", value: 30 }
  - id: damp
    kind: threshold
    severity: major
    when: { metric: humidity, op: ">", value: 80 }
  - id: both
    kind: correlation
    severity: critical
    scope: site
    when: { any: [{ all: [hot, damp] }, { not: hot }] }
    within: 5m
  - id: day
    kind: aggregate
    severity: info
    metric: temperature
    window: 1d
    statistic: mean
    op: ">="
    value: 26
`),
  );

  it('judge a correlation over the states of the rules it names, three-valued', () => {
    const both = compiled.rules.find((r) => r.id === 'both');
    if (both?.kind !== 'correlation') throw new Error('no correlation');
    expect(both).toMatchObject({ scope: 'site', refs: ['hot', 'damp'], withinMs: 300_000 });
    expect(both.condition({ hot: true, damp: true })).toBe(true);
    expect(both.condition({ hot: true, damp: false })).toBe(false);
    expect(both.condition({ hot: false })).toBe(true);
    expect(both.condition({ hot: true })).toBeUndefined();
    expect(both.condition({})).toBeUndefined();
  });

  it("test an aggregate's value", () => {
    const day = compiled.rules.find((r) => r.id === 'day');
    if (day?.kind !== 'aggregate') throw new Error('no aggregate');
    expect([day.test(25.9), day.test(26), day.test(30)]).toEqual([false, true, true]);
    expect(day).toMatchObject({ metric: 'temperature', window: '1d', statistic: 'mean', final: true });
  });
});

describe('schedules and maintenance', () => {
  const compiled = compileRuleset(
    ruleset(`${HEAD}maintenance:
  - { from: "2026-06-01T00:00:00Z", to: "2026-06-02T00:00:00Z" }
rules:
  - id: berlin-mornings
    kind: threshold
    severity: major
    when: { metric: temperature, op: ">", value: 30 }
    schedule: { zone: Europe/Berlin, hours: [{ from: "08:00", to: "09:00" }] }
    maintenance:
      - { from: "2026-07-01T10:00:00+02:00", to: "2026-07-01T12:00:00+02:00" }
  - id: site-nights
    kind: threshold
    severity: major
    when: { metric: temperature, op: ">", value: 30 }
    schedule: { days: [sat, sun], hours: [{ from: "22:00", to: "06:00" }] }
`),
  );
  const mornings = threshold(compiled.rules, 'berlin-mornings');
  const nights = threshold(compiled.rules, 'site-nights');
  const at = (iso: string) => Date.parse(iso);

  it('reads local hours across the spring and autumn changes of Europe/Berlin', () => {
    // Saturday 28 March 2026, UTC+1: 08:30 local is 07:30Z
    expect(mornings.inSchedule(at('2026-03-28T07:30:00Z'))).toBe(true);
    expect(mornings.inSchedule(at('2026-03-28T06:30:00Z'))).toBe(false);
    // Monday 30 March 2026, after the change to UTC+2: 07:30Z is 09:30 local, 06:30Z is 08:30
    expect(mornings.inSchedule(at('2026-03-30T07:30:00Z'))).toBe(false);
    expect(mornings.inSchedule(at('2026-03-30T06:30:00Z'))).toBe(true);
    // Sunday 25 October 2026, back to UTC+1 at 01:00Z
    expect(mornings.inSchedule(at('2026-10-24T06:59:00Z'))).toBe(true);
    expect(mornings.inSchedule(at('2026-10-25T06:59:00Z'))).toBe(false);
    expect(mornings.inSchedule(at('2026-10-25T07:00:00Z'))).toBe(true);
    expect(mornings.inSchedule(at('2026-10-25T07:59:59Z'))).toBe(true);
    expect(mornings.inSchedule(at('2026-10-25T08:00:00Z'))).toBe(false);
    // a fixed zone ignores the site's
    expect(mornings.inSchedule(at('2026-03-30T06:30:00Z'), 'America/New_York')).toBe(true);
  });

  it("reads the site's zone, across New York's change, a range past midnight on the day it is read", () => {
    // Saturday 7 March 2026 23:00 in New York (UTC−5) is Sunday 04:00Z
    expect(nights.inSchedule(at('2026-03-08T04:00:00Z'), 'America/New_York')).toBe(true);
    // Sunday 8 March, 02:00 EST became 03:00 EDT: 05:30 local on Sunday is 09:30Z, 06:30 local 10:30Z
    expect(nights.inSchedule(at('2026-03-08T09:30:00Z'), 'America/New_York')).toBe(true);
    expect(nights.inSchedule(at('2026-03-08T10:30:00Z'), 'America/New_York')).toBe(false);
    // the same instants in UTC (no site zone known)
    expect(nights.inSchedule(at('2026-03-08T04:00:00Z'))).toBe(true);
    expect(nights.inSchedule(at('2026-03-08T09:30:00Z'))).toBe(false);
    // Monday 9 March 01:00 local: the range belongs to the day it is read, and Monday is not in it
    expect(nights.inSchedule(at('2026-03-09T05:00:00Z'), 'America/New_York')).toBe(false);
    // a site zone the runtime does not know reads as UTC rather than failing the reading
    expect(nights.inSchedule(at('2026-03-08T04:00:00Z'), 'Mars/Olympus')).toBe(true);
    expect(nights.inSchedule(at('2026-03-08T09:30:00Z'), 'Mars/Olympus')).toBe(false);
  });

  it("holds the ruleset's and the rule's maintenance windows, end exclusive", () => {
    expect(mornings.inMaintenance(at('2026-05-31T23:59:59Z'))).toBe(false);
    expect(mornings.inMaintenance(at('2026-06-01T00:00:00Z'))).toBe(true);
    expect(mornings.inMaintenance(at('2026-06-02T00:00:00Z'))).toBe(false);
    expect(mornings.inMaintenance(at('2026-07-01T08:30:00Z'))).toBe(true);
    expect(mornings.inMaintenance(at('2026-07-01T10:00:00Z'))).toBe(false);
    expect(nights.inMaintenance(at('2026-06-01T12:00:00Z'))).toBe(true);
    expect(nights.inMaintenance(at('2026-07-01T08:30:00Z'))).toBe(false);
  });
});

describe('durations and parameters', () => {
  it('are milliseconds on the compiled rule', () => {
    const rule = threshold(
      compileRuleset(
        ruleset(`${HEAD}rules:
  - id: a
    kind: threshold
    severity: major
    latched: true
    message: hot
    when: { metric: temperature, op: ">", value: 30 }
    onDelay: 60s
    offDelay: 2m
    repeat: { count: 3, within: 1h }
    deescalateAfter: 5m
`),
      ).rules,
      'a',
    );
    expect(rule).toMatchObject({
      onDelayMs: 60_000,
      offDelayMs: 120_000,
      repeat: { count: 3, withinMs: 3_600_000 },
      deescalateAfterMs: 300_000,
      latched: true,
      message: 'hot',
      severityRank: 2,
    });
  });
});
