/**
 * The ruleset language: one YAML file per product and version lists the product's rules, its five
 * severities, and overrides per customer, site and device. This zod schema is the single source for
 * the shape of a file; the checks against the product's spec (metrics, types) and between rules
 * (references, cycles) are in `validate.ts`.
 */
import { z } from 'zod';
import { CONDITION_JSON_SCHEMA, conditionSchema } from './condition.ts';
import { durationSchema } from './duration.ts';
import { maintenanceSchema, scheduleSchema } from './schedule.ts';

const ruleId = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, 'a rule id: letters, digits, _ and -, starting with a letter or _');
const metricName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a metric name: letters, digits and _, not starting with a digit');

/** The five severity names a product uses unless its ruleset names its own, lowest first. */
export const DEFAULT_SEVERITIES = ['info', 'minor', 'major', 'critical', 'fatal'] as const;

/** A reading for a rule's examples: metrics, and optionally when and where it was taken. */
const exampleSchema = z
  .object({
    metrics: z.record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.null()])).default({}),
    at: z.string().optional().describe('event time (ISO 8601); with it, schedule and maintenance apply'),
    zone: z.string().optional().describe("the site's time zone for this reading"),
    expect: z.union([z.boolean(), z.null()]).describe('the condition: true, false, or null (unknown)'),
    clear: z.boolean().optional().describe('whether the clear side holds'),
  })
  .strict();

/** What every rule has. */
const common = {
  id: ruleId,
  severity: z.string().describe('one of the ruleset’s severities'),
  message: z.string().default(''),
  description: z.string().optional(),
  latched: z.boolean().default(false).describe('an alarm stays until acknowledged'),
  enabled: z.boolean().default(true),
  escalate: z
    .array(z.object({ after: durationSchema, to: z.string() }).strict())
    .optional()
    .describe('raise the severity after the alarm has been active this long'),
  deescalateAfter: durationSchema.optional().describe('back one step after the condition is clear this long'),
  schedule: scheduleSchema.optional(),
  maintenance: maintenanceSchema.optional(),
  examples: z.array(exampleSchema).optional(),
};

const thresholdRule = z
  .object({
    ...common,
    kind: z.literal('threshold'),
    when: conditionSchema,
    clear: z
      .union([
        z.object({ hysteresis: z.number().min(0) }).strict(),
        z.object({ when: conditionSchema }).strict(),
      ])
      .optional()
      .describe('a deadband on the clear side, or a condition of its own; default: when no longer holds'),
    onDelay: durationSchema.optional().describe('the condition must hold this long (event time)'),
    offDelay: durationSchema.optional().describe('the clear side must hold this long'),
    repeat: z
      .object({ count: z.number().int().min(2), within: durationSchema })
      .strict()
      .optional()
      .describe('raise only when the condition became true count times within this time'),
  })
  .strict();

const rateOfChangeRule = z
  .object({
    ...common,
    kind: z.literal('rate-of-change'),
    metric: metricName,
    maxChange: z.number().positive().describe('largest change allowed per `per`'),
    per: durationSchema.default(60_000),
    over: durationSchema.describe("the device's recent readings this far back"),
  })
  .strict();

const outOfBandRule = z
  .object({
    ...common,
    kind: z.literal('out-of-band'),
    metric: metricName,
    last: z.number().int().min(2).describe('the band is over this many recent readings'),
    k: z.number().positive().describe('the band is mean ± k·σ'),
  })
  .strict();

const absenceRule = z
  .object({
    ...common,
    kind: z.literal('absence'),
    metric: metricName.optional().describe('without it: the device is silent'),
    after: durationSchema.describe('silent longer than this (processing time)'),
  })
  .strict();

/**
 * An anomaly rule's method. The defaults are the detectors' own (`operators/rules/detectors/`), chosen
 * so that 30 days of gaussian noise raise nothing; lower ones raise false alarms on every device.
 */
const detectorSchema = z.discriminatedUnion('method', [
  z
    .object({
      method: z.literal('robust-z'),
      window: z.number().int().min(5).default(120),
      threshold: z.number().positive().default(6).describe('|z| above which a reading is anomalous'),
    })
    .strict(),
  z
    .object({
      method: z.literal('ewma'),
      alpha: z.number().gt(0).lt(1).default(0.2).describe('weight of the newest reading in the chart'),
      k: z.number().positive().default(5).describe('control limit in the chart’s σ'),
    })
    .strict(),
  z
    .object({
      method: z.literal('cusum'),
      k: z.number().min(0).default(0.5).describe('allowance in σ'),
      h: z.number().positive().default(14).describe('decision limit in σ'),
    })
    .strict(),
]);

const anomalyRule = z
  .object({
    ...common,
    kind: z.literal('anomaly'),
    metric: metricName,
    detector: detectorSchema,
    baseline: z.enum(['none', 'hourOfDay']).default('none'),
  })
  .strict();

const predictiveRule = z
  .object({
    ...common,
    kind: z.literal('predictive'),
    metric: metricName,
    threshold: z.object({ op: z.enum(['>', '>=', '<', '<=']), value: z.number() }).strict(),
    horizon: durationSchema.describe('raise when the crossing is predicted sooner than this'),
    over: durationSchema.default(24 * 3_600_000).describe('trend over the hourly means this far back'),
    minR2: z.number().min(0).max(1).default(0.8),
  })
  .strict();

/** A condition over other rules' states: rule ids combined with all / any / not. */
export type RuleStateCondition =
  | string
  | { readonly all: readonly RuleStateCondition[] }
  | { readonly any: readonly RuleStateCondition[] }
  | { readonly not: RuleStateCondition };
const ruleStateCondition: z.ZodType<RuleStateCondition> = z.lazy(() =>
  z.union([
    ruleId,
    z.object({ all: z.array(ruleStateCondition).min(1) }).strict(),
    z.object({ any: z.array(ruleStateCondition).min(1) }).strict(),
    z.object({ not: ruleStateCondition }).strict(),
  ]),
);

const correlationRule = z
  .object({
    ...common,
    kind: z.literal('correlation'),
    scope: z.enum(['device', 'hub', 'site', 'customer']),
    when: ruleStateCondition,
    within: durationSchema.optional().describe('the rules’ states must have changed within this time'),
  })
  .strict();

const aggregateRule = z
  .object({
    ...common,
    kind: z.literal('aggregate'),
    metric: metricName,
    window: z.enum(['1h', '6h', '1d']),
    statistic: z.enum(['mean', 'min', 'max', 'sum', 'count', 'first', 'last', 'stddev']),
    final: z.boolean().default(true).describe('judge final windows only, or running values too'),
    op: z.enum(['>', '>=', '<', '<=']),
    value: z.number(),
  })
  .strict();

/** One rule. */
export const ruleSchema = z.discriminatedUnion('kind', [
  thresholdRule,
  rateOfChangeRule,
  outOfBandRule,
  absenceRule,
  anomalyRule,
  predictiveRule,
  correlationRule,
  aggregateRule,
]);

/** What an override may change in one rule. */
const ruleOverride = z
  .object({
    enabled: z.boolean().optional(),
    severity: z.string().optional(),
    value: z.number().optional().describe('the value of a rule whose condition is one comparison'),
    params: z.record(z.string(), z.number()).optional().describe('values of named comparisons (param:)'),
  })
  .strict();

/** Overrides for one customer, site or device. */
const overrideSchema = z
  .object({
    customer: z.string().min(1).optional(),
    site: z.string().min(1).optional(),
    device: z.string().min(1).optional(),
    rules: z.record(z.string(), ruleOverride),
  })
  .strict()
  .refine((o) => [o.customer, o.site, o.device].filter((t) => t !== undefined).length === 1, {
    message: 'an override names exactly one of customer, site, device',
  });

/** A product's ruleset, one version. */
export const rulesetSchema = z
  .object({
    id: ruleId,
    productId: z.string().min(1),
    version: z.number().int().min(1),
    description: z.string().optional(),
    severities: z
      .array(z.string().min(1))
      .length(5, 'five severities, lowest first')
      .refine((s) => new Set(s).size === 5, { message: 'severity names must differ' })
      .default([...DEFAULT_SEVERITIES]),
    maintenance: maintenanceSchema.optional().describe('windows in which no rule of the set raises'),
    rules: z.array(ruleSchema).min(1),
    overrides: z.array(overrideSchema).default([]),
  })
  .strict();

/** A validated ruleset. */
export type Ruleset = z.output<typeof rulesetSchema>;
export type Rule = z.output<typeof ruleSchema>;
export type RuleKind = Rule['kind'];
export type ThresholdRule = z.output<typeof thresholdRule>;
export type RuleOverride = z.output<typeof ruleOverride>;
export type Override = z.output<typeof overrideSchema>;
export type RuleExample = z.output<typeof exampleSchema>;

/** The JSON Schema of a ruleset file, for editors. */
export function rulesetJsonSchema(): object {
  const schema = z.toJSONSchema(rulesetSchema, {
    io: 'input',
    unrepresentable: 'any',
    override: (ctx) => {
      if ((ctx.zodSchema as unknown) === conditionSchema) {
        for (const key of Object.keys(ctx.jsonSchema)) delete ctx.jsonSchema[key];
        ctx.jsonSchema.$ref = '#/$defs/condition';
      }
    },
  }) as { $defs?: Record<string, unknown> };
  return { ...schema, $defs: { ...schema.$defs, condition: CONDITION_JSON_SCHEMA } };
}
