/**
 * The window operator's configuration (`windows:` in the worker's configuration): the schema is the one
 * source of its validation, defaults, `--help` text and docs. Also what the operator derives from it
 * once: the slices (scope × size) every record's windows are cut into.
 */
import { z } from 'zod';
import type { AggregateScope, WindowSize } from '../../topology/index.ts';
import { isKnownZone } from '../../topology/index.ts';

const sizes = z.enum(['1h', '6h', '1d']);

/** Configuration of the window operator (`windows:` in the worker's configuration). */
export const windowAggregateConfigSchema = z
  .object({
    windows: z
      .array(sizes)
      .min(1)
      .default(['1h', '6h', '1d'])
      .describe('window sizes of the product and device aggregates'),
    scopes: z
      .array(z.enum(['product', 'device', 'customer-product']))
      .min(1)
      .default(['product', 'device', 'customer-product'])
      .describe('what aggregates are keyed by; customer-product windows are always daily'),
    zone: z
      .string()
      .default('UTC')
      .refine(isKnownZone, { message: 'not an IANA time zone' })
      .describe('time zone of window boundaries (IANA name, e.g. Europe/Berlin)'),
    allowedOutOfOrdernessMs: z
      .number()
      .int()
      .min(0)
      .default(300_000)
      .describe('a shard watermark trails its maximum event time by this much'),
    allowedLatenessMs: z
      .number()
      .int()
      .min(0)
      .default(600_000)
      .describe('a window is final once the global watermark passes its end plus this'),
    retentionMs: z
      .number()
      .int()
      .min(0)
      .default(2 * 86_400_000)
      .describe('window state is kept this long past its end; later records go to the late output'),
    idleTimeoutMs: z
      .number()
      .int()
      .min(1)
      .default(60_000)
      .describe('a shard without batches for this long (processing time) stops holding back the watermark'),
    flushIntervalMs: z
      .number()
      .int()
      .min(0)
      .default(10_000)
      .describe('how often open product windows are emitted with their running values'),
    customerFlushIntervalMs: z
      .number()
      .int()
      .min(0)
      .default(60_000)
      .describe(
        'how often open customer × product windows (the Warm store’s daily aggregates) are emitted with their running values (customers × products × metrics rows: a longer interval than flushIntervalMs keeps the Warm store’s writes in proportion)',
      ),
    deviceFlushIntervalMs: z
      .number()
      .int()
      .min(0)
      .default(60_000)
      .describe(
        'how often open device windows are emitted with their running values (one window per device and size: a longer interval than flushIntervalMs keeps the Hot store’s writes in proportion to the fleet)',
      ),
    maxShardDriftMs: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe(
        'watermark alignment: a shard whose watermark runs this far ahead of the global one (event time) waits, after its batch, for the other shards to catch up; bounds the open state and keeps late classification independent of how fast each shard is read (a backlog, a replay). Unset: shards run freely',
      ),
    flushMaxKeys: z
      .number()
      .int()
      .min(1)
      .default(5_000)
      .describe(
        'the most keys whose changed open windows one batch or tick emits with running values; the rest follow with the next ones (bounds one emission and one Redis script run)',
      ),
    flushKeysPerSecond: z
      .number()
      .min(0)
      .default(500)
      .describe(
        'the most keys per second whose running values this worker emits, over all scopes (0: no limit but flushMaxKeys per call): a flush goes out as a steady trickle instead of a burst, and bounds the Hot store’s aggregate writes; when the windows change faster, each key is refreshed less often than its flush interval',
      ),
  })
  .strict()
  .refine((c) => c.retentionMs >= c.allowedLatenessMs, {
    path: ['retentionMs'],
    message: 'must be at least allowedLatenessMs',
  });
/** See {@link windowAggregateConfigSchema}. */
export type WindowAggregateConfig = z.output<typeof windowAggregateConfigSchema>;

/** One slice of a record's windows: a scope and a window size. */
export interface WindowSlice {
  readonly scope: AggregateScope;
  readonly size: WindowSize;
}

/** The slices of a record's windows; customer × product windows are always daily. */
export function windowSlices(config: WindowAggregateConfig): WindowSlice[] {
  const slices: WindowSlice[] = [];
  for (const scope of config.scopes) {
    if (scope === 'customer-product') slices.push({ scope, size: '1d' });
    else for (const size of config.windows) slices.push({ scope, size });
  }
  return slices;
}
