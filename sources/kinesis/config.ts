/**
 * The configuration of one Kinesis stream, shared by both sources that read it: the all-shards
 * source and the leased (KCL) source, whose lease settings sit beside it in `kclSource.ts`. How the
 * start position becomes a GetShardIterator request is `retrieval/startPosition.ts`.
 */
import { z } from 'zod';

/** Configuration of a Kinesis stream source: the stream, where shards start, how they are polled. */
export const kinesisSourceConfigSchema = z
  .object({
    streamName: z.string().min(1).max(128).describe('the Kinesis stream to read'),
    region: z.string().min(1).default('us-east-1').describe('AWS region of the stream'),
    endpoint: z.url().optional().describe('Kinesis-compatible endpoint (e.g. kinesalite); AWS when absent'),
    startPosition: z
      .enum(['TRIM_HORIZON', 'LATEST', 'AT_TIMESTAMP'])
      .default('TRIM_HORIZON')
      .describe('where a shard with no checkpoint starts (children of a read parent start at its beginning)'),
    startTimestamp: z
      .union([z.number().int().nonnegative(), z.iso.datetime({ offset: true })])
      .transform((t) => (typeof t === 'number' ? t : Date.parse(t)))
      .optional()
      .describe('for AT_TIMESTAMP: epoch ms or an ISO-8601 time'),
    maxRecords: z.number().int().min(1).max(10_000).default(10_000).describe('GetRecords page size'),
    idleTimeBetweenReadsMs: z
      .number()
      .int()
      .min(0)
      .default(200)
      .describe('wait after a page that was not full; doubles per empty page'),
    maxIdleTimeMs: z.number().int().min(0).default(1000).describe('cap on the wait between empty pages'),
  })
  .strict()
  .refine((c) => c.startPosition !== 'AT_TIMESTAMP' || c.startTimestamp !== undefined, {
    message: 'startTimestamp is required when startPosition is AT_TIMESTAMP',
    path: ['startTimestamp'],
  });
/** The source's configuration as written (defaults not yet applied). */
export type KinesisSourceConfigInput = z.input<typeof kinesisSourceConfigSchema>;
/** The source's validated configuration. */
export type KinesisSourceConfig = z.output<typeof kinesisSourceConfigSchema>;
