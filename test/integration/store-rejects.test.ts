/**
 * A real PostgreSQL refusing records for what they hold, under the real sinks: the Hot telemetry sink
 * writes 499 records of a 500-record batch and the runtime dead-letters the one whose device id no
 * index can hold; PostgreSQL's data errors are classified as permanent and its outages are not; and
 * the dead-letter sink stores a letter PostgreSQL refuses (a NUL in its reason) in sanitised form.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadLetterStoreSink } from '../../sinks/deadletter/deadLetterStore.ts';
import { postgresDeadLetterStore } from '../../sinks/deadletter/postgresDeadLetterStore.ts';
import { hotTelemetrySink } from '../../sinks/hot/hotTelemetrySink.ts';
import { postgresHotStore } from '../../sinks/hot/postgresHotStore.ts';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { pgSqlClient, type SqlClient } from '../../sinks/postgres/sql.ts';
import {
  type DeadLetter,
  type Enriched,
  isPermanent,
  ManualClock,
  MemorySource,
  type RecordRejectedError,
  TopologyBuilder,
  TopologyTestDriver,
} from '../../topology/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { enriched } from '../support/records.ts';
import { waitFor } from '../support/wait.ts';

/** 10,000 characters that do not compress: PostgreSQL cannot fit them in a btree row (2,704 bytes). */
function incompressibleId(): string {
  let id = '';
  for (let i = 0; id.length < 10_000; i++) id += createHash('sha256').update(String(i)).digest('base64');
  return id.slice(0, 10_000);
}

describe('stores refusing records', () => {
  let db: TestDatabase;
  let client: SqlClient;
  beforeAll(async () => {
    db = await createTestDatabase('rejects');
    client = pgSqlClient(new pg.Pool({ connectionString: db.url, max: 2 }));
    await migrateWarm(client);
  });
  afterAll(async () => {
    await client.close();
    await db.drop();
  });

  it('writes 499 of 500 records and dead-letters the one PostgreSQL refuses', async () => {
    const at = Date.now() - 60_000;
    const batch: Enriched[] = Array.from({ length: 500 }, (_, i) =>
      enriched(i === 137 ? incompressibleId() : `device-${i}`, at + i, i, { temperature: i }),
    );
    const b = new TopologyBuilder('rejects');
    const input = b.source('input', new MemorySource<Enriched>());
    const hot = input.to(
      'hot-telemetry',
      hotTelemetrySink(postgresHotStore({ write: client, read: client }, { retentionDays: 10 })),
    );
    const rejected = hot
      .rejected()
      .to('hot-telemetry-rejected', deadLetterStoreSink(postgresDeadLetterStore(client)));
    const driver = new TopologyTestDriver(b.build(), { sinks: 'tap' });
    const position = driver.send(input, 'shardId-000000000000', batch);
    // real round trips: settle() counts microtask turns, so wait for the checkpoint instead
    await waitFor(
      'the batch checkpointed',
      async () => driver.checkpoints(input, 'shardId-000000000000').length === 1,
    );

    const rows = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM hot_telemetry');
    expect(rows.rows[0]!.n).toBe(499);
    const letters = driver.output(rejected);
    expect(letters).toHaveLength(1);
    const stored = await client.query<{
      node: string;
      code: string;
      reason: string;
      sequence_number: string;
      payload: Buffer;
    }>('SELECT node, code, reason, sequence_number, payload FROM dead_letters');
    expect(stored.rows).toHaveLength(1);
    const [letter] = stored.rows;
    expect(letter).toMatchObject({
      node: 'hot-telemetry',
      code: 'store-rejected',
      sequence_number: batch[137]!.rawRef.sequenceNumber,
    });
    // the store, its code (program limit exceeded) and its message
    expect(letter!.reason).toMatch(/^postgresql 54000: index row requires/);
    expect(JSON.parse(letter!.payload.toString('utf8')).device_id).toBe(batch[137]!.device_id);
    expect(driver.checkpoints(input, 'shardId-000000000000')).toEqual([position]);
    expect(driver.metrics().nodes.find((n) => n.node === 'hot-telemetry')?.isolated).toEqual({ '54000': 1 });

    // replaying the batch changes nothing: the same 499 rows, the same one dead letter
    driver.send(input, 'shardId-000000000000', batch);
    await waitFor(
      'the replay checkpointed',
      async () => driver.checkpoints(input, 'shardId-000000000000').length === 2,
    );
    expect(
      (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM hot_telemetry')).rows[0]!.n,
    ).toBe(499);
    expect(
      (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM dead_letters')).rows[0]!.n,
    ).toBe(1);
    await driver.close();
  });

  it('classifies data errors as permanent and a lost server as transient', async () => {
    const nul = await client.query('SELECT $1::text', ['a\u0000b']).catch((e: unknown) => e);
    expect(isPermanent(nul)).toBe(true);
    expect((nul as RecordRejectedError).rejection).toMatchObject({ store: 'postgresql', code: '22021' });
    const range = await client.query('SELECT $1::int', ['99999999999']).catch((e: unknown) => e);
    expect((range as RecordRejectedError).rejection.code).toBe('22003');
    const notNull = await client
      .query(
        "INSERT INTO dead_letters (node, reason, stream, shard_id, sequence_number, payload, failed_at) VALUES ('n', NULL, 's', 'x', '1', '', now())",
      )
      .catch((e: unknown) => e);
    expect((notNull as RecordRejectedError).rejection).toMatchObject({ code: '23502', constraint: 'reason' });
    // a bug in shardflow's own SQL is not the data's fault: retried (and reported stuck), never isolated
    expect(isPermanent(await client.query('SELECT * FROM no_such_table').catch((e: unknown) => e))).toBe(
      false,
    );
    const closed = pgSqlClient(
      new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/x', connectionTimeoutMillis: 500 }),
    );
    expect(isPermanent(await closed.query('SELECT 1').catch((e: unknown) => e))).toBe(false);
    await closed.close();
  });

  it('stores a dead letter PostgreSQL refuses in sanitised form, keeping its bytes and position', async () => {
    const sink = deadLetterStoreSink(postgresDeadLetterStore(client));
    const letter: DeadLetter = {
      node: 'enrich',
      reason: 'device "a\u0000b" is unknown',
      code: 'unknown-device',
      stream: 'telemetry',
      shardId: 'shardId-000000000007',
      sequenceNumber: '777',
      payloadBase64: Buffer.from([0, 1, 2, 255]).toString('base64'),
      failedAt: Date.now(),
    };
    const ctx = {
      node: 'dl',
      shardId: 'shardId-000000000007',
      position: { sequenceNumber: '777', subSequenceNumber: 0 },
      clock: new ManualClock(0),
    };
    await sink.write([letter], ctx);
    await sink.write([letter], ctx); // a replay stores it once
    const { rows } = await client.query<{ reason: string; payload: Buffer }>(
      "SELECT reason, payload FROM dead_letters WHERE shard_id = 'shardId-000000000007'",
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.reason).toBe(
      'device "a\ufffdb" is unknown [text sanitised: the store refused the dead letter as it was]',
    );
    expect([...rows[0]!.payload]).toEqual([0, 1, 2, 255]);
  });
});
