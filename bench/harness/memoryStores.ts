/**
 * In-memory stand-ins for the stores, for the in-process mode: the Warm store's first-slice tables
 * (hourly count partials added up per product and hour, dead letters kept) and a Hot store that
 * keeps what the dashboards read first, each device's latest state, written by the real Hot sinks.
 */
import {
  type DeviceState,
  type HotStore,
  highestRevisions,
  isHotAggregate,
  latestPerDevice,
} from '../../sinks/hot/hotStore.ts';
import type { DeadLetter, ProductHourCount, Sink } from '../../topology/index.ts';
import type { HourlyCountReader } from './probe.ts';

/** The in-memory Warm tables and their sinks. */
export interface MemoryWarm {
  readonly hourlyCounts: Sink<ProductHourCount>;
  deadLetters(): Sink<DeadLetter>;
  readonly read: HourlyCountReader;
  /** Records counted over every hour and product. */
  counted(): number;
  deadLetterCount(): number;
}

/** Empty in-memory Warm tables. */
export function memoryWarm(): MemoryWarm {
  const counts = new Map<string, number>();
  let counted = 0;
  let dead = 0;
  return {
    hourlyCounts: {
      type: 'memory-hourly-counts',
      stores: [{ name: 'warm.product_hourly_counts', kind: 'memory' }],
      write: async (batch) => {
        for (const p of batch) {
          const key = `${p.productId}\u0000${p.hourStart}`;
          counts.set(key, (counts.get(key) ?? 0) + p.count);
          counted += p.count;
        }
      },
    },
    deadLetters: () => ({
      type: 'memory-dead-letters',
      stores: [{ name: 'warm.dead_letters', kind: 'memory' }],
      write: async (batch) => {
        // Too-late records were decoded and counted already: they are not malformed input.
        for (const d of batch) if (d.code !== 'too-late') dead++;
      },
    }),
    read: async (productId, hourStarts) =>
      new Map(hourStarts.map((h) => [h, counts.get(`${productId}\u0000${h}`) ?? 0])),
    counted: () => counted,
    deadLetterCount: () => dead,
  };
}

/** A sink that only counts what it is given: an in-memory stand-in for a store the probe does not read. */
export function countingSink<T>(store: string): Sink<T> & { readonly count: () => number } {
  let count = 0;
  return {
    type: 'memory-count',
    stores: [{ name: store, kind: 'memory' }],
    write: async (batch) => {
      count += batch.length;
    },
    count: () => count,
  };
}

/** A Hot store in memory that keeps each device's latest state, and counts what it is given. */
export interface MemoryHot extends HotStore {
  /** Telemetry records and aggregates written so far. */
  written(): { telemetry: number; aggregates: number };
}

/**
 * A memory Hot store: latest state per device moving only forward in device time (as the real
 * stores do), telemetry and aggregates counted but not kept (five minutes at the target rate would
 * be millions of rows). Reads of telemetry and aggregates return nothing.
 */
export function memoryHot(): MemoryHot {
  const states = new Map<string, DeviceState>();
  let telemetry = 0;
  let aggregates = 0;
  return {
    kind: 'postgresql',
    retentionDays: 10,
    prepare: async () => {},
    async writeTelemetry(batch) {
      telemetry += batch.length;
      for (const e of latestPerDevice(batch)) {
        const current = states.get(e.device_id);
        if (current !== undefined && current.deviceTimestamp > e.device_timestamp) continue;
        states.set(e.device_id, {
          deviceId: e.device_id,
          productId: e.productId,
          deviceTimestamp: e.device_timestamp,
          siteId: e.site_id ?? null,
          customerId: e.customer_id ?? null,
          metrics: e.metrics,
        });
      }
    },
    async writeAggregates(batch) {
      aggregates += highestRevisions(batch.filter(isHotAggregate)).length;
    },
    expire: async () => 0,
    readTelemetry: async () => [],
    countTelemetry: async () => 0,
    readLatestState: async (deviceId) => states.get(deviceId),
    readAggregates: async () => [],
    close: async () => {},
    written: () => ({ telemetry, aggregates }),
  };
}
