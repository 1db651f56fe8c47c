/**
 * The ruleset language: every rule kind parses, the example rulesets are valid against the example
 * specs, and every refusal names the file, the line of the offending node and the reason.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSpecDirectory } from '../../../specs/loader.ts';
import { loadRulesets, parseRuleset } from '../../../specs/rules/loader.ts';
import type { Ruleset } from '../../../specs/rules/schema.ts';

const SPECS = loadSpecDirectory('specs/examples').specs.map((s) => s.spec);
const specsOf = (productId: string) => SPECS.filter((s) => s.productId === productId);

/** A thermo-t1 ruleset file whose `rules:` are the given YAML lines (indented two spaces). */
function rulesetText(rules: string, extra = ''): string {
  return ['id: t', 'productId: thermo-t1', 'version: 1', 'rules:', rules, extra].join('\n');
}

function parse(text: string) {
  return parseRuleset('rules.yaml', text, specsOf);
}

/** The 1-based line of the first line of `text` holding `marker`. */
function lineOf(text: string, marker: string): number {
  const index = text.split('\n').findIndex((l) => l.includes(marker));
  if (index < 0) throw new Error(`no line holds ${marker}`);
  return index + 1;
}

/** Parses `text`, expects exactly one refusal, at the line holding `marker`, saying `reason`. */
function expectRefused(text: string, marker: string, reason: RegExp): void {
  const { ruleset, problems } = parse(text);
  expect(ruleset).toBeUndefined();
  expect(problems).toEqual([
    { file: 'rules.yaml', line: lineOf(text, marker), message: expect.stringMatching(reason) },
  ]);
}

describe('ruleset files', () => {
  it('loads the example rulesets against the example specs, with no problem', () => {
    const { rulesets, problems } = loadRulesets(['specs/examples/rules'], 'specs/examples');
    expect(problems).toEqual([]);
    expect(rulesets.map((r) => r.ruleset.productId).sort()).toEqual(['env-h1', 'meter-m2', 'thermo-t1']);
  });

  it('parses every rule kind, with durations in milliseconds', () => {
    const { rulesets } = loadRulesets(['specs/examples/rules'], 'specs/examples');
    const rules = rulesets.flatMap((r) => r.ruleset.rules);
    expect(new Set(rules.map((r) => r.kind))).toEqual(
      new Set([
        'threshold',
        'rate-of-change',
        'out-of-band',
        'absence',
        'anomaly',
        'predictive',
        'correlation',
        'aggregate',
      ]),
    );
    const byId = (id: string) => rules.find((r) => r.id === id)!;
    expect(byId('overheat')).toMatchObject({ onDelay: 60_000, offDelay: 30_000, deescalateAfter: 300_000 });
    expect(byId('overheat').escalate).toEqual([{ after: 600_000, to: 'critical' }]);
    expect(byId('fast-rise')).toMatchObject({ maxChange: 5, per: 60_000, over: 600_000 });
    expect(byId('humidity-silent')).toMatchObject({ metric: 'humidity', after: 3_600_000 });
    expect(byId('level-shift')).toMatchObject({ detector: { method: 'cusum', k: 0.5, h: 5 } });
    expect(byId('heat-forecast')).toMatchObject({ horizon: 6 * 3_600_000, minR2: 0.8 });
    expect(byId('site-hot-and-forecast')).toMatchObject({ scope: 'site', within: 600_000 });
    expect(byId('daily-peak')).toMatchObject({ window: '1d', statistic: 'max', final: false });
    expect(byId('damp-and-cool')).toMatchObject({
      repeat: { count: 3, within: 900_000 },
      schedule: { zone: 'site', days: ['mon', 'tue', 'wed', 'thu', 'fri'], hours: [{ from: 420, to: 1140 }] },
    });
  });

  it('gives a product the default severities unless its ruleset names five of its own', () => {
    const { rulesets } = loadRulesets(['specs/examples/rules'], 'specs/examples');
    const of = (id: string): Ruleset => rulesets.find((r) => r.ruleset.productId === id)!.ruleset;
    expect(of('meter-m2').severities).toEqual(['info', 'minor', 'major', 'critical', 'fatal']);
    expect(of('env-h1').severities).toEqual(['note', 'warning', 'alarm', 'critical', 'emergency']);
  });

  it('parses an expression into a tree, never evaluating its text', () => {
    const text = rulesetText(`  - id: a
    kind: threshold
    severity: major
    when: { expr: "-abs(temperature - max(humidity, 2)) * 3 / (1 + 2)", op: "<", value: 1 }`);
    const rule = parse(text).ruleset!.rules[0]!;
    expect(rule.kind === 'threshold' && rule.when).toMatchObject({
      type: 'compare',
      left: {
        type: 'binary',
        op: '/',
        left: { type: 'binary', op: '*', left: { type: 'negate', arg: { type: 'call', fn: 'abs' } } },
      },
    });
  });
});

describe('refusals name the file, the line and the reason', () => {
  it('an unknown metric', () => {
    const text = rulesetText(`  - id: a
    kind: threshold
    severity: major
    when:
      any:
        - { metric: temperature, op: ">", value: 30 }
        - { metric: temprature, op: ">", value: 30 }`);
    expectRefused(
      text,
      'temprature',
      /unknown metric "temprature": product thermo-t1 has temperature, humidity/,
    );
  });

  it('an unknown metric inside an expression, and in a detector rule', () => {
    const expr = rulesetText(`  - id: a
    kind: threshold
    severity: major
    when: { expr: "temperature - dewpoint", op: ">", value: 3 }`);
    expectRefused(expr, 'dewpoint', /unknown metric "dewpoint"/);
    const anomaly = rulesetText(`  - id: a
    kind: anomaly
    severity: major
    metric: pressure
    detector: { method: ewma }`);
    expectRefused(anomaly, 'pressure', /unknown metric "pressure"/);
  });

  it('a numeric comparison on a string metric, and a string compared with a number metric', () => {
    const head = 'id: e\nproductId: env-h1\nversion: 1\nrules:\n';
    const ordering = `${head}  - id: a\n    kind: threshold\n    severity: major\n    when: { metric: mode, op: ">", value: 3 }\n`;
    expectRefused(ordering, 'mode', /wrong type: "mode" is a string metric; ">" compares numbers/);
    const equality = `${head}  - id: a\n    kind: threshold\n    severity: major\n    when: { metric: humidity, op: "==", value: "high" }\n`;
    expectRefused(equality, 'humidity', /wrong type: "humidity" is a number metric, compared with a string/);
    const inExpr = `${head}  - id: a\n    kind: threshold\n    severity: major\n    when: { expr: "mode * 2", op: ">", value: 3 }\n`;
    expectRefused(
      inExpr,
      'mode * 2',
      /wrong type: "mode" is a string metric; expressions compute on numbers/,
    );
    const detector = `${head}  - id: a\n    kind: out-of-band\n    severity: major\n    metric: mode\n    last: 10\n    k: 3\n`;
    expectRefused(detector, 'metric: mode', /wrong type: "mode" is a string metric; a out-of-band rule/);
  });

  it('an ordering comparison with a text value', () => {
    const text = rulesetText(`  - id: a
    kind: threshold
    severity: major
    when: { metric: temperature, op: ">", value: "hot" }`);
    expectRefused(text, '"hot"', /compare with a number/);
  });

  it('a cycle among correlation rules', () => {
    const text = rulesetText(`  - id: hot
    kind: threshold
    severity: major
    when: { metric: temperature, op: ">", value: 30 }
  - id: first
    kind: correlation
    severity: major
    scope: site
    when: { all: [hot, second] }
  - id: second
    kind: correlation
    severity: major
    scope: site
    when: { any: [first] }`);
    expectRefused(text, '[hot, second]', /cycle: first → second → first/);
  });

  it('a correlation that refers to itself, or to a rule that does not exist', () => {
    const self = rulesetText(`  - id: loop
    kind: correlation
    severity: major
    scope: device
    when: { not: loop }`);
    expectRefused(self, 'not: loop', /cycle: loop → loop/);
    const unknown = rulesetText(`  - id: c
    kind: correlation
    severity: major
    scope: device
    when: { all: [ghost] }`);
    expectRefused(unknown, 'ghost', /unknown rule "ghost"/);
  });

  it('a bad schedule: an unknown zone, an hour out of range', () => {
    const zone = rulesetText(`  - id: a
    kind: threshold
    severity: major
    when: { metric: temperature, op: ">", value: 30 }
    schedule:
      zone: Europe/Atlantis`);
    expectRefused(zone, 'Atlantis', /schedule\.zone: unknown time zone/);
    const hour = rulesetText(`  - id: a
    kind: threshold
    severity: major
    when: { metric: temperature, op: ">", value: 30 }
    schedule:
      hours:
        - { from: "08:00", to: "25:00" }`);
    expectRefused(hour, '25:00', /hours\.0\.to: hour out of range in "25:00"/);
  });

  it('a bad duration', () => {
    const text = rulesetText(`  - id: a
    kind: threshold
    severity: major
    when: { metric: temperature, op: ">", value: 30 }
    onDelay: 5 minutes`);
    expectRefused(text, 'onDelay', /onDelay: "5 minutes" is not a duration/);
    const zero = rulesetText(`  - id: a
    kind: absence
    severity: major
    after: 0s`);
    expectRefused(zero, 'after', /after: "0s" is not a duration/);
  });

  it('an expression that does not parse', () => {
    const text = rulesetText(`  - id: a
    kind: threshold
    severity: major
    when:
      all:
        - { metric: temperature, op: ">", value: 30 }
        - { expr: "humidity * (2 +", op: ">", value: 1 }`);
    expectRefused(text, 'humidity * (2 +', /when\.all\.1\.expr: not an expression: unexpected end/);
    const fn = text.replace('humidity * (2 +', 'sqrt(humidity)');
    expectRefused(fn, 'sqrt', /unknown function "sqrt"/);
  });

  it('an unknown severity, and an escalation that does not rise', () => {
    const unknown = rulesetText(`  - id: a
    kind: absence
    severity: urgent
    after: 5m`);
    expectRefused(
      unknown,
      'urgent',
      /unknown severity "urgent" \(one of info, minor, major, critical, fatal\)/,
    );
    const flat = rulesetText(`  - id: a
    kind: absence
    severity: major
    after: 5m
    escalate: [{ after: 10m, to: minor }]`);
    expectRefused(flat, 'escalate', /escalation to "minor" is not above/);
  });

  it('two rules with one id', () => {
    const text = rulesetText(`  - id: a
    kind: absence
    severity: major
    after: 5m
  - id: a
    kind: absence
    severity: minor
    after: 10m`);
    const { problems } = parse(text);
    expect(problems).toEqual([
      { file: 'rules.yaml', line: 9, message: expect.stringMatching(/"a" is used twice/) },
    ]);
  });

  it('a product with no spec', () => {
    const text = rulesetText(`  - id: a
    kind: absence
    severity: major
    after: 5m`).replace('thermo-t1', 'toaster-x9');
    expectRefused(text, 'toaster-x9', /no spec of product "toaster-x9"/);
  });

  it('overrides of an unknown rule, an unknown parameter, a value on a compound condition', () => {
    const rules = `  - id: hot
    kind: threshold
    severity: major
    when:
      all:
        - { metric: temperature, op: ">", value: 30, param: high }
        - { metric: humidity, op: ">", value: 50 }`;
    const ghost = rulesetText(
      rules,
      'overrides:\n  - customer: c1\n    rules:\n      cold: { enabled: false }',
    );
    expectRefused(ghost, 'cold:', /override of unknown rule "cold"/);
    const param = rulesetText(
      rules,
      'overrides:\n  - site: s1\n    rules:\n      hot: { params: { low: 3 } }',
    );
    expectRefused(param, 'low: 3', /rule "hot" has no comparison named "low"/);
    const value = rulesetText(rules, 'overrides:\n  - device: d1\n    rules:\n      hot: { value: 3 }');
    expectRefused(
      value,
      'hot: { value: 3 }',
      /value overrides a threshold rule whose condition is one numeric comparison/,
    );
    const two = rulesetText(
      rules,
      'overrides:\n  - device: d1\n    site: s1\n    rules:\n      hot: { severity: minor }',
    );
    expectRefused(two, 'device: d1', /exactly one of customer, site, device/);
  });

  it('not valid YAML, at its line', () => {
    const text = rulesetText('  - id: a\n    kind: [absence\n');
    const { problems } = parse(text);
    expect(problems[0]).toMatchObject({
      file: 'rules.yaml',
      message: expect.stringMatching(/^not valid YAML/),
    });
    expect(problems[0]!.line).toBeGreaterThanOrEqual(5);
  });

  it('loads the good files of a directory and reports the bad one with its path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shardflow-rules-'));
    writeFileSync(
      join(dir, 'good.yaml'),
      rulesetText('  - id: a\n    kind: absence\n    severity: major\n    after: 5m'),
    );
    writeFileSync(
      join(dir, 'bad.yaml'),
      rulesetText('  - id: a\n    kind: absence\n    severity: major\n    after: soon').replace(
        'id: t',
        'id: u',
      ),
    );
    const { rulesets, problems } = loadRulesets([dir], 'specs/examples');
    expect(rulesets.map((r) => r.file)).toEqual([join(dir, 'good.yaml')]);
    expect(problems).toEqual([
      { file: join(dir, 'bad.yaml'), line: 8, message: expect.stringMatching(/after: "soon"/) },
    ]);
  });
});
