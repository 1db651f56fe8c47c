/**
 * The demo fleet's master data (customers, sites, products, devices and their assignments), loaded
 * into the Warm store before the worker starts, through the same upserts as `shardflow masterdata
 * import`, so the enrich stage resolves every simulated device to its site and customer.
 */
import type { SimulatedDevice } from '../gateways/simulator/fleet.ts';
import type { SqlClient } from '../sinks/postgres/sql.ts';
import { type ImportEntity, importChanges, rowChange } from '../sinks/warm/masterdata/import.ts';

// Assignments valid since the epoch, so readings of any simulated time resolve.
const SINCE = new Date(0).toISOString();

function rowsOf(devices: readonly SimulatedDevice[]): Array<[ImportEntity, Record<string, string>[]]> {
  const unique = (values: string[]) => [...new Set(values)].sort();
  const siteCustomer = new Map(devices.map((d) => [d.siteId, d.customerId]));
  return [
    ['customers', unique(devices.map((d) => d.customerId)).map((id) => ({ customer_id: id, name: id }))],
    ['sites', [...siteCustomer.keys()].sort().map((id) => ({ site_id: id, name: id, timezone: 'UTC' }))],
    ['products', unique(devices.map((d) => d.productId)).map((id) => ({ product_id: id, name: id }))],
    ['devices', devices.map((d) => ({ device_id: d.deviceId, product_id: d.productId, name: d.deviceId }))],
    [
      'site-assignments',
      [...siteCustomer].map(([site, customer]) => ({
        site_id: site,
        customer_id: customer,
        valid_from: SINCE,
      })),
    ],
    [
      'device-assignments',
      devices.map((d) => ({ device_id: d.deviceId, site_id: d.siteId, valid_from: SINCE })),
    ],
  ];
}

/** Upserts the fleet's master data; returns how many devices it placed. */
export async function loadDemoMasterData(
  write: SqlClient,
  devices: readonly SimulatedDevice[],
  now: number,
): Promise<number> {
  for (const [entity, rows] of rowsOf(devices)) {
    const changes = rows.map((values, i) => {
      const change = rowChange(entity, { line: i + 1, values }, now);
      if (typeof change === 'string') throw new Error(`demo master data, ${entity} row ${i + 1}: ${change}`);
      return change;
    });
    await importChanges(write, changes);
  }
  return devices.length;
}
