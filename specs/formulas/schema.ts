/**
 * The formula language: a YAML file lists formulas (`formulas:`), each entry one version of one
 * formula: a figure computed from a day's aggregates of a product's metrics. This zod schema is the
 * single source for the shape of a file; `validate.ts` checks the expression, the variables and the
 * references between formulas.
 */
import { z } from 'zod';

/** The statistics of a day's aggregate a variable may read (`variance` is m2 / count, the population's). */
export const STATISTICS = ['count', 'sum', 'min', 'max', 'mean', 'variance', 'first', 'last'] as const;
export type Statistic = (typeof STATISTICS)[number];

/** Where a formula applies, most specific first: device > customer > product. */
export const SCOPES = ['device', 'customer', 'product'] as const;
export type FormulaScope = (typeof SCOPES)[number];

export const STATUSES = ['draft', 'active', 'retired'] as const;
export type FormulaStatus = (typeof STATUSES)[number];

export const formulaIdSchema = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_.-]*$/,
    'a formula id: letters, digits, _ . and -, starting with a letter or _',
  )
  .max(100);

const metricVariable = z
  .object({
    metric: z.string().min(1).describe("a metric of the formula's product"),
    stat: z.enum(STATISTICS).describe("which statistic of the metric's day"),
  })
  .strict();
const formulaVariable = z
  .object({
    formula: formulaIdSchema.describe("another formula's result for the same product, customer and day"),
  })
  .strict();
export const variableSchema = z.union([metricVariable, formulaVariable]);
export type FormulaVariable = z.infer<typeof variableSchema>;

/** `YYYY-MM-DD` (a UTC day) or an ISO 8601 time, as epoch ms. */
const dateSchema = z.union([z.string(), z.date()]).transform((value, ctx) => {
  const text = value instanceof Date ? value.toISOString() : value;
  const ms = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text);
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: 'custom', message: `not a date: "${text}" (YYYY-MM-DD or ISO 8601)` });
    return z.NEVER;
  }
  return ms;
});

const exampleSchema = z
  .object({
    inputs: z.record(z.string(), z.number()).describe('a value for each variable'),
    expect: z.union([z.number(), z.null()]).describe('the result, or null for none (division by zero…)'),
  })
  .strict();

export const formulaSchema = z
  .object({
    id: formulaIdSchema,
    version: z.number().int().min(1),
    productId: z.string().min(1),
    scope: z.enum(SCOPES).default('product'),
    targets: z
      .array(z.string().min(1))
      .default([])
      .describe('customer ids (scope customer) or device ids (scope device); none for scope product'),
    expression: z.string().min(1),
    variables: z.record(z.string(), variableSchema).default({}),
    unit: z.string().optional(),
    decimals: z
      .number()
      .int()
      .min(0)
      .max(12)
      .optional()
      .describe('the result is rounded to this many decimals'),
    effectiveFrom: dateSchema
      .default(0)
      .describe('the first day the version is in force (a UTC day or a time)'),
    status: z.enum(STATUSES).default('active'),
    description: z.string().optional(),
    examples: z.array(exampleSchema).optional(),
  })
  .strict();

/** One version of one formula, as validated. */
export type Formula = z.infer<typeof formulaSchema>;

/** A formula file. */
export const formulaFileSchema = z.object({ formulas: z.array(formulaSchema).min(1) }).strict();

/** The fields a version is identified by; the rest of a stored version never changes but `status`. */
export function formulaKey(f: Pick<Formula, 'id' | 'version'>): string {
  return `${f.id}@${f.version}`;
}
