/**
 * Enrich against master data in a real PostgreSQL, kept by the CDC applier: readings on either side
 * of a mid-day move count for the right customer; two workers, each with its own cache and
 * invalidation subscription, see a committed CDC update within 1 s; unknown devices follow the
 * configured policy.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cdcDecode } from '../../operators/cdc/cdcDecode.ts';
import type { MasterDataChange } from '../../operators/cdc/change.ts';
import { type EnrichOperator, enrich, enrichConfigSchema } from '../../operators/enrich.ts';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { pgSqlClient, type SqlClient } from '../../sinks/postgres/sql.ts';
import { openWarmStore, type PgEndpoint, warmStoreConfigSchema } from '../../sinks/postgres/store.ts';
import { masterDataApplySink } from '../../sinks/warm/masterdata/applier.ts';
import { pgDeviceDirectory } from '../../sinks/warm/masterdata/deviceDirectory.ts';
import { type PgInvalidationFeed, pgInvalidationFeed } from '../../sinks/warm/masterdata/invalidationFeed.ts';
import {
  type DeadLetter,
  type Enriched,
  type OperatorContext,
  silentLogger,
  systemClock,
  type Telemetry,
} from '../../topology/index.ts';
import { CDC_MAPPINGS } from '../support/cdcMappings.ts';
import { asRawRecords, dmsData, mongoChange } from '../support/dms.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { reading } from '../support/records.ts';
import { waitFor } from '../support/wait.ts';

const HOUR = 3_600_000;
const DAY = Date.UTC(2026, 10, 4);

function context(dead: DeadLetter[] = []): OperatorContext<{ dlq: DeadLetter }> {
  return {
    node: 'enrich',
    shardId: 's0',
    position: { sequenceNumber: '1', subSequenceNumber: 0 },
    clock: systemClock,
    side: (_p, d) => void dead.push(d),
  };
}

describe('enrich on CDC-maintained master data', () => {
  let db: TestDatabase;
  let write: SqlClient;
  let read: SqlClient;
  // where each worker's invalidation feed LISTENs: the write endpoint, as the Warm store reaches it
  let listenOn: PgEndpoint;
  let sequence = 1n;
  const feeds: PgInvalidationFeed[] = [];
  const operators: EnrichOperator[] = [];

  async function applyCdc(docs: object[]): Promise<void> {
    const records = asRawRecords(docs, 'shardId-000000000000', sequence);
    sequence += BigInt(docs.length);
    const dead: DeadLetter[] = [];
    const changes = cdcDecode(CDC_MAPPINGS).process(records, {
      ...context(dead),
      node: 'cdc-decode',
    }) as MasterDataChange[];
    expect(dead).toEqual([]);
    await masterDataApplySink(write).write(changes, {
      node: 'masterdata-apply',
      shardId: 'shardId-000000000000',
      position: { sequenceNumber: records.at(-1)!.sequenceNumber, subSequenceNumber: 0 },
      clock: systemClock,
    });
  }

  async function worker(over: Record<string, unknown> = {}): Promise<EnrichOperator> {
    const feed = pgInvalidationFeed(listenOn, { clock: systemClock, log: silentLogger });
    feeds.push(feed);
    const op = enrich(enrichConfigSchema.parse(over), pgDeviceDirectory(read), feed);
    operators.push(op);
    await op.open?.({ node: 'enrich', clock: systemClock, signal: new AbortController().signal });
    await feed.ready();
    return op;
  }

  const run = async (op: EnrichOperator, batch: Telemetry[], dead?: DeadLetter[]) =>
    (await op.process(batch, context(dead))) as Enriched[];

  beforeAll(async () => {
    db = await createTestDatabase('enrich');
    write = pgSqlClient(new pg.Pool({ connectionString: db.url, max: 2 }));
    // the read endpoint: its own pool (the same server locally)
    read = pgSqlClient(new pg.Pool({ connectionString: db.url, max: 2 }));
    listenOn = openWarmStore(warmStoreConfigSchema.parse({ writeUrl: db.url })).writeEndpoint!;
    await migrateWarm(write);
    const t = DAY / 1000 - 86_400;
    await applyCdc([
      dmsData('crm', 'customers', 'load', { id: 'X', name: 'Xylo' }, DAY - HOUR),
      dmsData('crm', 'customers', 'load', { id: 'Y', name: 'Yarrow' }, DAY - HOUR),
      mongoChange('fm', 'sites', 'insert', 'A', { t, i: 1 }, { fullDocument: { owner: 'X' } }),
      mongoChange('fm', 'sites', 'insert', 'B', { t, i: 2 }, { fullDocument: { owner: 'Y' } }),
      dmsData('iot', 'devices', 'load', { device_id: 'mover', product: 'thermo-t1', site: 'A' }, DAY - HOUR),
      dmsData('iot', 'devices', 'load', { device_id: 'stayer', product: 'thermo-t1', site: 'A' }, DAY - HOUR),
    ]);
  });

  afterAll(async () => {
    for (const op of operators) await op.close?.();
    for (const feed of feeds) await feed.close();
    await write?.close();
    await read?.close();
    await db?.drop();
  });

  it('a mid-day move: readings before it count for the old customer, after it for the new one', async () => {
    await applyCdc([
      dmsData(
        'iot',
        'devices',
        'update',
        { device_id: 'mover', product: 'thermo-t1', site: 'B' },
        DAY + 12 * HOUR + 30 * 60_000,
      ),
    ]);
    const op = await worker();
    // one reading every 10 minutes through the day, for both devices, in one batch
    const batch: Telemetry[] = [];
    for (let m = 0; m < 24 * 60; m += 10) {
      batch.push(reading('mover', DAY + m * 60_000));
      batch.push(reading('stayer', DAY + m * 60_000));
    }
    const out = await run(op, batch);
    const perCustomer = new Map<string, number>();
    for (const r of out)
      perCustomer.set(
        `${r.device_id}:${r.customer_id}`,
        (perCustomer.get(`${r.device_id}:${r.customer_id}`) ?? 0) + 1,
      );
    // 12:30 is reading 75 of 144: 75 before the move, 69 from it on
    expect(Object.fromEntries(perCustomer)).toEqual({ 'mover:X': 75, 'mover:Y': 69, 'stayer:X': 144 });
    expect(op.stats().lookups).toBe(1);
  });

  it('two workers see a committed CDC update within 1 s', async () => {
    const workers = [await worker(), await worker()];
    const now = Date.now();
    // the device has been at A since yesterday; both workers cache it
    for (const w of workers) expect((await run(w, [reading('stayer', now)]))[0]!.site_id).toBe('A');
    const lookupsBefore = workers.map((w) => w.stats().lookups);

    await applyCdc([
      dmsData(
        'iot',
        'devices',
        'update',
        { device_id: 'stayer', product: 'thermo-t1', site: 'B' },
        now - 1000,
      ),
    ]);
    const committed = performance.now();
    const seenAt: number[] = [];
    await waitFor(
      'both workers to enrich with the new site',
      async () => {
        for (const [i, w] of workers.entries()) {
          if (seenAt[i] !== undefined) continue;
          if ((await run(w, [reading('stayer', now)]))[0]!.site_id === 'B')
            seenAt[i] = performance.now() - committed;
        }
        return seenAt.filter((s) => s !== undefined).length === workers.length;
      },
      10_000,
    );
    // the acceptance: visible on every worker within 1 s of the commit
    expect(Math.max(...seenAt)).toBeLessThanOrEqual(1000);
    // through the invalidation (one new lookup each), not a TTL
    expect(workers.map((w) => w.stats().lookups)).toEqual(lookupsBefore.map((n) => n + 1));
  });

  it('unknown devices: counted and passed, dead-lettered, or held until CDC brings them', async () => {
    const passing = await worker({ unknownDevice: 'pass' });
    const out = await run(passing, [reading('ghost', DAY), reading('mover', DAY)]);
    expect(out.map((r) => r.customer_id)).toEqual([null, 'X']);
    expect(passing.stats().unknownRecords).toBe(1);

    const dead: DeadLetter[] = [];
    const strict = await worker({ unknownDevice: 'dead-letter' });
    expect((await run(strict, [reading('ghost', DAY, 7)], dead)).length).toBe(0);
    expect(dead.map((d) => [d.code, d.sequenceNumber])).toEqual([['unknown-device', '7']]);

    const holding = await worker({ unknownDevice: 'hold', holdMs: 10_000, retryIntervalMs: 100 });
    const held = run(holding, [reading('newcomer', DAY + HOUR)]);
    await new Promise((r) => setTimeout(r, 300));
    await applyCdc([
      dmsData('iot', 'devices', 'insert', { device_id: 'newcomer', product: 'thermo-t1', site: 'B' }, DAY),
    ]);
    expect((await held).map((r) => r.customer_id)).toEqual(['Y']);
    expect(holding.stats()).toMatchObject({ heldBatches: 1, unknownRecords: 0 });
  });
});
