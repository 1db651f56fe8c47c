/** Configuration of the dead-letter store, and its opener. */
import { z } from 'zod';
import type { SqlClient } from '../postgres/sql.ts';
import type { DeadLetterStore } from './deadLetterStore.ts';
import { postgresDeadLetterStore } from './postgresDeadLetterStore.ts';
import { type SqsSender, sqsDeadLetterStore } from './sqsDeadLetterStore.ts';

/** Where dead letters go: the Warm store's table (default) or an SQS queue. */
export const deadLettersConfigSchema = z
  .object({
    kind: z
      .enum(['postgres', 'sqs'])
      .default('postgres')
      .describe('postgres: the Warm store table `shardflow dlq` reads; sqs: an Amazon SQS queue'),
    queueUrl: z
      .string()
      .url()
      .optional()
      .describe('SQS queue URL (kind sqs); a name ending in .fifo gets deduplication by stream position'),
    region: z.string().optional().describe('AWS region of the queue; the SDK default when absent'),
    endpoint: z.string().url().optional().describe('SQS endpoint override (an SQS-compatible server)'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.kind === 'sqs' && c.queueUrl === undefined)
      ctx.addIssue({ code: 'custom', path: ['queueUrl'], message: 'is required for kind sqs' });
  });
/** See {@link deadLettersConfigSchema}. */
export type DeadLettersConfig = z.output<typeof deadLettersConfigSchema>;

/** Opens the configured dead-letter store; `warmWrite` is the Warm store's write endpoint. */
export async function openDeadLetterStore(
  config: DeadLettersConfig,
  warmWrite: SqlClient,
  deps: { readonly sqs?: SqsSender } = {},
): Promise<DeadLetterStore> {
  if (config.kind === 'postgres') return postgresDeadLetterStore(warmWrite);
  let client = deps.sqs;
  if (client === undefined) {
    const { SQSClient } = await import('@aws-sdk/client-sqs');
    client = new SQSClient({
      ...(config.region !== undefined ? { region: config.region } : {}),
      ...(config.endpoint !== undefined ? { endpoint: config.endpoint } : {}),
    });
  }
  return sqsDeadLetterStore({ client, queueUrl: config.queueUrl! });
}
