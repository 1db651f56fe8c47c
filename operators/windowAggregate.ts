/**
 * Windowed aggregation: tumbling windows (1 h, 6 h, 1 day) of every numeric metric, keyed by product
 * and by device, and daily by customer × product, in event time. Each batch is pre-aggregated in memory
 * into one partial per window and key, then applied to the state backend in one atomic call that also
 * moves the shard's position (exactly-once under redelivery), publishes the shard's watermark and
 * claims the windows to emit: running values on the flush interval (device and customer × product
 * windows on intervals of their own, and at most `flushMaxKeys` keys per call, the rest with the next
 * calls), finals once the global watermark passes end + allowed lateness (later updates within
 * retention re-emit them with the next revision). Records too late for retention leave on `late`.
 *
 * A batch is one round trip. When records carry their Kinesis positions (`positionsFromRecords`, the
 * worker's sources), the call also names the batch's first position, and a batch that straddles the
 * shard's applied position (redelivered after a failover in pages cut differently, or a stolen
 * lease's last batch) comes back as an `overlap`: its records up to the applied position are
 * duplicates (their first delivery's late records and claims are repeated), the rest is applied as a
 * batch of its own.
 *
 * With `maxShardDriftMs` set, a shard whose watermark ran that far ahead of the global one holds its
 * batch (and so its source) after applying it, polling the global watermark every `ALIGN_POLL_MS`,
 * until the other shards caught up, an idle one dropped out of the global watermark, or the runtime
 * stops: without it, the shards of a backlog are read at different speeds (the reference workload
 * measured 21 h of event time between the fastest and the slowest of 4 shards after 20 s), the global
 * watermark follows the slowest, and open state and the late decision depend on that skew.
 *
 * Between batches a processing-time tick per shard (every flush interval, at least `MIN_TICK_MS`)
 * asks the backend for running values and for finals the global watermark passed meanwhile, so an
 * idle shard still emits; a tick right after a batch is skipped (the batch claimed what was due).
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import {
  type AggregateScope,
  type BucketPartial,
  type Classification,
  type Clock,
  comparePositions,
  type Emission,
  type Enriched,
  type FlushSelection,
  type Operator,
  type Position,
  type WindowAggregate,
  type WindowBackend,
  type WindowSize,
} from '../topology/index.ts';
import { isKnownZone, type WindowAssigner, windowAssigner } from './windows/assign.ts';
import { ColumnLists, WindowRows } from './windows/rows.ts';

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

const US = '\x1f';
/** Metrics per record assumed when sizing a batch's window rows (they grow past it when needed). */
const METRICS_HINT = 12;
/**
 * Rows a device or customer bucket is first sized for. Sizing every bucket for the whole batch
 * zero-filled a slab per late record's window (a batch's late records fall in many windows, each
 * holding a row or two): megabytes a batch of memory that was never used. The slab doubles as rows
 * come, so the batch's main windows pay at most one more copy of what they hold.
 */
const FIRST_KEY_ROWS = 64;
/** Stands for a customer the master data does not know (`customer_id: null`). */
const NO_CUSTOMER = '\x00';

interface Batch {
  /** Bucket id → window end and its statistics by key (row) and metric (column). */
  readonly buckets: Map<string, { readonly end: number; readonly rows: WindowRows }>;
  readonly late: Enriched[];
  maxEventTime: number;
}

type Accumulator = Batch['buckets'] extends Map<string, infer A> ? A : never;

/** The slices of a record's windows: scope and size. */
function plan(config: WindowAggregateConfig) {
  const slices: { scope: AggregateScope; size: WindowSize }[] = [];
  for (const scope of config.scopes) {
    if (scope === 'customer-product') slices.push({ scope, size: '1d' });
    else for (const size of config.windows) slices.push({ scope, size });
  }
  return slices;
}

/**
 * Row names (`key US`) of keys that recur across batches (products), so the hot loop builds no string
 * for them; device and customer keys are too many to keep.
 */
function rowNames() {
  const byKey = new Map<string, string>();
  return (key: string): string => {
    let name = byKey.get(key);
    if (name === undefined) {
      if (byKey.size > 10_000) byKey.clear();
      name = `${key}${US}`;
      byKey.set(key, name);
    }
    return name;
  };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function aggregate(
  batch: readonly Enriched[],
  slices: ReturnType<typeof plan>,
  assign: WindowAssigner,
  retentionMs: number,
  watermark: number,
  productRow: (key: string) => string,
  lists: ColumnLists,
): Batch {
  const out: Batch = { buckets: new Map(), late: [], maxEventTime: Number.NEGATIVE_INFINITY };
  const n = slices.length;
  const accs = new Array<Accumulator>(n);
  // records of a batch mostly share their windows: remember each slice's last window
  const lastStart = new Array<number>(n).fill(Number.NaN);
  const lastAcc = new Array<Accumulator | undefined>(n);
  const names: string[] = [];
  const values: number[] = [];
  let columns: readonly string[] = [];
  for (const record of batch) {
    const t = record.device_timestamp;
    if (!Number.isFinite(t)) continue;
    if (t > out.maxEventTime) out.maxEventTime = t;
    let firstEnd = Number.POSITIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const slice = slices[i]!;
      const { start, end } = assign(t, slice.size);
      if (end < firstEnd) firstEnd = end;
      let acc = lastAcc[i];
      if (start !== lastStart[i] || acc === undefined) {
        const id = `${slice.scope}|${slice.size}|${start}`;
        acc = out.buckets.get(id);
        if (acc === undefined) {
          // product rows are few; device and customer rows up to one per record
          const keys = slice.scope === 'product' ? 4 : Math.min(batch.length, FIRST_KEY_ROWS);
          const hint = keys * METRICS_HINT;
          acc = { end, rows: new WindowRows(lists, hint) };
          out.buckets.set(id, acc);
        }
        lastStart[i] = start;
        lastAcc[i] = acc;
      }
      accs[i] = acc;
    }
    // too late for the first of its windows: too late for all (one rule, so counts stay exact)
    if (firstEnd + retentionMs <= watermark) {
      out.late.push(record);
      continue;
    }
    names.length = 0;
    values.length = 0;
    for (const metric in record.metrics) {
      const value = record.metrics[metric];
      if (typeof value !== 'number' || !Number.isFinite(value)) continue;
      names.push(metric);
      values.push(value);
    }
    if (names.length === 0) continue;
    // records mostly carry the same metrics: intern the list only when it changes
    if (!sameList(columns, names)) columns = lists.of(names);
    let rowOf: AggregateScope | undefined;
    let rowName = '';
    for (let i = 0; i < n; i++) {
      const scope = slices[i]!.scope;
      if (scope !== rowOf) {
        // the sizes of one scope share the record's row name
        rowOf = scope;
        if (scope === 'product') rowName = productRow(record.productId);
        else if (scope === 'device') rowName = `${record.productId}${US}${record.device_id}${US}`;
        else rowName = `${record.productId}${US}${record.customer_id ?? NO_CUSTOMER}${US}`;
      }
      const rows = accs[i]!.rows;
      const row = rows.row(rowName, columns);
      if (row.columns === columns) for (let m = 0; m < names.length; m++) rows.add(row, m, values[m]!, t);
      else
        for (let m = 0; m < names.length; m++) rows.add(row, rows.column(row, names[m]!, m), values[m]!, t);
    }
  }
  return out;
}

function partialsOf(batch: Batch): BucketPartial[] {
  const partials: BucketPartial[] = [];
  for (const [bucket, { end, rows }] of batch.buckets)
    if (rows.size > 0) partials.push({ bucket, windowEnd: end, fields: rows, rows });
  return partials;
}

const parsedBuckets = new Map<string, { scope: AggregateScope; window: WindowSize; start: number }>();

/** A bucket id's scope, size and start, parsed once per bucket rather than once per field. */
function bucketOf(id: string) {
  let parsed = parsedBuckets.get(id);
  if (parsed === undefined) {
    const [scope, window, start] = id.split('|') as [AggregateScope, WindowSize, string];
    if (parsedBuckets.size > 10_000) parsedBuckets.clear();
    parsed = { scope, window, start: Number(start) };
    parsedBuckets.set(id, parsed);
  }
  return parsed;
}

/** Turns a claimed window back into the platform's record. */
export function aggregateOf(e: Emission): WindowAggregate {
  const { scope, window, start } = bucketOf(e.bucket);
  const f = e.field;
  const first = f.indexOf(US);
  const last = f.lastIndexOf(US);
  const productId = f.slice(0, first);
  const metric = f.slice(last + 1);
  // one object literal per shape: spreading a base object per emission doubles the allocations
  if (scope === 'device')
    return {
      scope,
      window,
      productId,
      metric,
      windowStart: start,
      windowEnd: e.windowEnd,
      revision: e.revision,
      final: e.final,
      stats: e.stats,
      deviceId: f.slice(first + 1, last),
    };
  if (scope === 'customer-product') {
    const customer = f.slice(first + 1, last);
    return {
      scope,
      window,
      productId,
      metric,
      windowStart: start,
      windowEnd: e.windowEnd,
      revision: e.revision,
      final: e.final,
      stats: e.stats,
      customerId: customer === NO_CUSTOMER ? null : customer,
    };
  }
  return {
    scope,
    window,
    productId,
    metric,
    windowStart: start,
    windowEnd: e.windowEnd,
    revision: e.revision,
    final: e.final,
    stats: e.stats,
  };
}

/** The order in which due scopes are flushed: the fewest keys first, so a large scope cannot starve them. */
const FLUSH_PRIORITY: readonly AggregateScope[] = ['product', 'customer-product', 'device'];

/** What one call flushes: the due scopes' changed open windows (`selection`), at most `limit` keys. */
interface FlushTake {
  readonly selection: FlushSelection;
  readonly limit: number;
  /** The due scopes, in the order the backend claims them. */
  readonly scopes: readonly AggregateScope[];
}

const NO_FLUSH: FlushTake = { selection: false, limit: 0, scopes: [] };

/**
 * When the open windows of each scope were last flushed, which are due, and how many keys a call may
 * flush. Scopes have intervals of their own (device and customer × product windows less often than
 * product windows). A call flushes the due scopes in `FLUSH_PRIORITY` order; when its limit leaves
 * keys for later (`moreToFlush`), the scope it stopped in and those after it stay due, and the next
 * calls go on with them.
 *
 * With `flushKeysPerSecond` set, the keys come out of a token bucket of this operator (one per
 * worker): it fills at that rate up to one second's worth (at most `flushMaxKeys`), and each call
 * reserves what it holds. A large
 * flush (every device's windows, once a minute) then goes out as a steady trickle between the
 * batches instead of a burst of `flushMaxKeys` keys with every batch; when the keys change faster
 * than the rate drains them, each key's running values are refreshed less often than its interval
 * (the backend flushes in rounds: a round takes the keys changed when it starts, so a key waits at
 * most about two rounds), and the Hot store's aggregate writes stay at the rate.
 */
function flushSchedule(config: WindowAggregateConfig) {
  const present = new Set(plan(config).map((s) => s.scope));
  const scopes = FLUSH_PRIORITY.filter((s) => present.has(s));
  const intervalOf = (scope: AggregateScope) =>
    scope === 'device'
      ? config.deviceFlushIntervalMs
      : scope === 'customer-product'
        ? config.customerFlushIntervalMs
        : config.flushIntervalMs;
  // when each scope last finished a flush; every scope is due at the first call
  const last = new Map<AggregateScope, number>();
  const rate = config.flushKeysPerSecond;
  // one second's worth at most: a scope falling due after a quiet spell does not burst
  const capacity = Math.min(config.flushMaxKeys, Math.max(1, rate));
  let tokens = capacity;
  let filledAt = Number.NEGATIVE_INFINITY;
  return {
    /** The shortest interval: how often something may be due. */
    shortestMs: Math.min(...scopes.map(intervalOf)),
    /** What a call at `now` flushes; the keys it may flush are reserved from the bucket. */
    take(now: number): FlushTake {
      if (last.size === 0) for (const s of scopes) last.set(s, now - intervalOf(s));
      const due = scopes.filter((s) => now - last.get(s)! >= intervalOf(s));
      if (due.length === 0) return NO_FLUSH;
      let limit = config.flushMaxKeys;
      if (rate > 0) {
        if (now > filledAt) tokens = Math.min(capacity, tokens + ((now - filledAt) * rate) / 1000);
        filledAt = Math.max(filledAt, now);
        limit = Math.floor(tokens);
        if (limit < 1) return NO_FLUSH;
        // reserved while the call runs, so the shards' concurrent calls share the bucket
        tokens -= limit;
      }
      const selection = due.length === scopes.length && due.length === 1 ? true : due.map((s) => `${s}|`);
      return { selection, limit, scopes: due };
    },
    /**
     * Records what a call with `take` claimed at `now` (`emissions`): what it reserved but did not
     * flush goes back to the bucket; the scopes it finished are done until their next interval.
     */
    flushed(
      take: FlushTake,
      now: number,
      moreToFlush: string | undefined,
      emissions: readonly Emission[],
    ): void {
      if (take.scopes.length === 0) return;
      if (rate > 0) tokens = Math.min(capacity, tokens + Math.max(0, take.limit - runningKeys(emissions)));
      // scopes are claimed in order: those before the one with keys left are done
      const left =
        moreToFlush === undefined ? -1 : take.scopes.findIndex((s) => `${s}|`.startsWith(moreToFlush));
      for (const scope of left < 0 ? take.scopes : take.scopes.slice(0, left)) last.set(scope, now);
    },
    /**
     * Per scope, how long its running values have been due and not all flushed at `now` (0: on
     * schedule): under the rate limit, about how far behind its interval a key's refresh is.
     */
    overdueMs(now: number): { scope: AggregateScope; ms: number }[] {
      return scopes.map((scope) => {
        const at = last.get(scope);
        return { scope, ms: at === undefined ? 0 : Math.max(0, now - at - intervalOf(scope)) };
      });
    },
  };
}

/**
 * How many keys (rows of a bucket) `emissions` carry running values of. A backend emits a row's
 * columns one after another, so a key is counted where the bucket or the row changes.
 */
function runningKeys(emissions: readonly Emission[]): number {
  let keys = 0;
  let bucket = '';
  let row = '';
  for (const e of emissions) {
    if (e.final) continue;
    if (e.bucket === bucket && e.field.length > row.length && e.field.startsWith(row)) continue;
    keys++;
    bucket = e.bucket;
    row = e.field.slice(0, e.field.lastIndexOf(US) + 1);
  }
  return keys;
}

/** The shortest period of a shard's tick: a flush interval of 0 (flush with every batch) must not spin. */
export const MIN_TICK_MS = 1_000;
const TICK = 'window-tick';

/** How the operator reads positions. */
export interface WindowAggregateOptions {
  /**
   * Records carry their Kinesis record's position (`rawRef.sequenceNumber`, sub-sequence 0) and a
   * batch's position is its last Kinesis record's, as with the worker's Kinesis sources: a batch then
   * names its first position, and one cut differently from an earlier delivery counts once. Off, a
   * batch is known by its last position only (sources that always cut batches the same way, tests
   * whose records carry made-up references).
   */
  readonly positionsFromRecords?: boolean;
}

/** How often a shard held back by `maxShardDriftMs` asks for the global watermark again. */
const ALIGN_POLL_MS = 200;

/** A shard's ticks: who ticks (one session per opening of the shard), how many were acknowledged. */
interface ShardTicks {
  readonly session: string;
  /** Maximum event time of the batches this operator applied on the shard. */
  maxEventTime: number;
  sequence: number;
  lastBatchAt: number;
  /** The last position seen in the lane: a timer firing at another one follows a batch (maybe empty). */
  seen: Position | undefined;
  next: number | undefined;
}

const after = (a: Position, b: Position) => comparePositions(a, b) > 0;

/** Tumbling window aggregates of numeric metrics, exactly-once on the given state backend. */
export function windowAggregate(
  config: WindowAggregateConfig,
  backend: WindowBackend,
  options: WindowAggregateOptions = {},
): Operator<Enriched, WindowAggregate, { late: Enriched }> {
  const slices = plan(config);
  const assign = windowAssigner(config.zone);
  const policy = {
    outOfOrdernessMs: config.allowedOutOfOrdernessMs,
    allowedLatenessMs: config.allowedLatenessMs,
    retentionMs: config.retentionMs,
    idleTimeoutMs: config.idleTimeoutMs,
  };
  const schedule = flushSchedule(config);
  const tickMs = Math.max(MIN_TICK_MS, schedule.shortestMs);
  const productRow = rowNames();
  const lists = new ColumnLists();
  const ticks = new Map<string, ShardTicks>();
  let watermark = Number.NEGATIVE_INFINITY;
  let stopping: AbortSignal | undefined;
  let clock: Clock | undefined;

  /** Holds a shard that ran more than `maxShardDriftMs` ahead of the global watermark (see file comment). */
  const align = async (shardId: string, t: ShardTicks, clock: Clock) => {
    const limit = config.maxShardDriftMs;
    if (limit === undefined || !Number.isFinite(t.maxEventTime)) return;
    const shardWatermark = t.maxEventTime - config.allowedOutOfOrdernessMs;
    while (shardWatermark - watermark > limit && stopping?.aborted !== true) {
      await clock.sleep(ALIGN_POLL_MS, stopping).catch(() => {});
      const global = await backend.advanceGlobal(shardId, clock.now(), policy);
      if (global > watermark) watermark = global;
    }
  };

  const shardTicks = (shardId: string): ShardTicks => {
    let t = ticks.get(shardId);
    if (t === undefined) {
      t = {
        session: randomUUID(),
        sequence: 0,
        maxEventTime: Number.NEGATIVE_INFINITY,
        lastBatchAt: Number.NEGATIVE_INFINITY,
        seen: undefined,
        next: undefined,
      };
      ticks.set(shardId, t);
    }
    return t;
  };

  const scheduleTick = (
    t: ShardTicks,
    timers: {
      registerProcessingTime(k: string, at: number): void;
      deleteProcessingTime(k: string, at: number): void;
    },
    now: number,
  ) => {
    if (t.next !== undefined) timers.deleteProcessingTime(TICK, t.next);
    t.next = now + tickMs;
    timers.registerProcessingTime(TICK, t.next);
  };

  /** Records of a batch that were late when the batches that applied them classified them. */
  const lateAmong = (
    records: readonly Enriched[],
    positionOf: (r: Enriched) => Position,
    classified: readonly Classification[],
    otherwise: number,
  ): Enriched[] => {
    const late: Enriched[] = [];
    for (const record of records) {
      const t = record.device_timestamp;
      if (!Number.isFinite(t)) continue;
      const q = positionOf(record);
      let w = otherwise;
      for (const c of classified)
        if (!after(q, c.position)) {
          w = c.watermark;
          break;
        }
      let firstEnd = Number.POSITIVE_INFINITY;
      for (const slice of slices) firstEnd = Math.min(firstEnd, assign(t, slice.size).end);
      if (firstEnd + config.retentionMs <= w) late.push(record);
    }
    return late;
  };

  return {
    type: 'window-aggregate',
    // The state is a store (Redis): an outage stalls the shard and is retried; a batch applies once
    // per shard position, so a retry after a lost reply changes nothing. Lost state is fatal.
    retry: 'like-sink',
    sideOutputs: ['late'],
    stores: [{ name: 'state.windows', kind: backend.kind }],
    open: (ctx) => {
      stopping = ctx.signal;
      clock = ctx.clock;
      return backend.open();
    },
    gauges: () =>
      clock === undefined
        ? []
        : schedule.overdueMs(clock.now()).map(({ scope, ms }) => ({
            name: `window_flush_overdue_seconds_${scope.replace('-', '_')}`,
            help: `how long the ${scope} windows' running values have been due and not all emitted (0: on schedule)`,
            value: ms / 1000,
          })),
    process: async function aggregateBatch(batch, ctx) {
      const now = ctx.clock.now();
      const flush = schedule.take(now);
      const last = ctx.position;
      const positionOf = options.positionsFromRecords
        ? (r: Enriched): Position => ({ sequenceNumber: r.rawRef.sequenceNumber, subSequenceNumber: 0 })
        : () => last;
      const out: WindowAggregate[] = [];
      const t = shardTicks(ctx.shardId);
      let records = batch;
      for (;;) {
        let first = last;
        for (const r of records) {
          const p = positionOf(r);
          if (after(first, p)) first = p;
        }
        const classifiedWith = watermark;
        const built = aggregate(
          records,
          slices,
          assign,
          config.retentionMs,
          classifiedWith,
          productRow,
          lists,
        );
        const result = await backend.apply({
          shardId: ctx.shardId,
          position: last,
          firstPosition: first,
          classifiedWith,
          maxEventTime: built.maxEventTime,
          now,
          policy,
          partials: partialsOf(built),
          flush: flush.selection,
          flushLimit: flush.limit,
        });
        if (result.globalWatermark > watermark) watermark = result.globalWatermark;
        if (result.status === 'stale-watermark') continue;
        if (built.maxEventTime > t.maxEventTime) t.maxEventTime = built.maxEventTime;
        if (result.status === 'applied') {
          schedule.flushed(flush, now, result.moreToFlush, result.emissions);
          for (const record of built.late) ctx.side('late', record);
          for (const e of result.emissions) out.push(aggregateOf(e));
          break;
        }
        // applied before (all of it, or up to `applied`): the first deliveries decide which records
        // were late, and their claims are emitted again
        const applied = result.status === 'overlap' ? result.applied : last;
        const done =
          result.status === 'overlap' ? records.filter((r) => !after(positionOf(r), applied)) : records;
        for (const record of lateAmong(done, positionOf, result.classified, result.globalWatermark))
          ctx.side('late', record);
        for (const e of result.emissions) out.push(aggregateOf(e));
        if (result.status === 'duplicate') break;
        records = records.filter((r) => after(positionOf(r), applied));
      }
      t.lastBatchAt = ctx.clock.now();
      t.seen = last;
      await align(ctx.shardId, t, ctx.clock);
      return out;
    },
    openShard: (ctx) => {
      const t: ShardTicks = {
        session: randomUUID(),
        sequence: 0,
        maxEventTime: Number.NEGATIVE_INFINITY,
        lastBatchAt: Number.NEGATIVE_INFINITY,
        seen: undefined,
        next: undefined,
      };
      ticks.set(ctx.shardId, t);
      scheduleTick(t, ctx.timers, ctx.clock.now());
    },
    onTimer: async function tickShard(_fired, ctx) {
      const now = ctx.clock.now();
      const t = shardTicks(ctx.shardId);
      t.next = undefined;
      // a batch ran lately: it claimed what was due, and this firing may follow it before its
      // outputs are through (a tick's pending finals rely on the previous tick's being through).
      // A batch the operator never saw (empty after upstream filtering) shows in the position.
      if (t.seen === undefined || comparePositions(ctx.position, t.seen) !== 0) {
        t.seen = ctx.position;
        t.lastBatchAt = now;
      }
      if (now - t.lastBatchAt < tickMs) {
        scheduleTick(t, ctx.timers, now);
        return [];
      }
      const flush = schedule.take(now);
      const result = await backend.tick({
        shardId: ctx.shardId,
        now,
        policy,
        flush: flush.selection,
        flushLimit: flush.limit,
        session: t.session,
        sequence: t.sequence + 1,
      });
      t.sequence++;
      schedule.flushed(flush, now, result.moreToFlush, result.emissions);
      if (result.globalWatermark > watermark) watermark = result.globalWatermark;
      scheduleTick(t, ctx.timers, now);
      return result.emissions.map(aggregateOf);
    },
    close: () => backend.close(),
  };
}
