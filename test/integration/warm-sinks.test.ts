/**
 * The Warm sinks against a real PostgreSQL server and against embedded PGlite: one suite, both
 * adapters of `SqlClient`, so the demo's store behaves as production's does.
 */
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadLetterSink } from '../../sinks/warm/deadLetterSink.ts';
import { hourlyCountSink } from '../../sinks/warm/hourlyCountSink.ts';
import { migrateWarm } from '../../sinks/warm/migrate.ts';
import { readProductHourlyCounts } from '../../sinks/warm/schema.ts';
import { pgliteSqlClient, pgSqlClient, type SqlClient } from '../../sinks/warm/sql.ts';
import { type BatchContext, type DeadLetter, ManualClock } from '../../topology/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';

const HOUR = 3_600_000;
const at = (shardId: string, sequenceNumber: string): BatchContext => ({
  node: 'hourly-counts',
  shardId,
  position: { sequenceNumber, subSequenceNumber: 0 },
  clock: new ManualClock(),
});

const adapters: Array<[string, () => Promise<{ client: SqlClient; cleanup: () => Promise<void> }>]> = [
  [
    'postgresql',
    async () => {
      const db: TestDatabase = await createTestDatabase('warm');
      const client = pgSqlClient(new pg.Pool({ connectionString: db.url, max: 2 }));
      return {
        client,
        cleanup: async () => {
          await client.close();
          await db.drop();
        },
      };
    },
  ],
  [
    'pglite',
    async () => {
      const client = pgliteSqlClient(await PGlite.create());
      return { client, cleanup: () => client.close() };
    },
  ],
];

describe.each(adapters)('Warm sinks on %s', (_name, open) => {
  let client: SqlClient;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ client, cleanup } = await open());
    const [first, second] = await Promise.all([migrateWarm(client), migrateWarm(client)]);
    // Two workers starting together: one applies the migrations, the other finds nothing to do.
    expect([first.applied.length > 0, second.applied.length > 0].sort()).toEqual([false, true]);
    expect((await migrateWarm(client)).applied).toEqual([]);
  });
  afterAll(() => cleanup());

  it('records each applied migration with its checksum', async () => {
    const { rows } = await client.query<{ version: string; name: string; md5: string }>(
      'SELECT version::text AS version, name, md5 FROM schema_migrations WHERE version > 0 ORDER BY version',
    );
    expect(rows[0]).toMatchObject({ version: '1', name: 'first-slice' });
    expect(rows.every((r) => /^[0-9a-f]{32}$/.test(r.md5))).toBe(true);
  });

  it('adds hourly count partials with one upsert per batch, per product and hour', async () => {
    const sink = hourlyCountSink(client);
    await sink.write(
      [
        { productId: 'a', hourStart: 10 * HOUR, count: 3 },
        { productId: 'b', hourStart: 10 * HOUR, count: 1 },
        { productId: 'a', hourStart: 10 * HOUR, count: 2 },
      ],
      at('shard-1', '100'),
    );
    await sink.write([{ productId: 'a', hourStart: 10 * HOUR, count: 4 }], at('shard-2', '5'));
    const rows = await readProductHourlyCounts(client);
    expect(rows.map((r) => [r.productId, r.hourStart.getTime(), r.count])).toEqual([
      ['a', 10 * HOUR, 9],
      ['b', 10 * HOUR, 1],
    ]);
  });

  it('changes nothing when a batch at or below the shard’s applied position is replayed', async () => {
    const sink = hourlyCountSink(client);
    const before = await readProductHourlyCounts(client);
    await sink.write([{ productId: 'a', hourStart: 10 * HOUR, count: 100 }], at('shard-1', '100'));
    await sink.write([{ productId: 'a', hourStart: 10 * HOUR, count: 100 }], at('shard-1', '99'));
    expect(await readProductHourlyCounts(client)).toEqual(before);
    // a 56-digit Kinesis sequence number beyond the last one is applied
    await sink.write([{ productId: 'c', hourStart: 11 * HOUR, count: 1 }], at('shard-1', '4'.repeat(56)));
    expect((await readProductHourlyCounts(client)).find((r) => r.productId === 'c')?.count).toBe(1);
    // within one KPL aggregate, a later user record (sub-sequence) is beyond, the same one is not
    const sub = (subSequenceNumber: number): BatchContext => ({
      ...at('shard-1', '4'.repeat(56)),
      position: { sequenceNumber: '4'.repeat(56), subSequenceNumber },
    });
    await sink.write([{ productId: 'c', hourStart: 11 * HOUR, count: 1 }], sub(3));
    await sink.write([{ productId: 'c', hourStart: 11 * HOUR, count: 1 }], sub(3));
    await sink.write([{ productId: 'c', hourStart: 11 * HOUR, count: 1 }], sub(2));
    expect((await readProductHourlyCounts(client)).find((r) => r.productId === 'c')?.count).toBe(2);
  });

  it('keeps dead letters with their bytes and reason, once per stream position and node', async () => {
    const sink = deadLetterSink(client);
    const letter: DeadLetter = {
      node: 'parse-envelope',
      reason: 'envelope is not JSON',
      stream: 'telemetry',
      shardId: 'shard-1',
      sequenceNumber: '42',
      payloadBase64: Buffer.from('not json').toString('base64'),
      failedAt: 1_700_000_000_000,
    };
    await sink.write([letter, { ...letter, sequenceNumber: '43' }], at('shard-1', '43'));
    await sink.write([letter], at('shard-1', '43'));
    const { rows } = await client.query<{ sequence_number: string; reason: string; payload: Uint8Array }>(
      'SELECT sequence_number, reason, payload FROM dead_letters ORDER BY sequence_number',
    );
    expect(rows.map((r) => r.sequence_number)).toEqual(['42', '43']);
    expect(rows[0]!.reason).toBe('envelope is not JSON');
    expect(Buffer.from(rows[0]!.payload).toString()).toBe('not json');
  });

  it('keeps each refused record of one raw record (hub children) apart by item, once each', async () => {
    const sink = deadLetterSink(client);
    const child = (item: string): DeadLetter => ({
      node: 'late-records',
      reason: 'too late',
      code: 'too-late',
      stream: 'telemetry',
      shardId: 'shard-2',
      sequenceNumber: '77',
      subSequenceNumber: 3,
      item,
      payloadBase64: Buffer.from(item).toString('base64'),
      failedAt: 1_700_000_000_000,
    });
    const children = [child('hub-1-c1@1700000000000'), child('hub-1-c2@1700000000000')];
    await sink.write(children, at('shard-2', '77'));
    await sink.write(children, at('shard-2', '77'));
    const { rows } = await client.query<{ item: string }>(
      "SELECT item FROM dead_letters WHERE shard_id = 'shard-2' ORDER BY item",
    );
    expect(rows.map((r) => r.item)).toEqual(['hub-1-c1@1700000000000', 'hub-1-c2@1700000000000']);
  });
});
