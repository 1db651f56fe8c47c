/**
 * The response-policy language: the examples are valid against their rulesets, and every refusal
 * (schema or check) names the file, the line of the offending node and the reason; the first-match
 * rule, policies that can never match, the shadow allowlist and the escalation chain.
 */
import { describe, expect, it } from 'vitest';
import { loadPolicySets, parsePolicySet, type RulesetOf } from '../../../../specs/responses/loader.ts';
import type { ResponsePolicySet } from '../../../../specs/responses/schema.ts';
import { matchPolicy } from '../../../../specs/responses/validate.ts';
import { loadRulesets } from '../../../../specs/rules/loader.ts';

const RULESETS = loadRulesets(['specs/examples/rules']).rulesets.map((r) => r.ruleset);
const rulesetOf: RulesetOf = (productId) => RULESETS.find((r) => r.productId === productId) ?? null;

const MAIL = '[{ email: ops@example.com }]';

/** A thermo-t1 policy file whose `policies:` are the given YAML lines; `head` goes before them. */
function setText(policies: string, head = ''): string {
  return ['id: p', 'productId: thermo-t1', 'version: 1', head, 'policies:', policies].join('\n');
}

/** The 1-based line of the first line of `text` holding `marker`. */
function lineOf(text: string, marker: string): number {
  const index = text.split('\n').findIndex((l) => l.includes(marker));
  if (index < 0) throw new Error(`no line holds ${marker}`);
  return index + 1;
}

/** Parses `text`, expects exactly one refusal, at the line holding `marker`, saying `reason`. */
function expectRefused(text: string, marker: string, reason: RegExp, rulesets?: RulesetOf): void {
  const { set, problems } = parsePolicySet('p.yaml', text, rulesets);
  expect(set).toBeUndefined();
  expect(problems).toEqual([
    { file: 'p.yaml', line: lineOf(text, marker), message: expect.stringMatching(reason) },
  ]);
}

function parsed(text: string): ResponsePolicySet {
  const { set, problems } = parsePolicySet('p.yaml', text, rulesetOf);
  expect(problems).toEqual([]);
  return set!;
}

describe('response-policy files', () => {
  it('loads the examples against the example rulesets, with no problem', () => {
    const { sets, problems } = loadPolicySets(['specs/examples/responses'], 'specs/examples/rules');
    expect(problems).toEqual([]);
    expect(sets.map((s) => s.set.productId).sort()).toEqual(['meter-m2', 'thermo-t1']);
    const thermo = sets.find((s) => s.set.productId === 'thermo-t1')!.set;
    expect(thermo.policies[0]!.notify.map((s) => s.after)).toEqual([0, 900_000, 2_700_000]);
    expect(thermo.shadow.commandInterval).toBe(600_000);
    const meter = sets.find((s) => s.set.productId === 'meter-m2')!.set;
    expect(meter.policies[0]!.remoteFix).toMatchObject({
      firmware: { version: '3.1.2', timeout: 1_800_000 },
    });
  });

  it('refuses a shape the schema does not allow at the line of the node', () => {
    const text = setText(`  - alarm: frost\n    notify: [{ after: 0s, to: [{ pager: "123" }] }]`);
    const { problems } = parsePolicySet('p.yaml', text);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.every((p) => p.line === lineOf(text, 'pager'))).toBe(true);
    expectRefused(
      setText(`  - alarm: frost\n    severities: [fatal]\n    notify: [{ after: 0s, to: ${MAIL} }]`),
      'fatal',
      /policies\.0\.severities\.0: one of the platform's severities, info, warning, minor, major, critical/,
    );
    expectRefused(
      setText(`  - alarm: frost\n    notify: [{ after: soon, to: ${MAIL} }]`),
      'soon',
      /"soon" is not a duration/,
    );
  });

  it('refuses a shadow key outside the allowlist, and an empty expect', () => {
    const head = 'shadow: { settableKeys: [fanSpeed] }';
    expectRefused(
      setText(
        '  - alarm: overheat\n    remoteFix:\n      shadow:\n        desired:\n          fanSpeed: high\n          firmwareUrl: http://x\n        within: 5m',
        head,
      ),
      'firmwareUrl',
      /remoteFix\.shadow\.desired\.firmwareUrl: "firmwareUrl" is not in shadow\.settableKeys \(fanSpeed\)/,
    );
    expectRefused(
      setText('  - alarm: overheat\n    remoteFix:\n      shadow: { desired: { fanSpeed: high } }', ''),
      'fanSpeed',
      /^policies\.0\.remoteFix\.shadow\.within: .*expected a string/,
    );
    expectRefused(
      setText(
        '  - alarm: overheat\n    remoteFix:\n      shadow:\n        desired: { fanSpeed: high }\n        expect: {}\n        within: 5m',
        head,
      ),
      'expect: {}',
      /expect: says nothing/,
    );
    expectRefused(
      setText(
        '  - alarm: overheat\n    remoteFix:\n      shadow:\n        desired: { fanSpeed: high }\n        within: 5m',
      ),
      'desired',
      /"fanSpeed" is not in shadow\.settableKeys \(none are listed\)/,
    );
  });

  it('refuses an escalation chain that does not start at 0s or does not rise', () => {
    expectRefused(
      setText(`  - alarm: frost\n    notify:\n      - { after: 5m, to: ${MAIL} }`),
      'after: 5m',
      /notify\.0\.after: the first step of the escalation chain is at 0s/,
    );
    expectRefused(
      setText(
        `  - alarm: frost\n    notify:\n      - { after: 0s, to: ${MAIL} }\n      - { after: 10m, to: ${MAIL} }\n      - { after: 600s, to: ${MAIL} }`,
      ),
      'after: 600s',
      /notify\.2\.after: each step's after is later than the step before it/,
    );
  });

  it('refuses a policy that does nothing', () => {
    expectRefused(
      setText('  - alarm: frost\n    severities: [major]'),
      'alarm: frost',
      /the policy does nothing/,
    );
  });

  it('refuses a policy that an earlier one, or earlier ones together, always match first', () => {
    expectRefused(
      setText(
        `  - alarm: "*"\n    notify: [{ after: 0s, to: ${MAIL} }]\n  - alarm: frost\n    notify: [{ after: 0s, to: ${MAIL} }]`,
      ),
      'alarm: frost',
      /policies\.1: can never match: policies\.0 \(alarm \*\) before it/,
    );
    const together = setText(
      [
        `  - alarm: overheat\n    severities: [major, critical]\n    notify: [{ after: 0s, to: ${MAIL} }]`,
        `  - alarm: "*"\n    severities: [info, warning, minor]\n    notify: [{ after: 0s, to: ${MAIL} }]`,
        `  - alarm: overheat # covered\n    dispatch: {}`,
      ].join('\n'),
    );
    expectRefused(
      together,
      '# covered',
      /can never match: policies\.0 \(alarm overheat\), policies\.1 \(alarm \*\)/,
    );
    // a narrower policy after a wider one of another alarm is reachable
    parsed(
      setText(
        `  - alarm: overheat\n    notify: [{ after: 0s, to: ${MAIL} }]\n  - alarm: frost\n    severities: [major]\n    dispatch: {}`,
      ),
    );
  });

  it('judges a * policy over the ruleset’s rules when it is given', () => {
    const rules = RULESETS.find((r) => r.productId === 'thermo-t1')!.rules.map((r) => r.id);
    const each = rules.map((id) => `  - alarm: ${id}\n    notify: [{ after: 0s, to: ${MAIL} }]`).join('\n');
    const text = `${setText(each)}\n  - alarm: "*" # never\n    dispatch: {}`;
    expect(parsePolicySet('p.yaml', text).problems).toEqual([]);
    expectRefused(text, '# never', /can never match/, rulesetOf);
  });

  it('checks alarms and severities against the product’s ruleset', () => {
    expectRefused(
      setText(`  - alarm: overheet\n    notify: [{ after: 0s, to: ${MAIL} }]`),
      'overheet',
      /policies\.0\.alarm: no rule "overheet" in ruleset thermo-t1-rules v1 \(overheat, damp-and-cool,/,
      rulesetOf,
    );
    // frost is the ruleset's critical: the platform's major; it never escalates
    expectRefused(
      setText(`  - alarm: frost\n    severities: [critical]\n    notify: [{ after: 0s, to: ${MAIL} }]`),
      'critical',
      /severities\.0: rule frost never raises "critical": it can be major/,
      rulesetOf,
    );
    // overheat: the ruleset's major (minor), escalated to critical (major), overridden to minor (warning)
    parsed(
      setText(
        `  - alarm: overheat\n    severities: [minor, major, warning]\n    notify: [{ after: 0s, to: ${MAIL} }]`,
      ),
    );
    expectRefused(
      setText(`  - alarm: frost\n    notify: [{ after: 0s, to: ${MAIL} }]`).replace('thermo-t1', 'kettle-k1'),
      'productId',
      /no ruleset of product "kettle-k1"/,
      rulesetOf,
    );
  });

  it('refuses template keys that are not default or a severity, and unknown placeholders', () => {
    const policies = `  - alarm: frost\n    notify: [{ after: 0s, to: ${MAIL} }]`;
    expectRefused(
      setText(policies, 'templates:\n  email:\n    urgent: { body: "{{message}}" }'),
      'urgent',
      /templates\.email\.urgent: "urgent" is not default or a severity/,
    );
    expectRefused(
      setText(
        policies,
        'templates:\n  sns:\n    default:\n      subject: "{{severity}}"\n      body: "{{ devise }} is {{status}}"',
      ),
      'devise',
      /templates\.sns\.default\.body: unknown placeholder \{\{devise\}\}/,
    );
    expectRefused(
      setText(policies, 'templates:\n  webhook:\n    major:\n      body: "{{ device id }}"'),
      'device id',
      /\{\{ or \}\} that is not a placeholder/,
    );
  });

  it('reports a second set for one product and a version defined twice', () => {
    const { problems } = loadPolicySets([
      'specs/examples/responses/thermo-t1.yaml',
      'specs/examples/responses/thermo-t1.yaml',
    ]);
    expect(problems).toEqual([
      {
        file: 'specs/examples/responses/thermo-t1.yaml',
        line: 1,
        message: expect.stringMatching(/version 1 is also defined in/),
      },
    ]);
  });
});

describe('matchPolicy', () => {
  const set = parsed(
    setText(
      [
        `  - alarm: frost\n    dispatch: {}`,
        `  - alarm: overheat\n    severities: [major]\n    dispatch: { priority: high }`,
        `  - alarm: overheat\n    notify: [{ after: 0s, to: ${MAIL} }]`,
        `  - alarm: "*"\n    severities: [info]\n    notify: [{ after: 0s, to: ${MAIL} }]`,
      ].join('\n'),
    ),
  );

  it('takes the first policy in file order whose alarm and severities match', () => {
    expect(matchPolicy(set, 'overheat', 'major')?.index).toBe(1);
    expect(matchPolicy(set, 'overheat', 'minor')?.index).toBe(2);
    expect(matchPolicy(set, 'frost', 'info')?.index).toBe(0);
    expect(matchPolicy(set, 'silent', 'info')?.index).toBe(3);
    expect(matchPolicy(set, 'silent', 'minor')).toBeUndefined();
    expect(matchPolicy(set, 'overheat', 'major')?.policy.dispatch?.priority).toBe('high');
  });
});
