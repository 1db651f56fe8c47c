/**
 * The Warm tables of the first slice. Statements are idempotent (`IF NOT EXISTS`) and run at start;
 * versioned migrations with a migration tool arrive with the full Warm store.
 */
import type { SqlClient } from './sql.ts';

const STATEMENTS = [
  `CREATE TABLE IF NOT EXISTS product_hourly_counts (
     product_id   text        NOT NULL,
     hour_start   timestamptz NOT NULL,
     record_count bigint      NOT NULL,
     updated_at   timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (product_id, hour_start)
   )`,
  // Per sink and shard, the last source position applied in the same transaction as the data:
  // a replayed batch at or below it is skipped.
  `CREATE TABLE IF NOT EXISTS sink_progress (
     sink                text          NOT NULL,
     shard_id            text          NOT NULL,
     sequence_number     numeric       NOT NULL,
     sub_sequence_number integer       NOT NULL,
     updated_at          timestamptz   NOT NULL DEFAULT now(),
     PRIMARY KEY (sink, shard_id)
   )`,
  `CREATE TABLE IF NOT EXISTS dead_letters (
     id                  bigserial   PRIMARY KEY,
     node                text        NOT NULL,
     reason              text        NOT NULL,
     stream              text        NOT NULL,
     shard_id            text        NOT NULL,
     sequence_number     text        NOT NULL,
     sub_sequence_number integer     NOT NULL DEFAULT 0,
     payload             bytea       NOT NULL,
     failed_at           timestamptz NOT NULL,
     UNIQUE (stream, shard_id, sequence_number, sub_sequence_number, node)
   )`,
  // the decode stage's reason code and the spec it applied (added after the first slice)
  'ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS code text',
  'ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS spec_id text',
  'ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS spec_version integer',
  'CREATE INDEX IF NOT EXISTS dead_letters_code ON dead_letters (code, failed_at)',
  // when `shardflow dlq replay` put the record back on the stream; a replay skips such rows
  'ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS replayed_at timestamptz',
];

/** Creates the Warm tables that do not exist yet. */
export async function ensureWarmSchema(client: SqlClient): Promise<void> {
  for (const statement of STATEMENTS) await client.query(statement);
}

/** One row of `product_hourly_counts`. */
export interface ProductHourlyCountRow {
  readonly productId: string;
  readonly hourStart: Date;
  readonly count: number;
}

/** Reads the hourly counts, oldest hour first. */
export async function readProductHourlyCounts(client: SqlClient): Promise<ProductHourlyCountRow[]> {
  const { rows } = await client.query<{
    product_id: string;
    hour_start: Date;
    record_count: string | number;
  }>(
    'SELECT product_id, hour_start, record_count FROM product_hourly_counts ORDER BY hour_start, product_id',
  );
  return rows.map((r) => ({
    productId: r.product_id,
    hourStart: new Date(r.hour_start),
    count: Number(r.record_count),
  }));
}
