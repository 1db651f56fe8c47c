/**
 * Generates the JavaScript of a condition tree: one straight-line function per tree, each metric
 * read once by a named property load, each comparison one typed test, `all` / `any` / `not` as
 * three-valued logic (true, false, undefined when a metric a comparison needs is absent). The text
 * holds metric names that passed the ruleset's name pattern (emitted through `JSON.stringify`),
 * finite numbers and strings from the ruleset (the same), and generated variable names; never
 * reading data.
 *
 * What a comparison means, here and in the interpretive evaluator the tests check this against:
 * - a metric that is absent or null, or not of the compared value's type, makes it undefined;
 * - an expression is undefined when a metric it reads is not a number, or its result is not finite;
 * - `all` is false if any part is false, else undefined if any is; `any` the mirror; `not` keeps
 *   undefined.
 */
import type { Comparison, Condition } from '../../../specs/rules/condition.ts';
import { type Expr, metricsOf } from '../../../specs/rules/expression.ts';
import type { RuleStateCondition } from '../../../specs/rules/schema.ts';

/** A generated function's parts: its declarations of metric reads and its body. */
interface Emitter {
  readonly metricVars: Map<string, string>;
  readonly lines: string[];
  next: number;
}

/** A finite number as a JavaScript literal. */
export function numberLiteral(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`rules: not a finite number: ${n}`);
  return Object.is(n, -0) ? '(-0)' : `(${String(n)})`;
}

function metricVar(e: Emitter, name: string): string {
  let v = e.metricVars.get(name);
  if (v === undefined) {
    v = `v${e.metricVars.size}`;
    e.metricVars.set(name, v);
  }
  return v;
}

function exprCode(e: Emitter, expr: Expr): string {
  switch (expr.type) {
    case 'number':
      return numberLiteral(expr.value);
    case 'metric':
      return metricVar(e, expr.name);
    case 'negate':
      return `(-${exprCode(e, expr.arg)})`;
    case 'binary':
      return `(${exprCode(e, expr.left)} ${expr.op} ${exprCode(e, expr.right)})`;
    case 'call':
      return `Math.${expr.fn}(${expr.args.map((a) => exprCode(e, a)).join(', ')})`;
    default:
      throw new Error('rules: unknown expression node');
  }
}

function valueLiteral(value: number | string | boolean): string {
  return typeof value === 'number' ? numberLiteral(value) : JSON.stringify(value);
}

function comparisonCode(e: Emitter, c: Comparison): string {
  const op = c.op === '==' ? '===' : c.op === '!=' ? '!==' : c.op;
  if (c.left.type === 'metric') {
    const v = metricVar(e, c.left.name);
    return `typeof ${v} === '${typeof c.value}' ? ${v} ${op} ${valueLiteral(c.value)} : undefined`;
  }
  const guards = [...metricsOf(c.left)].map((name) => `typeof ${metricVar(e, name)} === 'number'`);
  const finite = `Number.isFinite(x = ${exprCode(e, c.left)}) ? x ${op} ${valueLiteral(c.value)} : undefined`;
  return guards.length === 0 ? finite : `${guards.join(' && ')} ? (${finite}) : undefined`;
}

/** Emits the statements of a node; returns the variable holding its value. */
function nodeCode(e: Emitter, node: Condition): string {
  const parts: string[] = [];
  let code: string;
  switch (node.type) {
    case 'compare':
      code = comparisonCode(e, node);
      break;
    case 'all':
    case 'any': {
      for (const child of node.type === 'all' ? node.all : node.any) parts.push(nodeCode(e, child));
      const [decisive, otherwise] = node.type === 'all' ? ['false', 'true'] : ['true', 'false'];
      code =
        `${parts.map((p) => `${p} === ${decisive}`).join(' || ')} ? ${decisive} : ` +
        `${parts.map((p) => `${p} === undefined`).join(' || ')} ? undefined : ${otherwise}`;
      break;
    }
    case 'not': {
      const inner = nodeCode(e, node.not);
      code = `${inner} === undefined ? undefined : !${inner}`;
      break;
    }
    default:
      throw new Error('rules: unknown condition node');
  }
  const v = `c${e.next++}`;
  e.lines.push(`const ${v} = ${code};`);
  return v;
}

/**
 * The source of `function name(r)` evaluating `condition` on `r.metrics`; with `negate`, the
 * function returns the tree's negation (the clear side of a hysteresis).
 */
export function conditionSource(name: string, condition: Condition, negate = false): string {
  const e: Emitter = { metricVars: new Map(), lines: [], next: 0 };
  const result = nodeCode(e, condition);
  const reads = [...e.metricVars].map(([metric, v]) => `const ${v} = m[${JSON.stringify(metric)}];`);
  const out = negate ? `${result} === undefined ? undefined : !${result}` : result;
  return [
    `function ${name}(r) {`,
    'const m = r.metrics;',
    // the temporary an expression's result is held in while it is checked and compared
    ...(e.lines.some((l) => l.includes('(x = ')) ? ['let x;'] : []),
    ...reads,
    ...e.lines,
    `return ${out};`,
    '}',
  ].join('\n');
}

/**
 * The tree whose negation is the clear side of a hysteresis `h`: each ordering comparison moved by
 * `h` so that it holds longer (`>` and `>=` down, `<` and `<=` up; the other way under a `not`).
 */
export function relaxed(condition: Condition, h: number, sign = 1): Condition {
  switch (condition.type) {
    case 'compare': {
      if (typeof condition.value !== 'number' || condition.op === '==' || condition.op === '!=')
        return condition;
      const towards = condition.op === '>' || condition.op === '>=' ? -1 : 1;
      return { ...condition, value: condition.value + towards * sign * h };
    }
    case 'all':
      return { type: 'all', all: condition.all.map((c) => relaxed(c, h, sign)) };
    case 'any':
      return { type: 'any', any: condition.any.map((c) => relaxed(c, h, sign)) };
    case 'not':
      // under a `not`, the inner tree must hold *shorter* for the whole to hold longer
      return { type: 'not', not: relaxed(condition.not, h, -sign) };
    default:
      throw new Error('rules: unknown condition node');
  }
}

/**
 * The source of `function name(s)` evaluating a correlation's condition over other rules' states
 * (`s[ruleId]`: true active, false clear, anything else unknown), in the same three-valued logic.
 */
export function ruleStateSource(name: string, condition: RuleStateCondition): string {
  const lines: string[] = [];
  let next = 0;
  const emit = (code: string): string => {
    const v = `c${next++}`;
    lines.push(`const ${v} = ${code};`);
    return v;
  };
  const node = (c: RuleStateCondition): string => {
    if (typeof c === 'string') {
      const read = emit(`s[${JSON.stringify(c)}]`);
      return emit(`${read} === true ? true : ${read} === false ? false : undefined`);
    }
    if ('not' in c) {
      const inner = node(c.not);
      return emit(`${inner} === undefined ? undefined : !${inner}`);
    }
    const isAll = 'all' in c;
    const parts = (isAll ? c.all : c.any).map(node);
    const [decisive, otherwise] = isAll ? ['false', 'true'] : ['true', 'false'];
    return emit(
      `${parts.map((p) => `${p} === ${decisive}`).join(' || ')} ? ${decisive} : ` +
        `${parts.map((p) => `${p} === undefined`).join(' || ')} ? undefined : ${otherwise}`,
    );
  };
  const result = node(condition);
  return [`function ${name}(s) {`, ...lines, `return ${result};`, '}'].join('\n');
}
