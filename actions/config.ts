/**
 * The worker's `actions:` section: whether alarm events plan outbox rows, whether this worker
 * delivers them, and the channels it delivers on. A channel left out is not delivered by this
 * worker: its rows wait, pending, for a worker that has it. Secrets (the SMTP password, the webhook
 * signing key) come only from the environment, named here.
 */
import { z } from 'zod';

const endpoint = z
  .string()
  .url()
  .optional()
  .describe("the service's endpoint URL; the AWS default for the region when absent");

/** Configuration of actions. */
export const actionsConfigSchema = z
  .object({
    policiesDir: z
      .string()
      .min(1)
      .optional()
      .describe(
        'response policy files (YAML) loaded at start, each product its highest version; the policies in the Warm store (`shardflow responses import`), followed as they change, when absent',
      ),
    deliver: z.boolean().default(true).describe('run an outbox deliverer on this worker'),
    region: z.string().min(1).default('eu-west-1').describe('AWS region of SNS, IoT and Step Functions'),
    maxEventAgeMs: z
      .number()
      .int()
      .min(0)
      .default(6 * 3_600_000)
      .describe(
        'an alarm event older than this when first written (a replay, a long backlog) acts on nothing',
      ),
    pollMs: z
      .number()
      .int()
      .min(10)
      .default(250)
      .describe('how often a deliverer looks for due rows when idle'),
    batchSize: z
      .number()
      .int()
      .min(1)
      .max(5000)
      .default(500)
      .describe('rows claimed per delivery transaction'),
    maxAttempts: z
      .number()
      .int()
      .min(1)
      .default(20)
      .describe('attempts before a row that keeps failing is given up'),
    flood: z
      .object({
        max: z.number().int().min(1).default(10).describe('notifications per customer per window'),
        windowMs: z.number().int().min(1000).default(600_000).describe('the window; past max, one digest'),
      })
      .strict()
      .default({ max: 10, windowMs: 600_000 }),
    sns: z.object({ endpoint }).strict().optional().describe('deliver SNS notifications (PublishBatch)'),
    email: z
      .object({
        host: z.string().min(1),
        port: z.number().int().min(1).max(65535).default(587),
        secure: z
          .boolean()
          .default(false)
          .describe('TLS from the start (465); STARTTLS otherwise when offered'),
        from: z.string().min(3).describe('the sender address'),
        usernameEnv: z.string().optional().describe('environment variable holding the SMTP user name'),
        passwordEnv: z.string().optional().describe('environment variable holding the SMTP password'),
      })
      .strict()
      .optional()
      .describe('deliver e-mail over SMTP'),
    webhook: z
      .object({
        secretEnv: z
          .string()
          .optional()
          .describe('environment variable holding the key that signs each body (X-Shardflow-Signature)'),
        timeoutMs: z.number().int().min(100).default(10_000),
      })
      .strict()
      .optional()
      .describe('deliver webhooks'),
    iot: z
      .object({
        dataEndpoint: z
          .string()
          .url()
          .describe(
            "the account's IoT data endpoint (https://…-ats.iot.REGION.amazonaws.com): Device Shadow",
          ),
        endpoint,
        accountId: z
          .string()
          .regex(/^\d{12}$/, 'a 12-digit AWS account id')
          .describe('for thing ARNs of IoT jobs'),
      })
      .strict()
      .optional()
      .describe('Device Shadow commands, the checks that they worked, and firmware jobs (IoT Jobs)'),
    workflow: z
      .object({
        stateMachineArn: z.string().regex(/^arn:aws[a-z-]*:states:/, 'a Step Functions state machine ARN'),
        endpoint,
      })
      .strict()
      .optional()
      .describe('start the dispatch workflow (Step Functions) for each dispatch'),
  })
  .strict();

/** The validated `actions:` section. */
export type ActionsConfig = z.output<typeof actionsConfigSchema>;
