/**
 * What a response-policy set must pass beyond its shape, each problem at the path of the node it
 * concerns: remote fixes set only allowlisted shadow keys and say what "fixed" looks like; templates
 * use known placeholders and are keyed by `default` or a severity; escalation steps start at 0 and
 * rise; every policy does something and can be reached; and, with the product's ruleset, every alarm
 * is one of its rules at a severity the rule can have. Also the first-match rule (`matchPolicy`)
 * that decides which policy applies to an alarm: defined here once, used by the checks, the catalog
 * and the outbox.
 */
import { platformSeverity } from '../../topology/index.ts';
import type { Rule, Ruleset } from '../rules/schema.ts';
import { NOTIFY_CHANNELS, POLICY_SEVERITIES, type ResponsePolicy, type ResponsePolicySet } from './schema.ts';
import { strayBraces, TEMPLATE_FIELDS, templatePlaceholders } from './template.ts';

/** A problem at a path of the policy file. */
export interface PolicyIssue {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/** Whether `policy` applies to an alarm of `ruleId` at `severity`. */
function matches(policy: ResponsePolicy, ruleId: string, severity: string): boolean {
  return (
    (policy.alarm === '*' || policy.alarm === ruleId) &&
    (policy.severities === undefined || (policy.severities as readonly string[]).includes(severity))
  );
}

/**
 * The policy that applies to an alarm of rule `ruleId` at `severity` (the platform's name): the first
 * in file order whose `alarm` is the rule or `*` and whose `severities` (all when absent) hold it.
 */
export function matchPolicy(
  set: ResponsePolicySet,
  ruleId: string,
  severity: string,
): { policy: ResponsePolicy; index: number } | undefined {
  const index = set.policies.findIndex((p) => matches(p, ruleId, severity));
  return index < 0 ? undefined : { policy: set.policies[index]!, index };
}

/** The platform severities a rule can raise: its own, its escalation steps', its overrides'. */
function severitiesOfRule(ruleset: Ruleset, rule: Rule): Set<string> {
  const names = [rule.severity, ...(rule.escalate ?? []).map((s) => s.to)];
  for (const o of ruleset.overrides) {
    const severity = o.rules[rule.id]?.severity;
    if (severity !== undefined) names.push(severity);
  }
  const ranks = names.map((n) => ruleset.severities.indexOf(n)).filter((r) => r >= 0);
  return new Set(ranks.map(platformSeverity));
}

/** A policy's name in messages: `policies.2 (alarm overheat)`. */
function policyName(policy: ResponsePolicy, index: number): string {
  return `policies.${index} (alarm ${policy.alarm})`;
}

function checkTemplates(set: ResponsePolicySet, issues: PolicyIssue[]): void {
  const known = new Set<string>(TEMPLATE_FIELDS);
  for (const channel of NOTIFY_CHANNELS) {
    for (const [key, template] of Object.entries(set.templates[channel] ?? {})) {
      const at = ['templates', channel, key];
      if (key !== 'default' && !(POLICY_SEVERITIES as readonly string[]).includes(key))
        issues.push({
          path: at,
          message: `"${key}" is not default or a severity (${POLICY_SEVERITIES.join(', ')})`,
        });
      for (const part of ['subject', 'body'] as const) {
        const text = template[part];
        const unknown = templatePlaceholders(text).filter((name) => !known.has(name));
        if (unknown.length > 0)
          issues.push({
            path: [...at, part],
            message: `unknown placeholder ${unknown.map((n) => `{{${n}}}`).join(', ')} (known: ${TEMPLATE_FIELDS.join(', ')})`,
          });
        if (strayBraces(text))
          issues.push({
            path: [...at, part],
            message:
              '{{ or }} that is not a placeholder: a placeholder is {{name}}, a name of letters and digits',
          });
      }
    }
  }
}

function checkPolicy(set: ResponsePolicySet, policy: ResponsePolicy, at: (string | number)[]): PolicyIssue[] {
  const issues: PolicyIssue[] = [];
  const does =
    policy.notify.length > 0 ||
    policy.remind !== undefined ||
    policy.onClear.length > 0 ||
    policy.remoteFix !== undefined ||
    policy.dispatch !== undefined;
  if (!does)
    issues.push({
      path: at,
      message: 'the policy does nothing: give it notify, remind, onClear, remoteFix or dispatch',
    });
  if (policy.severities?.length === 0)
    issues.push({
      path: [...at, 'severities'],
      message: 'an empty list matches no alarm; leave it out for all',
    });

  let previous = -1;
  policy.notify.forEach((step, j) => {
    const path = [...at, 'notify', j, 'after'];
    if (j === 0 && step.after !== 0)
      issues.push({
        path,
        message: 'the first step of the escalation chain is at 0s (when the alarm is raised)',
      });
    else if (j > 0 && step.after <= previous)
      issues.push({ path, message: "each step's after is later than the step before it" });
    previous = step.after;
  });

  const fix = policy.remoteFix;
  if (fix !== undefined && 'shadow' in fix) {
    const fixAt = [...at, 'remoteFix', 'shadow'];
    const allowed = set.shadow.settableKeys;
    if (Object.keys(fix.shadow.desired).length === 0)
      issues.push({ path: [...fixAt, 'desired'], message: 'sets nothing: name at least one key' });
    for (const key of Object.keys(fix.shadow.desired))
      if (!allowed.includes(key))
        issues.push({
          path: [...fixAt, 'desired', key],
          message: `"${key}" is not in shadow.settableKeys (${allowed.length === 0 ? 'none are listed' : allowed.join(', ')})`,
        });
    if (fix.shadow.expect !== undefined && Object.keys(fix.shadow.expect).length === 0)
      issues.push({
        path: [...fixAt, 'expect'],
        message:
          'says nothing: name the reported keys that mean fixed, or leave it out for the desired state',
      });
  }
  if (fix !== undefined && 'firmware' in fix && Object.keys(fix.firmware.expect).length === 0)
    issues.push({
      path: [...at, 'remoteFix', 'firmware', 'expect'],
      message: "says nothing: name the reported keys that mean updated (e.g. { firmware: '2.4.1' })",
    });
  return issues;
}

/**
 * The policies that match before `index` every alarm the one at `index` would: it can never apply.
 * `ruleIds`, when known (the ruleset), are all the rules a `*` policy can see.
 */
function shadowedBy(
  set: ResponsePolicySet,
  index: number,
  ruleIds: readonly string[] | undefined,
): number[] | undefined {
  const policy = set.policies[index]!;
  // a `*` policy matches rules no earlier policy names: without the ruleset, always some
  const rules = policy.alarm !== '*' ? [policy.alarm] : ruleIds;
  const severities = policy.severities ?? POLICY_SEVERITIES;
  const by = new Set<number>();
  for (const severity of severities) {
    const candidates = rules ?? [undefined];
    for (const ruleId of candidates) {
      const earlier = set.policies
        .slice(0, index)
        .findIndex((p) =>
          ruleId === undefined ? p.alarm === '*' && matches(p, '*', severity) : matches(p, ruleId, severity),
        );
      if (earlier < 0) return undefined;
      by.add(earlier);
    }
  }
  return [...by].sort((a, b) => a - b);
}

/**
 * Checks a policy set. With `ruleset` (the product's), alarm ids and severities are checked against
 * it and a `*` policy is judged over its rules; without, only the set's own consistency.
 */
export function validatePolicySet(set: ResponsePolicySet, ruleset?: Ruleset): PolicyIssue[] {
  const issues: PolicyIssue[] = [];
  checkTemplates(set, issues);
  if (ruleset !== undefined && ruleset.productId !== set.productId)
    issues.push({
      path: ['productId'],
      message: `the ruleset given (${ruleset.id}) is of product "${ruleset.productId}"`,
    });
  const ruleIds = ruleset?.rules.map((r) => r.id);

  set.policies.forEach((policy, i) => {
    const at = ['policies', i];
    issues.push(...checkPolicy(set, policy, at));
    if (ruleset !== undefined && policy.alarm !== '*') {
      const rule = ruleset.rules.find((r) => r.id === policy.alarm);
      if (rule === undefined)
        issues.push({
          path: [...at, 'alarm'],
          message: `no rule "${policy.alarm}" in ruleset ${ruleset.id} v${ruleset.version} (${ruleIds!.join(', ')})`,
        });
      else if (policy.severities !== undefined) {
        const can = severitiesOfRule(ruleset, rule);
        policy.severities.forEach((severity, k) => {
          if (!can.has(severity))
            issues.push({
              path: [...at, 'severities', k],
              message: `rule ${rule.id} never raises "${severity}": it can be ${[...can].join(', ')} (the ruleset's ${ruleset.severities.join(', ')} are the platform's ${POLICY_SEVERITIES.join(', ')} by rank)`,
            });
        });
      }
    }
    const by = shadowedBy(set, i, ruleIds);
    if (by !== undefined)
      issues.push({
        path: at,
        message: `can never match: ${by.map((j) => policyName(set.policies[j]!, j)).join(', ')} before it match every alarm it would (the first match applies)`,
      });
  });
  return issues;
}
