/**
 * The baseline and reference for the compiled rules (`operators/rules/compile/`): the evaluator one
 * would write first, which walks a rule's condition tree on every reading — a switch on each node's
 * type, the expression tree walked per comparison, hysteresis applied while walking. The property
 * tests hold the generated code to it, reading for reading; `bench:rules` will measure against it.
 * It follows the same meaning (see `conditionCode.ts`): a comparison is unknown (undefined) when a
 * metric it needs is absent, null or of another type, or an expression's result is not finite;
 * `all` / `any` / `not` are three-valued.
 */
import type { Comparison, Condition } from '../specs/rules/condition.ts';
import type { Expr } from '../specs/rules/expression.ts';
import type { ThresholdRule } from '../specs/rules/schema.ts';

type Metrics = Readonly<Record<string, number | string | boolean | null>>;

/** An expression's value, or undefined when a metric it reads is not a number. */
export function interpretExpression(expr: Expr, metrics: Metrics): number | undefined {
  switch (expr.type) {
    case 'number':
      return expr.value;
    case 'metric': {
      const v = metrics[expr.name];
      return typeof v === 'number' ? v : undefined;
    }
    case 'negate': {
      const v = interpretExpression(expr.arg, metrics);
      return v === undefined ? undefined : -v;
    }
    case 'binary': {
      const l = interpretExpression(expr.left, metrics);
      const r = interpretExpression(expr.right, metrics);
      if (l === undefined || r === undefined) return undefined;
      if (expr.op === '+') return l + r;
      if (expr.op === '-') return l - r;
      if (expr.op === '*') return l * r;
      return l / r;
    }
    case 'call': {
      const args: number[] = [];
      for (const a of expr.args) {
        const v = interpretExpression(a, metrics);
        if (v === undefined) return undefined;
        args.push(v);
      }
      if (expr.fn === 'abs') return Math.abs(args[0]!);
      return expr.fn === 'min' ? Math.min(...args) : Math.max(...args);
    }
    default:
      return undefined;
  }
}

function compare(
  left: number | string | boolean,
  op: Comparison['op'],
  right: number | string | boolean,
): boolean {
  switch (op) {
    case '>':
      return left > right;
    case '>=':
      return left >= right;
    case '<':
      return left < right;
    case '<=':
      return left <= right;
    case '==':
      return left === right;
    default:
      return left !== right;
  }
}

/**
 * A comparison's value; `shift` moves an ordering comparison's threshold so that it holds longer
 * (by `shift` when positive, shorter when negative): the hysteresis band.
 */
function interpretComparison(c: Comparison, metrics: Metrics, shift: number): boolean | undefined {
  let value = c.value;
  if (shift !== 0 && typeof value === 'number') {
    if (c.op === '>' || c.op === '>=') value -= shift;
    else if (c.op === '<' || c.op === '<=') value += shift;
  }
  if (c.left.type === 'metric') {
    const v = metrics[c.left.name];
    if (v === undefined || v === null || typeof v !== typeof value) return undefined;
    return compare(v, c.op, value);
  }
  const x = interpretExpression(c.left, metrics);
  if (x === undefined || !Number.isFinite(x)) return undefined;
  return compare(x, c.op, value);
}

/** A condition tree's value on a reading's metrics, walked node by node. */
export function interpretCondition(condition: Condition, metrics: Metrics, shift = 0): boolean | undefined {
  switch (condition.type) {
    case 'compare':
      return interpretComparison(condition, metrics, shift);
    case 'all': {
      let unknown = false;
      for (const c of condition.all) {
        const v = interpretCondition(c, metrics, shift);
        if (v === false) return false;
        if (v === undefined) unknown = true;
      }
      return unknown ? undefined : true;
    }
    case 'any': {
      let unknown = false;
      for (const c of condition.any) {
        const v = interpretCondition(c, metrics, shift);
        if (v === true) return true;
        if (v === undefined) unknown = true;
      }
      return unknown ? undefined : false;
    }
    case 'not': {
      const v = interpretCondition(condition.not, metrics, -shift);
      return v === undefined ? undefined : !v;
    }
    default:
      return undefined;
  }
}

/** A threshold rule's clear side: the explicit clear condition, or the negation of `when` (with its hysteresis). */
export function interpretClear(
  rule: Pick<ThresholdRule, 'when' | 'clear'>,
  metrics: Metrics,
): boolean | undefined {
  if (rule.clear !== undefined && 'when' in rule.clear) return interpretCondition(rule.clear.when, metrics);
  const shift = rule.clear === undefined ? 0 : rule.clear.hysteresis;
  const held = interpretCondition(rule.when, metrics, shift);
  return held === undefined ? undefined : !held;
}
