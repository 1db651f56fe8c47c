/** The `stream:` and `producer:` sections of a gateway's configuration: where records go and how. */
import { z } from 'zod';
import { DEFAULT_INGEST_LIMITS, type IngestLimits } from './durableIngest.ts';

/** The stream the gateways write. */
export const streamTargetSchema = z
  .object({
    streamName: z.string().min(1).max(128).describe('the telemetry stream the workers read'),
    region: z.string().min(1).default('us-east-1').describe('AWS region of the stream'),
    endpoint: z.url().optional().describe('Kinesis-compatible endpoint (e.g. kinesalite); AWS when absent'),
  })
  .strict();
export type StreamTarget = z.output<typeof streamTargetSchema>;

const d = DEFAULT_INGEST_LIMITS;
const MIB = 1024 * 1024;

/** How a gateway buffers and puts records (`DurableIngest`). */
export const producerConfigSchema = z
  .object({
    lingerMs: z
      .number()
      .int()
      .min(0)
      .max(5_000)
      .default(d.lingerMs)
      .describe(
        'longest wait (ms) of a record for others to share its PutRecords request (the KPL buffers 100 ms)',
      ),
    maxInFlightRequests: z
      .number()
      .int()
      .min(1)
      .max(64)
      .default(d.maxInFlightRequests)
      .describe('PutRecords requests in flight at once'),
    maxBufferedMiB: z
      .number()
      .min(1)
      .max(4096)
      .default(d.maxBufferedBytes / MIB)
      .describe('MiB of records not yet in the stream past which the gateway pushes back on devices'),
    maxBufferedRecords: z
      .number()
      .int()
      .min(1)
      .default(d.maxBufferedRecords)
      .describe('records not yet in the stream past which the gateway pushes back on devices'),
    initialRetryDelayMs: z.number().int().min(1).default(d.initialRetryDelayMs).describe('first retry delay'),
    maxRetryDelayMs: z
      .number()
      .int()
      .min(1)
      .default(d.maxRetryDelayMs)
      .describe('cap of the doubling retry delay; records are retried for as long as the gateway runs'),
    requestTimeoutMs: z
      .number()
      .int()
      .min(100)
      .default(5_000)
      .describe('a PutRecords request unanswered this long is retried (a stalled stream)'),
  })
  .strict()
  .default({
    lingerMs: d.lingerMs,
    maxInFlightRequests: d.maxInFlightRequests,
    maxBufferedMiB: d.maxBufferedBytes / MIB,
    maxBufferedRecords: d.maxBufferedRecords,
    initialRetryDelayMs: d.initialRetryDelayMs,
    maxRetryDelayMs: d.maxRetryDelayMs,
    requestTimeoutMs: 5_000,
  });
export type ProducerConfig = z.output<typeof producerConfigSchema>;

/** The ingest limits of a producer section. */
export function ingestLimitsOf(config: ProducerConfig): Partial<IngestLimits> {
  return {
    lingerMs: config.lingerMs,
    maxInFlightRequests: config.maxInFlightRequests,
    maxBufferedBytes: Math.round(config.maxBufferedMiB * MIB),
    maxBufferedRecords: config.maxBufferedRecords,
    initialRetryDelayMs: config.initialRetryDelayMs,
    maxRetryDelayMs: config.maxRetryDelayMs,
  };
}
