/**
 * Compiles a ruleset version once: every threshold rule's condition and clear side, every
 * correlation's condition over rule states and every aggregate's test become generated functions
 * (one `new Function` per ruleset and override combination), durations are milliseconds, schedules
 * and maintenance windows predicates. What runs per reading is the generated code, never a walk of
 * the rule tree.
 *
 * Overrides are resolved per target (device > site > customer > product, field by field) and each
 * combination that occurs is compiled once, on first use, and kept.
 */
import type { Comparison, Condition } from '../../../specs/rules/condition.ts';
import { metricsOf } from '../../../specs/rules/expression.ts';
import type { Override, Rule, RuleOverride, Ruleset } from '../../../specs/rules/schema.ts';
import { ruleRefsOf } from '../../../specs/rules/validate.ts';
import type { Telemetry } from '../../../topology/index.ts';
import { detectorIssues } from '../detectorParams.ts';
import { conditionSource, numberLiteral, relaxed, ruleStateSource } from './conditionCode.ts';
import { compileMaintenance, compileSchedule, type InMaintenance, type InSchedule } from './schedule.ts';

/** What a rule's condition reads of a reading. */
export type RuleReading = Pick<Telemetry, 'metrics'>;
/** A condition's value: undefined when a metric it needs is absent. */
export type Verdict = boolean | undefined;

/** What every compiled rule has. */
interface CompiledRuleBase {
  readonly id: string;
  readonly severity: string;
  /** 0 (lowest) to 4. */
  readonly severityRank: number;
  readonly message: string;
  readonly latched: boolean;
  readonly enabled: boolean;
  /** Raise to `to` after the alarm has been active `afterMs`, steps in order. */
  readonly escalate: readonly { readonly afterMs: number; readonly to: string; readonly rank: number }[];
  readonly deescalateAfterMs?: number;
  readonly inSchedule: InSchedule;
  readonly inMaintenance: InMaintenance;
}

/** A compiled threshold rule. */
export interface CompiledThreshold extends CompiledRuleBase {
  readonly kind: 'threshold';
  condition(reading: RuleReading): Verdict;
  /** Whether an active alarm may clear: the hysteresis side, the explicit clear condition, or `!condition`. */
  clear(reading: RuleReading): Verdict;
  readonly onDelayMs: number;
  readonly offDelayMs: number;
  readonly repeat?: { readonly count: number; readonly withinMs: number };
  /** The metrics the condition and clear side read. */
  readonly metrics: readonly string[];
}

/** A compiled correlation: a condition over other rules' states (true active, false clear). */
export interface CompiledCorrelation extends CompiledRuleBase {
  readonly kind: 'correlation';
  readonly scope: 'device' | 'hub' | 'site' | 'customer';
  readonly refs: readonly string[];
  readonly withinMs?: number;
  condition(states: Readonly<Record<string, boolean | undefined>>): Verdict;
}

/** A compiled rule on window aggregates. */
export interface CompiledAggregate extends CompiledRuleBase {
  readonly kind: 'aggregate';
  readonly metric: string;
  readonly window: '1h' | '6h' | '1d';
  readonly statistic: Extract<Rule, { kind: 'aggregate' }>['statistic'];
  readonly final: boolean;
  test(value: number): boolean;
}

/** A rule judged over a device's history by a detector: its parameters as validated (durations in ms). */
export type CompiledDetectorRule = CompiledRuleBase &
  Omit<
    Extract<Rule, { kind: 'rate-of-change' | 'out-of-band' | 'absence' | 'anomaly' | 'predictive' }>,
    keyof Common
  >;
type Common = Pick<
  Rule,
  | 'id'
  | 'severity'
  | 'message'
  | 'latched'
  | 'enabled'
  | 'escalate'
  | 'deescalateAfter'
  | 'schedule'
  | 'maintenance'
  | 'examples'
  | 'description'
>;

export type CompiledRule = CompiledThreshold | CompiledCorrelation | CompiledAggregate | CompiledDetectorRule;

/** Whom a reading is about, to pick the overrides that apply. */
export interface RuleTarget {
  readonly deviceId: string;
  readonly siteId?: string | null;
  readonly customerId?: string | null;
}

/** A ruleset version, compiled. */
export interface CompiledRuleset {
  readonly id: string;
  readonly productId: string;
  readonly version: number;
  readonly severities: readonly string[];
  /** The rules with no override. */
  readonly rules: readonly CompiledRule[];
  /** The rules as overridden for a target (the same array for targets with the same overrides). */
  rulesFor(target: RuleTarget): readonly CompiledRule[];
}

/**
 * Compiles a validated ruleset (see `specs/rules/loader.ts`). Throws when a detector refuses a rule's
 * parameters (`detectorIssues`, which the loaders of the CLI and the worker also run, with the line).
 */
export function compileRuleset(ruleset: Ruleset): CompiledRuleset {
  const refused = detectorIssues(ruleset);
  if (refused.length > 0)
    throw new Error(
      `ruleset ${ruleset.id} version ${ruleset.version}: ${refused.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  const byTarget = {
    customer: indexBy(ruleset.overrides, 'customer'),
    site: indexBy(ruleset.overrides, 'site'),
    device: indexBy(ruleset.overrides, 'device'),
  };
  const base = compileRules(ruleset, new Map());
  const variants = new Map<string, readonly CompiledRule[]>([['', base]]);
  return {
    id: ruleset.id,
    productId: ruleset.productId,
    version: ruleset.version,
    severities: ruleset.severities,
    rules: base,
    rulesFor(target) {
      // most rulesets have no overrides: nothing to look up or allocate per reading
      if (ruleset.overrides.length === 0) return base;
      const applying = [
        target.customerId == null ? undefined : byTarget.customer.get(target.customerId),
        target.siteId == null ? undefined : byTarget.site.get(target.siteId),
        byTarget.device.get(target.deviceId),
      ].filter((i) => i !== undefined);
      const key = applying.join(',');
      let rules = variants.get(key);
      if (rules === undefined) {
        rules = compileRules(ruleset, mergeOverrides(applying.map((i) => ruleset.overrides[i]!)));
        variants.set(key, rules);
      }
      return rules;
    },
  };
}

function indexBy(overrides: readonly Override[], key: 'customer' | 'site' | 'device'): Map<string, number> {
  const index = new Map<string, number>();
  overrides.forEach((o, i) => {
    const id = o[key];
    if (id !== undefined) index.set(id, i);
  });
  return index;
}

/** The overrides of each rule, later ones (more specific) winning field by field. */
function mergeOverrides(overrides: readonly Override[]): Map<string, RuleOverride> {
  const merged = new Map<string, RuleOverride>();
  for (const o of overrides) {
    for (const [id, change] of Object.entries(o.rules)) {
      const before = merged.get(id) ?? {};
      merged.set(id, { ...before, ...change, params: { ...before.params, ...change.params } });
    }
  }
  return merged;
}

/** A condition tree with the override's values put in. */
function withValues(condition: Condition, change: RuleOverride | undefined): Condition {
  if (change === undefined || (change.value === undefined && change.params === undefined)) return condition;
  const put = (c: Condition): Condition => {
    switch (c.type) {
      case 'compare': {
        const value: Comparison['value'] =
          c.param !== undefined && change.params?.[c.param] !== undefined
            ? change.params[c.param]!
            : (change.value ?? c.value);
        return { ...c, value };
      }
      case 'all':
        return { type: 'all', all: c.all.map(put) };
      case 'any':
        return { type: 'any', any: c.any.map(put) };
      default:
        return { type: 'not', not: put(c.not) };
    }
  };
  return put(condition);
}

function compileRules(
  ruleset: Ruleset,
  overrides: ReadonlyMap<string, RuleOverride>,
): readonly CompiledRule[] {
  const sources: string[] = [];
  ruleset.rules.forEach((rule, i) => {
    const change = overrides.get(rule.id);
    if (rule.kind === 'threshold') {
      const when = withValues(rule.when, change);
      sources.push(`c${i}: ${conditionSource('condition', when)}`);
      const clear =
        rule.clear === undefined
          ? conditionSource('clear', when, true)
          : 'hysteresis' in rule.clear
            ? conditionSource('clear', relaxed(when, rule.clear.hysteresis), true)
            : conditionSource('clear', rule.clear.when);
      sources.push(`k${i}: ${clear}`);
    } else if (rule.kind === 'correlation') {
      sources.push(`c${i}: ${ruleStateSource('condition', rule.when)}`);
    } else if (rule.kind === 'aggregate') {
      sources.push(`c${i}: function test(x) { return x ${rule.op} ${numberLiteral(rule.value)}; }`);
    }
  });
  const generated = new Function(`'use strict';\nreturn {\n${sources.join(',\n')}\n};`)() as Record<
    string,
    (...args: never[]) => unknown
  >;
  return ruleset.rules.map((rule, i) => compileRule(ruleset, rule, overrides.get(rule.id), generated, i));
}

function compileRule(
  ruleset: Ruleset,
  rule: Rule,
  change: RuleOverride | undefined,
  generated: Record<string, unknown>,
  i: number,
): CompiledRule {
  const { id, message, latched, escalate, deescalateAfter, schedule, maintenance } = rule;
  const severity = change?.severity ?? rule.severity;
  const severityRank = ruleset.severities.indexOf(severity);
  const base: CompiledRuleBase = {
    id,
    severity,
    severityRank,
    message,
    latched,
    enabled: change?.enabled ?? rule.enabled,
    escalate: (escalate ?? [])
      .map((s) => ({ afterMs: s.after, to: s.to, rank: ruleset.severities.indexOf(s.to) }))
      .filter((s) => s.rank > severityRank),
    ...(deescalateAfter === undefined ? {} : { deescalateAfterMs: deescalateAfter }),
    inSchedule: compileSchedule(schedule),
    inMaintenance: compileMaintenance([...(ruleset.maintenance ?? []), ...(maintenance ?? [])]),
  };
  switch (rule.kind) {
    case 'threshold': {
      const metrics = new Set<string>();
      const collect = (c: Condition) => {
        if (c.type === 'compare') metricsOf(c.left, metrics);
        else if (c.type === 'not') collect(c.not);
        else for (const child of c.type === 'all' ? c.all : c.any) collect(child);
      };
      collect(rule.when);
      if (rule.clear !== undefined && 'when' in rule.clear) collect(rule.clear.when);
      return {
        ...base,
        kind: 'threshold',
        condition: generated[`c${i}`] as CompiledThreshold['condition'],
        clear: generated[`k${i}`] as CompiledThreshold['clear'],
        onDelayMs: rule.onDelay ?? 0,
        offDelayMs: rule.offDelay ?? 0,
        ...(rule.repeat === undefined
          ? {}
          : { repeat: { count: rule.repeat.count, withinMs: rule.repeat.within } }),
        metrics: [...metrics],
      };
    }
    case 'correlation':
      return {
        ...base,
        kind: 'correlation',
        scope: rule.scope,
        refs: [...new Set(ruleRefsOf(rule.when))],
        ...(rule.within === undefined ? {} : { withinMs: rule.within }),
        condition: generated[`c${i}`] as CompiledCorrelation['condition'],
      };
    case 'aggregate':
      return {
        ...base,
        kind: 'aggregate',
        metric: rule.metric,
        window: rule.window,
        statistic: rule.statistic,
        final: rule.final,
        test: generated[`c${i}`] as CompiledAggregate['test'],
      };
    default: {
      const { severity: _s, enabled: _e, examples: _x, description: _d, ...params } = rule;
      return { ...params, ...base } as CompiledDetectorRule;
    }
  }
}
