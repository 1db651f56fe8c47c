-- The first slice's Warm tables: per-product hourly counts, per-sink progress, dead letters.
-- IF NOT EXISTS keeps databases created before versioned migrations working.
CREATE TABLE IF NOT EXISTS product_hourly_counts (
  product_id   text        NOT NULL,
  hour_start   timestamptz NOT NULL,
  record_count bigint      NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (product_id, hour_start)
);

-- Per sink and shard, the last source position applied in the same transaction as the data:
-- a replayed batch at or below it is skipped.
CREATE TABLE IF NOT EXISTS sink_progress (
  sink                text        NOT NULL,
  shard_id            text        NOT NULL,
  sequence_number     numeric     NOT NULL,
  sub_sequence_number integer     NOT NULL,
  updated_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (sink, shard_id)
);

CREATE TABLE IF NOT EXISTS dead_letters (
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
);
-- the decode stage's reason code and the spec it applied
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS code text;
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS spec_id text;
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS spec_version integer;
CREATE INDEX IF NOT EXISTS dead_letters_code ON dead_letters (code, failed_at);
-- when `shardflow dlq replay` put the record back on the stream; a replay skips such rows
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS replayed_at timestamptz;
