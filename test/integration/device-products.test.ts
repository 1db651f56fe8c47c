/**
 * The decode stage's device registry as the worker feeds it: a snapshot of the master data's
 * device → product map on a real PostgreSQL, following imports and deletes, and keeping the last good
 * snapshot when the database cannot be read.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { pgSqlClient, type SqlClient } from '../../sinks/postgres/sql.ts';
import { pgDeviceProducts } from '../../sinks/warm/masterdata/deviceProducts.ts';
import { importChanges, rowChange } from '../../sinks/warm/masterdata/import.ts';
import { type MasterDataRowChange, silentLogger, systemClock } from '../../topology/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';

const T0 = Date.UTC(2026, 10, 22, 8);

function device(line: number, values: Record<string, string>, at: number): MasterDataRowChange {
  const change = rowChange('devices', { line, values }, at);
  if (typeof change === 'string') throw new Error(change);
  return change;
}

describe('device → product snapshot', () => {
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
});
