/**
 * `enrich`: joins telemetry with master data, resolving the site and customer a device belonged to
 * at the record's `device_timestamp`.
 *
 * Per batch, the devices not in the cache are fetched with one directory lookup (one round trip to
 * the read endpoint); the answer is each device's whole placement history, so every event time of a
 * cached device resolves in memory. The cache is a bounded LRU with a TTL; invalidations from the
 * master-data applier drop keys. A device unknown to the master data gets null ids, is counted and
 * follows `unknownDevice`: `pass` it on, `hold` (look it up again until `holdMs` has passed, then
 * pass), or `dead-letter` it. Unknown devices are cached for `unknownTtlMs`, so a stream of readings
 * of one unregistered device costs one lookup per TTL, not one per batch.
 *
 * Counters: `stats()`; `gauges()` gives them in the runtime's gauge shape for `/metrics`, with the
 * invalidation feed's (whether it is connected: while it is not, cached devices live out their TTL).
 */
import { z } from 'zod';
import type { DeadLetter, Enriched, Operator, SourceGauge, Telemetry } from '../topology/index.ts';
import {
  type DeviceDirectory,
  type DeviceInvalidation,
  type DeviceInvalidations,
  type DevicePlacement,
  placementAt,
} from './enrich/directory.ts';
import { LruTtlCache } from './enrich/lruCache.ts';

/** Configuration of the enrich operator. */
export const enrichConfigSchema = z
  .object({
    cacheSize: z.number().int().min(1).default(200_000).describe('devices kept in the cache (LRU beyond)'),
    ttlMs: z.number().int().min(1).default(600_000).describe('how long a cached device is trusted'),
    unknownTtlMs: z
      .number()
      .int()
      .min(0)
      .default(60_000)
      .describe('how long a device unknown to the master data is remembered as unknown'),
    unknownDevice: z
      .enum(['pass', 'hold', 'dead-letter'])
      .default('pass')
      .describe('a device unknown to the master data: pass with null ids, hold and retry, or dead-letter'),
    holdMs: z
      .number()
      .int()
      .min(0)
      .default(5_000)
      .describe('hold: how long to keep looking an unknown device up'),
    retryIntervalMs: z.number().int().min(1).default(500).describe('hold: pause between lookups'),
  })
  .strict();
/** See {@link enrichConfigSchema}. */
export type EnrichConfig = z.output<typeof enrichConfigSchema>;

/** The operator's counters since it was made. */
export interface EnrichStats {
  readonly records: number;
  readonly cacheHits: number;
  readonly cacheMisses: number;
  /** Directory round trips. */
  readonly lookups: number;
  readonly unknownRecords: number;
  readonly deadLettered: number;
  /** Batches that waited for unknown devices (`hold`). */
  readonly heldBatches: number;
  readonly invalidatedDevices: number;
  readonly evictions: number;
  readonly cacheSize: number;
}

/** The enrich operator, with its counters. */
export type EnrichOperator = Operator<Telemetry, Enriched, { dlq: DeadLetter }> & {
  stats(): EnrichStats;
  gauges(): readonly SourceGauge[];
};

/**
 * A cached device: its latest placement inline (most readings fall in it, and reading it costs no
 * further memory access than the entry itself), the whole history for the others.
 */
interface DeviceView {
  readonly from: number;
  readonly to: number;
  readonly siteId: string | null;
  readonly customerId: string | null;
  readonly placements: readonly DevicePlacement[];
}

function viewOf(placements: readonly DevicePlacement[]): DeviceView {
  const last = placements[placements.length - 1];
  if (last === undefined) return { from: 0, to: 0, siteId: null, customerId: null, placements };
  return { from: last.from, to: last.to, siteId: last.siteId, customerId: last.customerId, placements };
}

// Cached for unknown devices; compared by identity.
const UNKNOWN: DeviceView = Object.freeze(viewOf([]));

/** Enriches telemetry with the site and customer in force at its event time. */
export function enrich(
  config: EnrichConfig,
  directory: DeviceDirectory,
  invalidations?: DeviceInvalidations,
): EnrichOperator {
  const cache = new LruTtlCache<DeviceView>(config.cacheSize);
  const c = { records: 0, hits: 0, misses: 0, lookups: 0, unknown: 0, dead: 0, held: 0, invalidated: 0 };
  let unsubscribe: (() => void) | undefined;
  // devices invalidated while a lookup was in flight: its answer for them may predate the change
  // One watch per lookup in flight: shards share the operator, so lookups overlap.
  const inFlight = new Set<{ devices: Set<string>; all: boolean }>();

  const invalidate = (devices: DeviceInvalidation) => {
    if (devices === 'all') {
      c.invalidated += cache.size;
      cache.clear();
      for (const watch of inFlight) watch.all = true;
      return;
    }
    for (const id of devices) {
      if (cache.delete(id)) c.invalidated++;
      for (const watch of inFlight) watch.devices.add(id);
    }
  };

  /** One round trip; `raced` holds the devices invalidated meanwhile, whose answer must not be cached. */
  async function lookup(
    ids: readonly string[],
    raced: Set<string>,
  ): Promise<ReadonlyMap<string, readonly DevicePlacement[]>> {
    c.lookups++;
    const watch = { devices: new Set<string>(), all: false };
    inFlight.add(watch);
    try {
      return await directory.lookup(ids);
    } finally {
      inFlight.delete(watch);
      for (const id of watch.all ? ids : watch.devices) raced.add(id);
    }
  }

  const stats = (): EnrichStats => ({
    records: c.records,
    cacheHits: c.hits,
    cacheMisses: c.misses,
    lookups: c.lookups,
    unknownRecords: c.unknown,
    deadLettered: c.dead,
    heldBatches: c.held,
    invalidatedDevices: c.invalidated,
    evictions: cache.evictions,
    cacheSize: cache.size,
  });

  return {
    type: 'enrich',
    // the directory is a database: an outage stalls the shard and is retried, it does not fail the worker
    retry: 'like-sink',
    // a lookup the directory refuses (an id it cannot hold) isolates the records responsible
    rejects: 'isolate',
    sideOutputs: ['dlq'],
    stores: [{ name: 'warm.masterdata', kind: 'postgresql' }],
    open() {
      unsubscribe ??= invalidations?.subscribe(invalidate);
    },
    process: async function enrichBatch(batch, ctx) {
      const now = ctx.clock.now();
      const n = batch.length;
      const found: (DeviceView | undefined)[] = new Array(n);
      let missing: Set<string> | undefined;
      let misses = 0;
      for (let i = 0; i < n; i++) {
        const placements = cache.get(batch[i]!.device_id, now);
        found[i] = placements;
        if (placements === undefined) {
          misses++;
          missing ??= new Set();
          missing.add(batch[i]!.device_id);
        }
      }
      c.records += n;
      c.misses += misses;
      c.hits += n - misses;

      let loaded: Map<string, DeviceView> | undefined;
      if (missing !== undefined) {
        const raced = new Set<string>();
        loaded = new Map();
        for (const [id, p] of await lookup([...missing], raced)) loaded.set(id, viewOf(p));
        let unknown = [...missing].filter((id) => !loaded!.has(id));
        if (unknown.length > 0 && config.unknownDevice === 'hold') {
          c.held++;
          const until = now + config.holdMs;
          while (unknown.length > 0 && ctx.clock.now() + config.retryIntervalMs <= until) {
            await ctx.clock.sleep(config.retryIntervalMs);
            for (const [id, p] of await lookup(unknown, raced)) loaded.set(id, viewOf(p));
            unknown = unknown.filter((id) => !loaded!.has(id));
          }
        }
        const at = ctx.clock.now();
        for (const id of missing) {
          if (raced.has(id)) continue;
          const p = loaded.get(id);
          if (p !== undefined) cache.set(id, p, at + config.ttlMs);
          else if (config.unknownTtlMs > 0) cache.set(id, UNKNOWN, at + config.unknownTtlMs);
        }
      }

      const out: Enriched[] = [];
      for (let i = 0; i < n; i++) {
        const record = batch[i]!;
        const view = found[i] ?? loaded?.get(record.device_id) ?? UNKNOWN;
        if (view === UNKNOWN) {
          c.unknown++;
          if (config.unknownDevice === 'dead-letter') {
            c.dead++;
            ctx.side('dlq', unknownDeviceLetter(record, ctx.node, ctx.clock.now()));
            continue;
          }
          out.push(enriched(record, null, null));
          continue;
        }
        const t = record.device_timestamp;
        if (t >= view.from && t < view.to) {
          out.push(enriched(record, view.siteId, view.customerId));
          continue;
        }
        const p = placementAt(view.placements, t);
        out.push(enriched(record, p?.siteId ?? null, p?.customerId ?? null));
      }
      return out;
    },
    close() {
      unsubscribe?.();
      unsubscribe = undefined;
    },
    stats,
    gauges() {
      const s = stats();
      return [
        {
          name: 'enrich_cache_hits_total',
          help: 'records whose device was in the cache',
          value: s.cacheHits,
        },
        {
          name: 'enrich_cache_misses_total',
          help: 'records whose device was looked up',
          value: s.cacheMisses,
        },
        { name: 'enrich_lookups_total', help: 'directory round trips', value: s.lookups },
        {
          name: 'enrich_unknown_devices_total',
          help: 'records of devices unknown to the master data',
          value: s.unknownRecords,
        },
        {
          name: 'enrich_dead_lettered_total',
          help: 'records dead-lettered as unknown devices',
          value: s.deadLettered,
        },
        { name: 'enrich_held_batches_total', help: 'batches held for unknown devices', value: s.heldBatches },
        {
          name: 'enrich_invalidated_devices_total',
          help: 'cached devices dropped by invalidations',
          value: s.invalidatedDevices,
        },
        { name: 'enrich_cache_evictions_total', help: 'cached devices evicted for room', value: s.evictions },
        { name: 'enrich_cache_devices', help: 'devices in the cache', value: s.cacheSize },
        ...(invalidations?.gauges?.() ?? []),
      ];
    },
  };
}

/**
 * The enriched record as an object literal: V8 copies `{ ...record, site_id, customer_id }` on a
 * slow path (about 30x slower here), and this is the per-record cost of the operator.
 */
function enriched(r: Telemetry, site_id: string | null, customer_id: string | null): Enriched {
  if (r.hub_id === undefined && r.hub_timestamp === undefined && r.childDeviceId === undefined)
    return {
      device_id: r.device_id,
      device_timestamp: r.device_timestamp,
      productId: r.productId,
      metrics: r.metrics,
      ingest_timestamp: r.ingest_timestamp,
      rawRef: r.rawRef,
      site_id,
      customer_id,
    };
  return {
    device_id: r.device_id,
    device_timestamp: r.device_timestamp,
    productId: r.productId,
    metrics: r.metrics,
    ...(r.hub_id === undefined ? {} : { hub_id: r.hub_id }),
    ...(r.hub_timestamp === undefined ? {} : { hub_timestamp: r.hub_timestamp }),
    ...(r.childDeviceId === undefined ? {} : { childDeviceId: r.childDeviceId }),
    ingest_timestamp: r.ingest_timestamp,
    rawRef: r.rawRef,
    site_id,
    customer_id,
  };
}

function unknownDeviceLetter(record: Telemetry, node: string, failedAt: number): DeadLetter {
  const ref = record.rawRef;
  return {
    node,
    reason: `device "${record.device_id}" is unknown to the master data`,
    code: 'unknown-device',
    ...(ref.specId === undefined ? {} : { specId: ref.specId }),
    ...(ref.specVersion === undefined ? {} : { specVersion: ref.specVersion }),
    stream: ref.stream,
    shardId: ref.shardId,
    sequenceNumber: ref.sequenceNumber,
    ...(ref.subSequenceNumber === undefined ? {} : { subSequenceNumber: ref.subSequenceNumber }),
    // the raw bytes are not at hand after decoding: the decoded record stands for them
    payloadBase64: Buffer.from(JSON.stringify(record)).toString('base64'),
    failedAt,
  };
}
