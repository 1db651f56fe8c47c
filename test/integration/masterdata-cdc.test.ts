/**
 * The CDC applier on a real PostgreSQL: a DMS full load of 10,000 devices (with customers from DMS
 * and sites from MongoDB change streams), then 1,000 CDC updates and deletes, leaves the Warm tables
 * equal to the source's final state, computed here by replaying the same changes on a model of the
 * source. Replaying every record again changes nothing; shuffled and stale changes do not regress.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addCdcBranch } from '../../cli/cdcTopology.ts';
import { cdcDecode } from '../../operators/cdc/cdcDecode.ts';
import type { MasterDataChange } from '../../operators/cdc/change.ts';
import { deadLetterStoreSink } from '../../sinks/deadletter/deadLetterStore.ts';
import { postgresDeadLetterStore } from '../../sinks/deadletter/postgresDeadLetterStore.ts';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { pgSqlClient, type SqlClient } from '../../sinks/postgres/sql.ts';
import { masterDataApplySink } from '../../sinks/warm/masterdata/applier.ts';
import {
  type DeadLetter,
  ManualClock,
  MemorySource,
  type OperatorContext,
  type RawRecord,
  TopologyBuilder,
  TopologyTestDriver,
} from '../../topology/index.ts';
import { CDC_MAPPINGS } from '../support/cdcMappings.ts';
import { asRawRecords, dmsControl, dmsData, mongoChange } from '../support/dms.ts';
import { createTestDatabase, type TestDatabase, testPool } from '../support/postgres.ts';

const T0 = Date.UTC(2026, 10, 2, 0, 0, 0);
const DEVICES = 10_000;
const SITES = 200;
const CUSTOMERS = 20;

/** The mapping a deployment would configure for these source tables. */

interface DeviceRow {
  device_id: string;
  product: string;
  hub?: string;
  site: string;
}

/** A deterministic pseudo-random sequence (the test must be reproducible). */
function random(seed: number): () => number {
  // mulberry32
  let s = seed;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The source systems: the records they emit, and their final state. */
function sourceHistory() {
  const rnd = random(7);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const customers = Array.from({ length: CUSTOMERS }, (_, i) => `c${i}`);
  const siteIds = Array.from({ length: SITES }, (_, i) => `s${i}`);
  const devices = new Map<string, DeviceRow>();
  const owners = new Map<string, string>();
  const load: object[] = [dmsControl('iot', 'devices', 'create-table', T0)];
  for (const c of customers)
    load.push(dmsData('crm', 'customers', 'load', { id: c, name: `Customer ${c}` }, T0 + 1));
  siteIds.forEach((s, i) => {
    const owner = customers[i % CUSTOMERS]!;
    owners.set(s, owner);
    load.push(
      mongoChange(
        'fm',
        'sites',
        'insert',
        s,
        { t: T0 / 1000 + 2, i: i + 1 },
        { fullDocument: { name: `Site ${s}`, owner } },
      ),
    );
  });
  for (let i = 0; i < DEVICES; i++) {
    const row: DeviceRow = { device_id: `d${i}`, product: `p${i % 7}`, site: pick(siteIds) };
    if (i % 10 !== 0) row.hub = `d${i - (i % 10)}`;
    devices.set(row.device_id, row);
    load.push(dmsData('iot', 'devices', 'load', { ...row }, T0 + 10 + i));
  }
  const cdc: object[] = [];
  let at = T0 + 3_600_000;
  for (let k = 0; k < 1000; k++) {
    at += 1000 + Math.floor(rnd() * 1000);
    if (k % 10 === 9) {
      const site = pick(siteIds);
      const owner = pick(customers);
      owners.set(site, owner);
      cdc.push(
        mongoChange(
          'fm',
          'sites',
          'update',
          site,
          { t: Math.floor(at / 1000), i: k },
          { updatedFields: { owner } },
        ),
      );
      continue;
    }
    const live = [...devices.keys()];
    const id = k % 5 === 4 && k % 50 !== 4 ? pick(live) : `d${Math.floor(rnd() * DEVICES)}`;
    const row = devices.get(id);
    if (row === undefined) {
      // a device deleted earlier comes back (a new installation)
      const fresh: DeviceRow = { device_id: id, product: 'p-new', site: pick(siteIds) };
      devices.set(id, fresh);
      cdc.push(dmsData('iot', 'devices', 'insert', { ...fresh }, at));
    } else if (k % 5 === 4) {
      devices.delete(id);
      cdc.push(dmsData('iot', 'devices', 'delete', { ...row }, at));
    } else {
      const next = {
        ...row,
        site: rnd() < 0.7 ? pick(siteIds) : row.site,
        product: rnd() < 0.3 ? 'p-upgraded' : row.product,
      };
      devices.set(id, next);
      cdc.push(dmsData('iot', 'devices', 'update', { ...next }, at));
    }
  }
  return { load, cdc, devices, owners, customers };
}

const HISTORY = sourceHistory();
const LOAD = asRawRecords(HISTORY.load, 'shardId-000000000000', 1n);
const CDC = asRawRecords(HISTORY.cdc, 'shardId-000000000000', 1_000_000n);

describe('master data from CDC', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let client: SqlClient;
  const decode = cdcDecode(CDC_MAPPINGS);

  function decodeAll(records: readonly RawRecord[]): MasterDataChange[] {
    const dead: DeadLetter[] = [];
    const ctx: OperatorContext<{ dlq: DeadLetter }> = {
      node: 'cdc-decode',
      shardId: 'shardId-000000000000',
      position: { sequenceNumber: '0', subSequenceNumber: 0 },
      clock: new ManualClock(T0),
      side: (_p, d) => void dead.push(d),
    };
    const out = decode.process(records, ctx) as MasterDataChange[];
    expect(dead).toEqual([]);
    return out;
  }

  async function apply(records: readonly RawRecord[], batchSize = 500): Promise<void> {
    const applier = masterDataApplySink(client);
    for (let i = 0; i < records.length; i += batchSize) {
      const chunk = records.slice(i, i + batchSize);
      await applier.write(decodeAll(chunk), {
        node: 'masterdata-apply',
        shardId: 'shardId-000000000000',
        position: { sequenceNumber: chunk.at(-1)!.sequenceNumber, subSequenceNumber: 0 },
        clock: new ManualClock(T0),
      });
    }
  }

  async function snapshot(): Promise<string> {
    const tables = [
      'SELECT customer_id, name, source_version, deleted FROM customers ORDER BY 1',
      'SELECT site_id, name, source_version, deleted FROM sites ORDER BY 1',
      'SELECT device_id, product_id, hub_id, source_version, deleted FROM devices ORDER BY 1',
      'SELECT device_id, site_id, valid_from, valid_to FROM device_site_assignments ORDER BY 1, 3',
      'SELECT site_id, customer_id, valid_from, valid_to FROM site_customer_assignments ORDER BY 1, 3',
      'SELECT kind, key, source_version, deleted FROM assignment_versions ORDER BY 1, 2',
      'SELECT origin, operation, version FROM cdc_control_records ORDER BY 1, 3',
    ];
    const parts: unknown[] = [];
    for (const t of tables) parts.push((await pool.query(t)).rows);
    return JSON.stringify(parts);
  }

  async function expectSourceState(): Promise<void> {
    const devices = await pool.query<{ device_id: string; product_id: string; hub_id: string | null }>(
      'SELECT device_id, product_id, hub_id FROM devices WHERE NOT deleted ORDER BY device_id',
    );
    const expected = [...HISTORY.devices.values()]
      .map((d) => ({ device_id: d.device_id, product_id: d.product, hub_id: d.hub ?? null }))
      .sort((a, b) => (a.device_id < b.device_id ? -1 : 1));
    expect(devices.rows).toEqual(expected);
    const placed = await pool.query<{ device_id: string; site_id: string }>(
      'SELECT device_id, site_id FROM device_site_assignments WHERE valid_to IS NULL ORDER BY device_id',
    );
    expect(placed.rows).toEqual(
      expected.map((d) => ({ device_id: d.device_id, site_id: HISTORY.devices.get(d.device_id)!.site })),
    );
    const owned = await pool.query<{ site_id: string; customer_id: string }>(
      'SELECT site_id, customer_id FROM site_customer_assignments WHERE valid_to IS NULL',
    );
    expect(new Map(owned.rows.map((r) => [r.site_id, r.customer_id]))).toEqual(HISTORY.owners);
    const customers = await pool.query('SELECT count(*)::int AS n FROM customers WHERE NOT deleted');
    expect(customers.rows[0].n).toBe(CUSTOMERS);
  }

  async function freshSchema(): Promise<void> {
    await pool.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    await migrateWarm(client);
  }

  beforeAll(async () => {
    db = await createTestDatabase('masterdata');
    pool = testPool(db.url, 3);
    client = pgSqlClient(pool);
  });

  afterAll(async () => {
    await client?.close();
    await db?.drop();
  });

  it('a full load then 1,000 updates and deletes leave the source state; a replay changes nothing', async () => {
    await freshSchema();
    await apply(LOAD);
    await apply(CDC);
    await expectSourceState();
    const before = await snapshot();
    await apply([...LOAD, ...CDC], 1000);
    expect(await snapshot()).toBe(before);
    // the control record is kept once
    const controls = await pool.query('SELECT operation FROM cdc_control_records');
    expect(controls.rows).toEqual([{ operation: 'create-table' }]);
  });

  it('records shuffled across batches end in the same current state', async () => {
    await freshSchema();
    const rnd = random(99);
    const all = [...LOAD, ...CDC];
    for (let i = all.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [all[i], all[j]] = [all[j]!, all[i]!];
    }
    await apply(all, 700);
    await expectSourceState();
  });

  it('a stale update does not overwrite a newer one, and a late insert does not resurrect a delete', async () => {
    await freshSchema();
    const row = { device_id: 'x1', product: 'p1', site: 's1' };
    const newer = asRawRecords(
      [dmsData('iot', 'devices', 'update', { ...row, product: 'p2', site: 's2' }, T0 + 2000)],
      'shardId-000000000000',
      10n,
    );
    const older = asRawRecords(
      [dmsData('iot', 'devices', 'update', { ...row, product: 'p9', site: 's9' }, T0 + 1000)],
      'shardId-000000000000',
      20n,
    );
    await apply(newer);
    await apply(older);
    const device = await pool.query('SELECT product_id FROM devices WHERE device_id = $1', ['x1']);
    expect(device.rows).toEqual([{ product_id: 'p2' }]);
    const sites = await pool.query('SELECT site_id FROM device_site_assignments WHERE device_id = $1', [
      'x1',
    ]);
    expect(sites.rows).toEqual([{ site_id: 's2' }]);

    await apply(
      asRawRecords([dmsData('iot', 'devices', 'delete', { ...row }, T0 + 3000)], 'shardId-000000000000', 30n),
    );
    await apply(
      asRawRecords([dmsData('iot', 'devices', 'insert', { ...row }, T0 + 1500)], 'shardId-000000000000', 40n),
    );
    const after = await pool.query('SELECT deleted FROM devices WHERE device_id = $1', ['x1']);
    expect(after.rows).toEqual([{ deleted: true }]);
    const open = await pool.query(
      'SELECT count(*)::int AS n FROM device_site_assignments WHERE device_id = $1 AND valid_to IS NULL',
      ['x1'],
    );
    expect(open.rows[0].n).toBe(0);
  });

  it('a move closes the old period and opens the new one at the change time', async () => {
    await freshSchema();
    const row = { device_id: 'm1', product: 'p1', site: 'A' };
    const move = T0 + 12 * 3_600_000;
    await apply(
      asRawRecords([
        dmsData('iot', 'devices', 'insert', row, T0),
        dmsData('iot', 'devices', 'update', { ...row, site: 'B' }, move),
      ]),
    );
    const periods = await pool.query<{ site_id: string; valid_from: Date; valid_to: Date | null }>(
      'SELECT site_id, valid_from, valid_to FROM device_site_assignments WHERE device_id = $1 ORDER BY valid_from',
      ['m1'],
    );
    expect(
      periods.rows.map((p) => [p.site_id, p.valid_from.getTime(), p.valid_to?.getTime() ?? null]),
    ).toEqual([
      ['A', T0, move],
      ['B', move, null],
    ]);
  });

  it('the CDC topology applies a stream page and dead-letters what is not CDC', async () => {
    await freshSchema();
    const builder = new TopologyBuilder('masterdata');
    const cdc = addCdcBranch(
      builder,
      {
        source: new MemorySource<RawRecord>(),
        decode: cdcDecode(CDC_MAPPINGS),
        apply: masterDataApplySink(client),
      },
      () => deadLetterStoreSink(postgresDeadLetterStore(client)),
    );
    const driver = new TopologyTestDriver(builder.build(), { sinks: 'tap' });
    const records = asRawRecords(
      [
        dmsData('crm', 'customers', 'insert', { id: 'c9', name: 'Nine' }, T0),
        { not: 'a change' },
        dmsData('iot', 'devices', 'insert', { device_id: 't1', product: 'p1', site: 's1' }, T0),
      ],
      'shardId-000000000001',
    );
    driver.send(cdc.records, 'shardId-000000000001', records);
    await driver.settle();
    await driver.close();
    expect(driver.output(cdc.applied).map((c) => c.kind === 'change' && `${c.entity}:${c.key}`)).toEqual([
      'customer:c9',
      'device:t1',
      'device-assignment:t1',
    ]);
    const stored = await pool.query(
      "SELECT (SELECT name FROM customers WHERE customer_id = 'c9') AS name, (SELECT site_id FROM device_site_assignments WHERE device_id = 't1') AS site, (SELECT code FROM dead_letters WHERE node = 'cdc-decode') AS code",
    );
    expect(stored.rows).toEqual([{ name: 'Nine', site: 's1', code: 'cdc-invalid' }]);
  });
});
