/**
 * The response-policy language: one YAML file per product and version says what happens when the
 * product's alarms are raised: who is told on which channel, who is told next while nobody has
 * acknowledged (the escalation chain), how often they are reminded, which remote fix is tried first
 * (a Device Shadow `desired` change or a firmware job) and whether a technician is dispatched when it
 * does not work. This zod schema is the single source for the shape of a file; `validate.ts` checks
 * what a shape cannot say (the shadow keys against the product's allowlist, templates' placeholders,
 * steps in order, policies that can never match), and which policy applies to an alarm
 * (`matchPolicy`); `template.ts` renders the messages.
 */
import { z } from 'zod';
import { SEVERITIES } from '../../topology/index.ts';
import { durationSchema, parseDuration } from '../rules/duration.ts';

/** An id as the other languages take them: letters, digits, `_ . -`, a letter or `_` first. */
const idSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'an id: letters, digits, _ . and -, starting with a letter or _')
  .max(100);

/**
 * The severities an alarm event carries (`topology/alarms.ts`): the platform's five, lowest first. A
 * product's own five severity names map to these by rank (`operators/rules/alarmRule.ts`), and a
 * policy speaks these, as the alarm events, the stores and `shardflow alarms` do.
 */
export const POLICY_SEVERITIES = SEVERITIES;

/** Where a notification goes: exactly one of the keys. */
export const recipientSchema = z.union([
  z.object({ sns: z.string().regex(/^arn:aws[a-z-]*:sns:/, 'an SNS topic ARN') }).strict(),
  z.object({ email: z.string().regex(/^[^\s@<>]+@[^\s@<>]+$/, 'an e-mail address') }).strict(),
  z.object({ webhook: z.string().url('an http(s) URL') }).strict(),
]);
export type Recipient = z.infer<typeof recipientSchema>;

/** The notification channels, in the order of {@link recipientSchema}. */
export const NOTIFY_CHANNELS = ['sns', 'email', 'webhook'] as const;
export type NotifyChannel = (typeof NOTIFY_CHANNELS)[number];

/** One step of an escalation chain: after this long unacknowledged (0s for the first), tell these. */
const stepSchema = z
  .object({
    after: z
      .string()
      .transform((text, ctx) => {
        const ms = parseDuration(text);
        if (ms === undefined)
          ctx.addIssue({
            code: 'custom',
            message: `"${text}" is not a duration: a whole number and a unit, ms, s, m, h or d (0s for the first step)`,
          });
        return ms ?? z.NEVER;
      })
      .describe('unacknowledged this long (0s for the first step): 0s, 90s, 15m, 2h'),
    to: z.array(recipientSchema).min(1),
  })
  .strict();

/** A message per channel: `{{name}}` placeholders (`template.ts` lists the names, `TEMPLATE_FIELDS`). */
const templateSchema = z
  .object({ subject: z.string().max(200).default('{{severity}}: {{message}}'), body: z.string() })
  .strict();
/** Templates of one channel: `default`, and optionally one per severity (`validate.ts` checks the keys). */
const channelTemplatesSchema = z.record(z.string(), templateSchema);

const shadowFixSchema = z
  .object({
    desired: z.record(z.string(), z.unknown()).describe('the desired state to set (allowlisted keys only)'),
    expect: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('the reported state that means fixed; the desired state when absent'),
    within: durationSchema.describe('how long the device has to report it before a dispatch starts'),
    shadowName: z.string().optional().describe('a named shadow; the classic shadow when absent'),
  })
  .strict();

const firmwareFixSchema = z
  .object({
    version: z.string().min(1),
    document: z.record(z.string(), z.unknown()).describe('the job document'),
    expect: z
      .record(z.string(), z.unknown())
      .describe("the reported state that means updated (e.g. { firmware: '2.4.1' })"),
    within: durationSchema,
    rollout: z
      .object({ maximumPerMinute: z.number().int().min(1).max(1000).default(10) })
      .strict()
      .default({ maximumPerMinute: 10 }),
    abort: z
      .object({
        failurePercent: z.number().min(0).max(100).default(10),
        minExecutions: z.number().int().min(1).default(1),
      })
      .strict()
      .default({ failurePercent: 10, minExecutions: 1 }),
    timeout: durationSchema.default(3_600_000).describe('in-progress timeout of each job execution'),
  })
  .strict();

/** What happens for the alarms of one rule (or of every rule, `alarm: "*"`). */
export const policySchema = z
  .object({
    alarm: z.union([idSchema, z.literal('*')]).describe('a rule id of the product’s ruleset, or * for any'),
    severities: z
      .array(
        z.enum(POLICY_SEVERITIES, {
          error: `one of the platform's severities, ${POLICY_SEVERITIES.join(', ')} (a product's own severity names map to these by rank)`,
        }),
      )
      .optional()
      .describe('only alarms of these severities (the platform’s names); all when absent'),
    notify: z.array(stepSchema).default([]).describe('the escalation chain, first step first'),
    remind: z
      .object({
        every: durationSchema,
        max: z.number().int().min(1).max(100).default(10),
        to: z.array(recipientSchema).min(1),
      })
      .strict()
      .optional()
      .describe('reminders while unacknowledged'),
    onClear: z.array(recipientSchema).default([]).describe('told when the alarm clears'),
    remoteFix: z
      .union([
        z.object({ shadow: shadowFixSchema }).strict(),
        z.object({ firmware: firmwareFixSchema }).strict(),
      ])
      .optional(),
    dispatch: z
      .object({
        skills: z.array(z.string().min(1)).default([]),
        priority: z.enum(['low', 'normal', 'high']).default('normal'),
      })
      .strict()
      .optional()
      .describe('a technician when there is no remote fix or it did not work'),
  })
  .strict();
export type ResponsePolicy = z.infer<typeof policySchema>;

export const responsePolicySetSchema = z
  .object({
    id: idSchema,
    productId: z.string().min(1),
    version: z.number().int().min(1),
    description: z.string().optional(),
    shadow: z
      .object({
        settableKeys: z.array(z.string().min(1)).default([]).describe('the only desired keys a fix may set'),
        commandInterval: durationSchema
          .default(600_000)
          .describe('at most one command per device this often'),
      })
      .strict()
      .default({ settableKeys: [], commandInterval: 600_000 }),
    templates: z
      .object({
        sns: channelTemplatesSchema.optional(),
        email: channelTemplatesSchema.optional(),
        webhook: channelTemplatesSchema.optional(),
      })
      .strict()
      .default({}),
    policies: z.array(policySchema).min(1),
  })
  .strict();
export type ResponsePolicySet = z.infer<typeof responsePolicySetSchema>;
/** A notification template as validated (the subject's default filled in). */
export type ChannelTemplate = z.infer<typeof templateSchema>;

/** The JSON Schema of a response-policy file, for editors (`shardflow responses schema`). */
export function responsePolicySetJsonSchema(): object {
  return z.toJSONSchema(responsePolicySetSchema, { io: 'input', unrepresentable: 'any' });
}
