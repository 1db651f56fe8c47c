/**
 * Which product each device is, from the master data, as a snapshot kept in memory: the decode
 * stage's device registry (`match.registry` specs) asks it synchronously for every record whose
 * payload or topic says nothing about its product. Refreshed on an interval from the read endpoint;
 * a failed refresh keeps the previous snapshot (decode goes on; the next refresh tries again).
 */
import type { Clock, Logger } from '../../../topology/index.ts';
import { errorMessage } from '../../../topology/index.ts';
import type { SqlClient } from '../../postgres/sql.ts';

/** The device → product snapshot. */
export interface DeviceProducts {
  productOf(deviceId: string): string | undefined;
  /** Devices in the snapshot. */
  readonly size: number;
  /** Reads the snapshot again now. */
  refresh(): Promise<void>;
  /** Refreshes every `intervalMs` until `signal` aborts. */
  watch(intervalMs: number, signal: AbortSignal): Promise<void>;
}

/** A snapshot of the live devices' products on the Warm store's read endpoint. */
export function pgDeviceProducts(read: SqlClient, clock: Clock, log: Logger): DeviceProducts {
  let products = new Map<string, string>();
  const refresh = async () => {
    const { rows } = await read.query<{ d: string; p: string }>(
      'SELECT device_id AS d, product_id AS p FROM devices WHERE NOT deleted AND product_id IS NOT NULL',
    );
    products = new Map(rows.map((r) => [r.d, r.p]));
  };
  return {
    productOf: (deviceId) => products.get(deviceId),
    get size() {
      return products.size;
    },
    refresh,
    async watch(intervalMs, signal) {
      while (!signal.aborted) {
        await clock.sleep(intervalMs, signal).catch(() => {});
        if (signal.aborted) return;
        await refresh().catch((error) =>
          log.warn(
            { error: errorMessage(error) },
            'device registry refresh failed; keeping the previous one',
          ),
        );
      }
    },
  };
}
