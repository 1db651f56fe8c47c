/**
 * Which product each device is, from the master data, as a snapshot kept in memory (`snapshot.ts`):
 * the decode stage's device registry (`match.registry` specs) asks it synchronously for every record
 * whose payload or topic says nothing about its product.
 */
import type { Clock, Logger } from '../../../topology/index.ts';
import type { SqlClient } from '../../postgres/sql.ts';
import { type MasterDataSnapshot, pgSnapshot } from './snapshot.ts';

/** The device → product snapshot. */
export interface DeviceProducts extends Omit<MasterDataSnapshot, 'get'> {
  productOf(deviceId: string): string | undefined;
}

/** A snapshot of the live devices' products on the Warm store's read endpoint. */
export function pgDeviceProducts(read: SqlClient, clock: Clock, log: Logger): DeviceProducts {
  const snapshot = pgSnapshot(
    read,
    {
      label: 'device registry',
      sql: 'SELECT device_id AS k, product_id AS v FROM devices WHERE NOT deleted AND product_id IS NOT NULL',
    },
    clock,
    log,
  );
  return Object.assign(snapshot, { productOf: snapshot.get });
}
