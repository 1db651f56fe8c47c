/**
 * Condition trees of threshold rules: comparisons on a metric or on an expression over a reading's
 * metrics, combined with `all:`, `any:` and `not:`. The schema turns the YAML form into the tree the
 * compiler and the checks read (expressions parsed, comparisons in one shape).
 *
 *   when:
 *     all:
 *       - { metric: temperature, op: ">", value: 30, param: high }
 *       - { expr: "abs(supply - return)", op: "<", value: 2 }
 *       - not: { metric: door, op: "==", value: "open" }
 */
import { z } from 'zod';
import { type Expr, ExpressionError, parseExpression } from './expression.ts';

/** Comparison operators; the ordering ones apply to numbers only. */
export const COMPARISON_OPS = ['>', '>=', '<', '<=', '==', '!='] as const;
export type ComparisonOp = (typeof COMPARISON_OPS)[number];

/** One comparison: `left op value`. `left` is a metric or an expression tree. */
export interface Comparison {
  readonly type: 'compare';
  readonly left: Expr;
  /** The text the author wrote for the left side (the metric name or the expression). */
  readonly source: string;
  readonly op: ComparisonOp;
  readonly value: number | string | boolean;
  /** A name overrides may set the value by. */
  readonly param?: string;
}

/** A condition tree. */
export type Condition =
  | Comparison
  | { readonly type: 'all'; readonly all: readonly Condition[] }
  | { readonly type: 'any'; readonly any: readonly Condition[] }
  | { readonly type: 'not'; readonly not: Condition };

const paramName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a parameter name: letters, digits and _');
const metricName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a metric name: letters, digits and _, not starting with a digit');
const comparisonValue = z.union([z.number(), z.string(), z.boolean()]);
const op = z.enum(COMPARISON_OPS);

const metricComparison = z
  .object({ metric: metricName, op, value: comparisonValue, param: paramName.optional() })
  .strict()
  .refine((c) => c.op === '==' || c.op === '!=' || typeof c.value === 'number', {
    message:
      'wrong type: ">", ">=", "<" and "<=" compare with a number; use "==" or "!=" for text and true/false',
    path: ['value'],
  })
  .transform(
    (c): Comparison => ({
      type: 'compare',
      left: { type: 'metric', name: c.metric },
      source: c.metric,
      op: c.op,
      value: c.value,
      ...(c.param === undefined ? {} : { param: c.param }),
    }),
  );

const exprComparison = z
  .object({ expr: z.string(), op, value: z.number(), param: paramName.optional() })
  .strict()
  .transform((c, ctx): Comparison => {
    try {
      return {
        type: 'compare',
        left: parseExpression(c.expr),
        source: c.expr,
        op: c.op,
        value: c.value,
        ...(c.param === undefined ? {} : { param: c.param }),
      };
    } catch (error) {
      if (!(error instanceof ExpressionError)) throw error;
      ctx.addIssue({ code: 'custom', path: ['expr'], message: `not an expression: ${error.message}` });
      return z.NEVER;
    }
  });

const allSchema = z
  .object({ all: z.array(z.lazy(() => conditionSchema)).min(1) })
  .strict()
  .transform((c): Condition => ({ type: 'all', all: c.all }));
const anySchema = z
  .object({ any: z.array(z.lazy(() => conditionSchema)).min(1) })
  .strict()
  .transform((c): Condition => ({ type: 'any', any: c.any }));
const notSchema = z
  .object({ not: z.lazy(() => conditionSchema) })
  .strict()
  .transform((c): Condition => ({ type: 'not', not: c.not }));

/** The branch a node's keys select, so that its problems are that branch's, not "no branch fits". */
function branchOf(node: object): z.ZodType<Condition> | undefined {
  if ('metric' in node) return metricComparison;
  if ('expr' in node) return exprComparison;
  if ('all' in node) return allSchema;
  if ('any' in node) return anySchema;
  if ('not' in node) return notSchema;
  return undefined;
}

/** A condition tree in its YAML form. */
export const conditionSchema: z.ZodType<Condition> = z.unknown().transform((node, ctx): Condition => {
  const branch = typeof node === 'object' && node !== null ? branchOf(node) : undefined;
  if (branch === undefined) {
    ctx.addIssue({
      code: 'custom',
      message:
        'a condition: { metric, op, value }, { expr, op, value }, { all: [...] }, { any: [...] } or { not: ... }',
    });
    return z.NEVER;
  }
  const result = branch.safeParse(node);
  if (result.success) return result.data;
  for (const issue of result.error.issues)
    ctx.addIssue({ code: 'custom', path: issue.path as PropertyKey[], message: describe(issue) });
  return z.NEVER;
});

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  return issue.message;
}

/** Calls `visit` on every comparison of a tree, with its path below the tree's own path. */
export function forEachComparison(
  condition: Condition,
  visit: (comparison: Comparison, path: readonly (string | number)[]) => void,
  path: readonly (string | number)[] = [],
): void {
  switch (condition.type) {
    case 'compare':
      visit(condition, path);
      break;
    case 'all':
      condition.all.forEach((c, i) => {
        forEachComparison(c, visit, [...path, 'all', i]);
      });
      break;
    case 'any':
      condition.any.forEach((c, i) => {
        forEachComparison(c, visit, [...path, 'any', i]);
      });
      break;
    case 'not':
      forEachComparison(condition.not, visit, [...path, 'not']);
      break;
    default:
      break;
  }
}

const ORDERED = ['>', '>=', '<', '<='];
const leafProperties = { op: { enum: [...COMPARISON_OPS] }, param: { type: 'string' } };

/**
 * The JSON Schema of a condition tree, for editors: the zod form reads a node's keys to pick its
 * branch, which JSON Schema cannot derive from it. Nodes refer to `#/$defs/condition`.
 */
export const CONDITION_JSON_SCHEMA = {
  description:
    'a condition: { metric, op, value }, { expr, op, value }, { all: [...] }, { any: [...] }, { not: ... }',
  anyOf: [
    {
      type: 'object',
      properties: {
        metric: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
        ...leafProperties,
        value: { type: ['number', 'string', 'boolean'], description: `a number for ${ORDERED.join(' ')}` },
      },
      required: ['metric', 'op', 'value'],
      additionalProperties: false,
    },
    {
      type: 'object',
      properties: {
        expr: {
          type: 'string',
          description: '+ - * / ( ), abs(x), min(a, b, …), max(a, b, …), numbers, metrics',
        },
        ...leafProperties,
        value: { type: 'number' },
      },
      required: ['expr', 'op', 'value'],
      additionalProperties: false,
    },
    ...(['all', 'any'] as const).map((key) => ({
      type: 'object',
      properties: { [key]: { type: 'array', minItems: 1, items: { $ref: '#/$defs/condition' } } },
      required: [key],
      additionalProperties: false,
    })),
    {
      type: 'object',
      properties: { not: { $ref: '#/$defs/condition' } },
      required: ['not'],
      additionalProperties: false,
    },
  ],
} as const;
