/**
 * Windowed aggregation: tumbling windows (1 h, 6 h, 1 day) of every numeric metric, keyed by product
 * and by device, and daily by customer × product, in event time. Each batch is pre-aggregated in memory
 * into one partial per window and key, then applied to the state backend in one atomic call that also
 * moves the shard's position (exactly-once under redelivery), publishes the shard's watermark and
 * claims the windows to emit: running values on the flush interval, finals once the global watermark
 * passes end + allowed lateness (later updates within retention re-emit them with the next revision).
 * Records too late for retention leave on `late`.
 *
 * Emission runs inside batches: a worker whose shards all stay idle emits nothing until a batch
 * arrives (other workers' batches still finalise the shared windows).
 */
import { z } from 'zod';
import type { AggregateScope, Enriched, Operator, WindowAggregate, WindowSize } from '../topology/index.ts';
import { isKnownZone, type WindowAssigner, windowAssigner } from './windows/assign.ts';
import type { WindowBackend, WindowBackendPartial, WindowEmission } from './windows/backend.ts';
import { RunningStats } from './windows/stats.ts';

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
      .describe('how often open windows are emitted with their running values'),
  })
  .strict()
  .refine((c) => c.retentionMs >= c.allowedLatenessMs, {
    path: ['retentionMs'],
    message: 'must be at least allowedLatenessMs',
  });
/** See {@link windowAggregateConfigSchema}. */
export type WindowAggregateConfig = z.output<typeof windowAggregateConfigSchema>;

const US = '\x1f';
/** Stands for a customer the master data does not know (`customer_id: null`). */
const NO_CUSTOMER = '\x00';

interface Batch {
  readonly buckets: Map<
    string,
    { readonly end: number; readonly keys: Map<string, Map<string, RunningStats>> }
  >;
  readonly late: Enriched[];
  maxEventTime: number;
}

/** The slices of a record's windows: scope, size and bucket prefix. */
function plan(config: WindowAggregateConfig) {
  const slices: { scope: AggregateScope; size: WindowSize }[] = [];
  for (const scope of config.scopes) {
    if (scope === 'customer-product') slices.push({ scope, size: '1d' });
    else for (const size of config.windows) slices.push({ scope, size });
  }
  return slices;
}

function aggregate(
  batch: readonly Enriched[],
  slices: ReturnType<typeof plan>,
  assign: WindowAssigner,
  retentionMs: number,
  watermark: number,
): Batch {
  const out: Batch = { buckets: new Map(), late: [], maxEventTime: Number.NEGATIVE_INFINITY };
  const ends = new Array<number>(slices.length);
  const ids = new Array<string>(slices.length);
  for (const record of batch) {
    const t = record.device_timestamp;
    if (!Number.isFinite(t)) continue;
    if (t > out.maxEventTime) out.maxEventTime = t;
    let firstEnd = Number.POSITIVE_INFINITY;
    for (let i = 0; i < slices.length; i++) {
      const { start, end } = assign(t, slices[i]!.size);
      ends[i] = end;
      ids[i] = `${slices[i]!.scope}|${slices[i]!.size}|${start}`;
      if (end < firstEnd) firstEnd = end;
    }
    // too late for the first of its windows: too late for all (one rule, so counts stay exact)
    if (firstEnd + retentionMs <= watermark) {
      out.late.push(record);
      continue;
    }
    for (let i = 0; i < slices.length; i++) {
      const scope = slices[i]!.scope;
      const key =
        scope === 'product'
          ? record.productId
          : scope === 'device'
            ? `${record.productId}${US}${record.device_id}`
            : `${record.productId}${US}${record.customer_id ?? NO_CUSTOMER}`;
      let bucket = out.buckets.get(ids[i]!);
      if (bucket === undefined) {
        bucket = { end: ends[i]!, keys: new Map() };
        out.buckets.set(ids[i]!, bucket);
      }
      let metrics = bucket.keys.get(key);
      if (metrics === undefined) {
        metrics = new Map();
        bucket.keys.set(key, metrics);
      }
      for (const metric in record.metrics) {
        const value = record.metrics[metric];
        if (typeof value !== 'number' || !Number.isFinite(value)) continue;
        let stats = metrics.get(metric);
        if (stats === undefined) {
          stats = new RunningStats();
          metrics.set(metric, stats);
        }
        stats.add(value, t);
      }
    }
  }
  return out;
}

function partialsOf(batch: Batch): WindowBackendPartial[] {
  const partials: WindowBackendPartial[] = [];
  for (const [bucket, { end, keys }] of batch.buckets) {
    const fields = new Map<string, RunningStats>();
    for (const [key, metrics] of keys)
      for (const [metric, stats] of metrics) fields.set(`${key}${US}${metric}`, stats);
    if (fields.size > 0) partials.push({ bucket, windowEnd: end, fields });
  }
  return partials;
}

/** Turns a claimed window back into the platform's record. */
export function aggregateOf(e: WindowEmission): WindowAggregate {
  const [scope, window, start] = e.bucket.split('|') as [AggregateScope, WindowSize, string];
  const parts = e.field.split(US);
  const metric = parts[parts.length - 1]!;
  const base = {
    scope,
    window,
    productId: parts[0]!,
    metric,
    windowStart: Number(start),
    windowEnd: e.windowEnd,
    revision: e.revision,
    final: e.final,
    stats: e.stats,
  };
  if (scope === 'device') return { ...base, deviceId: parts[1]! };
  if (scope === 'customer-product')
    return { ...base, customerId: parts[1] === NO_CUSTOMER ? null : parts[1]! };
  return base;
}

/** Tumbling window aggregates of numeric metrics, exactly-once on the given state backend. */
export function windowAggregate(
  config: WindowAggregateConfig,
  backend: WindowBackend,
): Operator<Enriched, WindowAggregate, { late: Enriched }> {
  const slices = plan(config);
  const assign = windowAssigner(config.zone);
  const policy = {
    outOfOrdernessMs: config.allowedOutOfOrdernessMs,
    allowedLatenessMs: config.allowedLatenessMs,
    retentionMs: config.retentionMs,
    idleTimeoutMs: config.idleTimeoutMs,
  };
  let watermark = Number.NEGATIVE_INFINITY;
  let lastFlushAt = Number.NEGATIVE_INFINITY;

  return {
    type: 'window-aggregate',
    sideOutputs: ['late'],
    stores: [{ name: 'state.windows', kind: backend.kind }],
    open: () => backend.open(),
    process: async function aggregateBatch(batch, ctx) {
      const now = ctx.clock.now();
      const flush = now - lastFlushAt >= config.flushIntervalMs;
      for (;;) {
        const classifiedWith = watermark;
        const built = aggregate(batch, slices, assign, config.retentionMs, classifiedWith);
        const result = await backend.apply({
          shardId: ctx.shardId,
          position: ctx.position,
          classifiedWith,
          maxEventTime: built.maxEventTime,
          now,
          policy,
          partials: partialsOf(built),
          flush,
        });
        if (result.globalWatermark > watermark) watermark = result.globalWatermark;
        if (result.status === 'stale-watermark') continue;
        let late = built.late;
        if (result.status === 'duplicate') {
          // the first delivery's classification decides which records were late
          const first = result.classifiedWith ?? result.globalWatermark;
          if (first !== classifiedWith)
            late = aggregate(batch, slices, assign, config.retentionMs, first).late;
        } else if (flush) {
          lastFlushAt = now;
        }
        for (const record of late) ctx.side('late', record);
        return result.emissions.map(aggregateOf);
      }
    },
    close: () => backend.close(),
  };
}
