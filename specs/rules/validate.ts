/**
 * The checks a ruleset must pass beyond its shape: against its product's spec (every metric a rule
 * reads exists, and is compared as what it is), and between its own parts (severities named, rule
 * ids unique, correlation references that exist and do not go round in a cycle, overrides that name
 * rules and parameters the set has). Each problem carries the path of the node it concerns.
 */
import { isKnownZone } from '../../topology/index.ts';
import type { Spec } from '../schema.ts';
import { type Comparison, type Condition, forEachComparison } from './condition.ts';
import { metricsOf } from './expression.ts';
import type { Rule, RuleStateCondition, Ruleset } from './schema.ts';

/** A problem at a path of the ruleset file. */
export interface RulesetIssue {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

type MetricType = 'number' | 'string' | 'boolean' | 'unknown';

/** The metrics a product's specs give telemetry, with their contract types where known. */
export function metricsOfProduct(specs: readonly Spec[]): Map<string, MetricType> {
  const metrics = new Map<string, MetricType>();
  for (const spec of specs) {
    for (const name of spec.telemetry.metrics ?? []) if (!metrics.has(name)) metrics.set(name, 'unknown');
    for (const [name, contract] of Object.entries(spec.contract.metrics)) metrics.set(name, contract.type);
  }
  return metrics;
}

/** The ids of the rules a correlation condition refers to. */
export function ruleRefsOf(condition: RuleStateCondition, into: string[] = []): string[] {
  if (typeof condition === 'string') into.push(condition);
  else if ('all' in condition) for (const c of condition.all) ruleRefsOf(c, into);
  else if ('any' in condition) for (const c of condition.any) ruleRefsOf(c, into);
  else ruleRefsOf(condition.not, into);
  return into;
}

/** The comparisons of a threshold rule's `when`, in order. */
export function comparisonsOf(condition: Condition): Comparison[] {
  const found: Comparison[] = [];
  forEachComparison(condition, (c) => found.push(c));
  return found;
}

/**
 * Checks a ruleset. With `specs` (the product's specs), metrics are checked against them; without,
 * only the ruleset's own consistency.
 */
export function validateRuleset(ruleset: Ruleset, specs?: readonly Spec[]): RulesetIssue[] {
  const issues: RulesetIssue[] = [];
  const severities = ruleset.severities;
  const metrics = specs === undefined ? undefined : metricsOfProduct(specs);
  if (specs !== undefined && specs.length === 0)
    issues.push({ path: ['productId'], message: `no spec of product "${ruleset.productId}" is known` });

  const byId = new Map<string, number>();
  ruleset.rules.forEach((rule, i) => {
    const at = ['rules', i];
    if (byId.has(rule.id))
      issues.push({ path: [...at, 'id'], message: `rule id "${rule.id}" is used twice` });
    else byId.set(rule.id, i);
    const rank = severities.indexOf(rule.severity);
    if (rank < 0)
      issues.push({
        path: [...at, 'severity'],
        message: `unknown severity "${rule.severity}" (one of ${severities.join(', ')})`,
      });
    let previous = rank;
    rule.escalate?.forEach((step, j) => {
      const to = severities.indexOf(step.to);
      if (to < 0)
        issues.push({
          path: [...at, 'escalate', j, 'to'],
          message: `unknown severity "${step.to}" (one of ${severities.join(', ')})`,
        });
      else if (to <= previous)
        issues.push({
          path: [...at, 'escalate', j, 'to'],
          message: `escalation to "${step.to}" is not above the severity before it`,
        });
      if (j > 0 && step.after <= rule.escalate![j - 1]!.after)
        issues.push({
          path: [...at, 'escalate', j, 'after'],
          message: 'escalation steps must come later in turn',
        });
      previous = Math.max(previous, to);
    });
    if (rule.kind !== 'threshold' && rule.examples !== undefined)
      issues.push({
        path: [...at, 'examples'],
        message: `examples are run for threshold rules; a ${rule.kind} rule is judged over a device's history`,
      });
    rule.examples?.forEach((example, j) => {
      if (example.zone !== undefined && !isKnownZone(example.zone))
        issues.push({ path: [...at, 'examples', j, 'zone'], message: `unknown time zone "${example.zone}"` });
      if (example.at !== undefined && Number.isNaN(Date.parse(example.at)))
        issues.push({
          path: [...at, 'examples', j, 'at'],
          message: `"${example.at}" is not an ISO 8601 time`,
        });
    });
    if (metrics !== undefined) issues.push(...metricIssues(rule, at, metrics, ruleset.productId));
  });

  issues.push(...correlationIssues(ruleset.rules, byId));
  issues.push(...overrideIssues(ruleset, byId));
  return issues;
}

function metricIssues(
  rule: Rule,
  at: readonly (string | number)[],
  metrics: Map<string, MetricType>,
  productId: string,
): RulesetIssue[] {
  const issues: RulesetIssue[] = [];
  const unknown = (name: string, path: readonly (string | number)[]) =>
    issues.push({
      path,
      message: `unknown metric "${name}": product ${productId} has ${[...metrics.keys()].join(', ') || 'none'}`,
    });
  const numeric = (name: string, path: readonly (string | number)[], why: string) => {
    const type = metrics.get(name);
    if (type === undefined) unknown(name, path);
    else if (type !== 'number' && type !== 'unknown')
      issues.push({ path, message: `wrong type: "${name}" is a ${type} metric; ${why}` });
  };
  const checkCondition = (condition: Condition, path: readonly (string | number)[]) =>
    forEachComparison(
      condition,
      (c, below) => {
        const here = [...path, ...below];
        if (c.left.type === 'metric') {
          const name = c.left.name;
          const type = metrics.get(name);
          if (type === undefined) return unknown(name, [...here, 'metric']);
          if (c.op !== '==' && c.op !== '!=')
            return numeric(name, [...here, 'metric'], `"${c.op}" compares numbers`);
          if (type !== 'unknown' && typeof c.value !== type)
            issues.push({
              path: [...here, 'value'],
              message: `wrong type: "${name}" is a ${type} metric, compared with a ${typeof c.value}`,
            });
          return;
        }
        for (const name of metricsOf(c.left))
          numeric(name, [...here, 'expr'], 'expressions compute on numbers');
      },
      [],
    );
  switch (rule.kind) {
    case 'threshold':
      checkCondition(rule.when, [...at, 'when']);
      if (rule.clear !== undefined && 'when' in rule.clear)
        checkCondition(rule.clear.when, [...at, 'clear', 'when']);
      break;
    case 'absence':
      if (rule.metric !== undefined && !metrics.has(rule.metric)) unknown(rule.metric, [...at, 'metric']);
      break;
    case 'correlation':
      break;
    default:
      numeric(rule.metric, [...at, 'metric'], `a ${rule.kind} rule computes on numbers`);
      break;
  }
  return issues;
}

/** References of correlation rules to rules that exist, and no cycle among them. */
function correlationIssues(rules: readonly Rule[], byId: ReadonlyMap<string, number>): RulesetIssue[] {
  const issues: RulesetIssue[] = [];
  const refs = new Map<string, string[]>();
  rules.forEach((rule, i) => {
    if (rule.kind !== 'correlation') return;
    const named = ruleRefsOf(rule.when);
    for (const ref of named)
      if (!byId.has(ref))
        issues.push({ path: ['rules', i, 'when'], message: `correlation refers to unknown rule "${ref}"` });
    refs.set(rule.id, named);
  });
  // depth-first search; a node met again while still on the path closes a cycle
  const state = new Map<string, 'open' | 'done'>();
  const reported = new Set<string>();
  const visit = (id: string, path: string[]): void => {
    if (state.get(id) === 'done') return;
    if (state.get(id) === 'open') {
      const cycle = [...path.slice(path.indexOf(id)), id];
      const key = [...cycle.slice(0, -1)].sort().join(',');
      if (!reported.has(key)) {
        reported.add(key);
        issues.push({
          path: ['rules', byId.get(id)!, 'when'],
          message: `correlation rules refer to each other in a cycle: ${cycle.join(' → ')}`,
        });
      }
      return;
    }
    state.set(id, 'open');
    for (const next of refs.get(id) ?? []) if (refs.has(next)) visit(next, [...path, id]);
    state.set(id, 'done');
  };
  for (const id of refs.keys()) visit(id, []);
  return issues;
}

function overrideIssues(ruleset: Ruleset, byId: ReadonlyMap<string, number>): RulesetIssue[] {
  const issues: RulesetIssue[] = [];
  ruleset.overrides.forEach((override, i) => {
    for (const [id, change] of Object.entries(override.rules)) {
      const path = ['overrides', i, 'rules', id];
      const index = byId.get(id);
      if (index === undefined) {
        issues.push({ path, message: `override of unknown rule "${id}"` });
        continue;
      }
      const rule = ruleset.rules[index]!;
      if (change.severity !== undefined && !ruleset.severities.includes(change.severity))
        issues.push({
          path: [...path, 'severity'],
          message: `unknown severity "${change.severity}" (one of ${ruleset.severities.join(', ')})`,
        });
      const comparisons = rule.kind === 'threshold' ? comparisonsOf(rule.when) : [];
      if (
        change.value !== undefined &&
        (comparisons.length !== 1 || typeof comparisons[0]!.value !== 'number')
      )
        issues.push({
          path: [...path, 'value'],
          message: `value overrides a threshold rule whose condition is one numeric comparison; "${id}" is not one (name its comparisons with param: and use params)`,
        });
      for (const param of Object.keys(change.params ?? {})) {
        const named = comparisons.filter((c) => c.param === param);
        if (named.length === 0)
          issues.push({
            path: [...path, 'params', param],
            message: `rule "${id}" has no comparison named "${param}"`,
          });
        else if (named.some((c) => typeof c.value !== 'number'))
          issues.push({ path: [...path, 'params', param], message: `"${param}" does not compare a number` });
      }
    }
  });
  return issues;
}
