/**
 * The serialisable part of the runtime's options, as it appears in a configuration file.
 */
import { z } from 'zod';
import { retryPolicySchema } from './retry.ts';

/** Runtime settings of a worker. */
export const runtimeConfigSchema = z
  .object({
    maxInFlightBatches: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(4)
      .describe('source batches in flight per shard before the source is no longer read'),
    checkpointIntervalMs: z
      .number()
      .int()
      .min(0)
      .default(1000)
      .describe('how often advanced checkpoints are handed to the source; 0 = at once'),
    drainTimeoutMs: z.number().int().min(0).default(30_000).describe('time allowed to drain on shutdown'),
    sinkRetry: retryPolicySchema.optional().describe('retry policy of sinks (default: without limit)'),
    maxRetryAgeMs: z
      .number()
      .int()
      .min(1000)
      .default(60_000)
      .describe(
        'how long one batch may be retried (a store down) before its shard is reported stuck: a log line each minute and the shardflow_shard_stuck gauge; nothing is ever dropped',
      ),
  })
  .strict();
/** See {@link runtimeConfigSchema}. */
export type RuntimeConfig = z.output<typeof runtimeConfigSchema>;
