/**
 * In-memory stand-ins for the stores, for the in-process mode: dead letters counted, and a Hot store
 * that keeps what the dashboards read first, each device's latest state, written by the real Hot
 * sinks.
 */
import {
  type DeviceState,
  type HotStore,
  highestRevisions,
  isHotAggregate,
  latestPerDevice,
} from '../../sinks/hot/hotStore.ts';
import type { DeadLetter, Sink } from '../../topology/index.ts';

/** Dead-letter sinks in memory, counting dead letters of malformed input. */
export interface MemoryDeadLetters {
  sink(): Sink<DeadLetter>;
  count(): number;
}

/** Dead-letter sinks that share one count. */
export function memoryDeadLetters(): MemoryDeadLetters {
  let dead = 0;
  return {
    sink: () => ({
      type: 'memory-dead-letters',
      stores: [{ name: 'warm.dead_letters', kind: 'memory' }],
      write: async (batch) => {
        // Too-late records were decoded and stored already: they are not malformed input.
        for (const d of batch) if (d.code !== 'too-late') dead++;
      },
    }),
    count: () => dead,
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
    writeOpenAlarms: async () => {},
    readOpenAlarms: async () => [],
    close: async () => {},
    written: () => ({ telemetry, aggregates }),
  };
}
