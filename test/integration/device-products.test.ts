/**
 * The master-data snapshots a worker keeps in memory, on a real PostgreSQL: the decode stage's device
 * registry (device → product), following imports and deletes and keeping the last good snapshot when
 * the database cannot be read; and the rule operator's site zones (site → IANA zone), leaving out the
 * zones this runtime does not know.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { pgSqlClient, type SqlClient } from '../../sinks/postgres/sql.ts';
import { pgDeviceProducts } from '../../sinks/warm/masterdata/deviceProducts.ts';
import { importChanges, rowChange } from '../../sinks/warm/masterdata/import.ts';
import { pgSiteZones } from '../../sinks/warm/masterdata/siteZones.ts';
import { type MasterDataRowChange, silentLogger, systemClock } from '../../topology/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';

const T0 = Date.UTC(2026, 10, 22, 8);

function row(
  entity: 'devices' | 'sites',
  line: number,
  values: Record<string, string>,
  at: number,
): MasterDataRowChange {
  const change = rowChange(entity, { line, values }, at);
  if (typeof change === 'string') throw new Error(change);
  return change;
}
const device = (line: number, values: Record<string, string>, at: number) => row('devices', line, values, at);

describe('master-data snapshots', () => {
  let db: TestDatabase;
  let client: SqlClient;
  beforeAll(async () => {
    db = await createTestDatabase('device_products');
    client = pgSqlClient(new pg.Pool({ connectionString: db.url, max: 2 }));
    await migrateWarm(client);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('follows imports and deletes, and keeps the last snapshot when a refresh fails', async () => {
    const products = pgDeviceProducts(client, systemClock, silentLogger);
    await products.refresh();
    expect(products.size).toBe(0);

    await importChanges(client, [
      device(1, { device_id: 'vlv-1', product_id: 'valve-v7' }, T0),
      device(2, { device_id: 'vlv-2', product_id: 'valve-v7' }, T0),
      device(3, { device_id: 'th-1', product_id: 'thermo-t1' }, T0),
    ]);
    await products.refresh();
    expect([products.productOf('vlv-1'), products.productOf('th-1'), products.productOf('nope')]).toEqual([
      'valve-v7',
      'thermo-t1',
      undefined,
    ]);

    const removed: MasterDataRowChange = { ...device(1, { device_id: 'vlv-2' }, T0 + 1000), op: 'delete' };
    await importChanges(client, [removed]);
    await products.refresh();
    expect(products.productOf('vlv-2')).toBeUndefined();
    expect(products.size).toBe(2);

    await client.close();
    await expect(products.refresh()).rejects.toThrow();
    expect(products.productOf('vlv-1')).toBe('valve-v7');
  });

  it('gives each site its zone, and none for a site without one or with one the runtime does not know', async () => {
    const warnings: object[] = [];
    const log = { ...silentLogger, warn: (fields: object) => void warnings.push(fields) };
    // a client of its own: the test before closes the shared one
    const own = pgSqlClient(new pg.Pool({ connectionString: db.url, max: 1 }));
    const zones = pgSiteZones(own, systemClock, log);
    await importChanges(own, [
      row('sites', 1, { site_id: 'berlin', timezone: 'Europe/Berlin' }, T0),
      row('sites', 2, { site_id: 'kolkata', timezone: 'Asia/Kolkata' }, T0),
      row('sites', 3, { site_id: 'mars', timezone: 'Mars/Olympus_Mons' }, T0),
      row('sites', 4, { site_id: 'nowhere' }, T0),
    ]);
    await zones.refresh();
    expect(['berlin', 'kolkata', 'mars', 'nowhere', 'unknown'].map((s) => zones.zoneOf(s))).toEqual([
      'Europe/Berlin',
      'Asia/Kolkata',
      undefined,
      undefined,
      undefined,
    ]);
    expect(warnings).toEqual([{ site: 'mars', zone: 'Mars/Olympus_Mons' }]);
    await importChanges(own, [row('sites', 5, { site_id: 'berlin', timezone: 'Europe/Lisbon' }, T0 + 1000)]);
    await zones.refresh();
    expect(zones.zoneOf('berlin')).toBe('Europe/Lisbon');
    await own.close();
  });
});
