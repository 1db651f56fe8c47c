-- The Hot store on PostgreSQL (local runs and the embedded demo; production's Hot store is
-- DocumentDB). Recent joined telemetry is partitioned by UTC day of `device_timestamp`: the store
-- creates each day's partition before its first write and enforces retention by dropping whole
-- partitions. The key is the record's natural key, so a replay rewrites the same rows.
CREATE TABLE IF NOT EXISTS hot_telemetry (
  device_id           text        NOT NULL,
  device_timestamp    timestamptz NOT NULL,
  stream              text        NOT NULL,
  shard_id            text        NOT NULL,
  sequence_number     text        NOT NULL,
  sub_sequence_number integer     NOT NULL,
  product_id          text        NOT NULL,
  site_id             text,
  customer_id         text,
  hub_id              text,
  hub_timestamp       timestamptz,
  child_device_id     text,
  ingest_timestamp    timestamptz NOT NULL,
  metrics             jsonb       NOT NULL,
  raw_ref             jsonb       NOT NULL,
  PRIMARY KEY (device_id, device_timestamp, stream, shard_id, sequence_number, sub_sequence_number)
) PARTITION BY RANGE (device_timestamp);
CREATE INDEX IF NOT EXISTS hot_telemetry_product ON hot_telemetry (product_id, device_timestamp);

-- Each device's latest record; an upsert moves it only forward in device time.
CREATE TABLE IF NOT EXISTS hot_device_state (
  device_id           text        PRIMARY KEY,
  product_id          text        NOT NULL,
  device_timestamp    timestamptz NOT NULL,
  site_id             text,
  customer_id         text,
  metrics             jsonb       NOT NULL,
  stream              text        NOT NULL,
  shard_id            text        NOT NULL,
  sequence_number     text        NOT NULL,
  sub_sequence_number integer     NOT NULL,
  updated_at          timestamptz NOT NULL DEFAULT now()
);

-- Product and device 1 h / 6 h / 1 day window aggregates, highest revision kept. `key` is the
-- product id (scope product) or the device id (scope device).
CREATE TABLE IF NOT EXISTS hot_aggregates (
  scope        text             NOT NULL,
  key          text             NOT NULL,
  metric       text             NOT NULL,
  window_size  text             NOT NULL,
  window_start timestamptz      NOT NULL,
  window_end   timestamptz      NOT NULL,
  product_id   text             NOT NULL,
  device_id    text,
  revision     integer          NOT NULL,
  final        boolean          NOT NULL,
  count        bigint           NOT NULL,
  sum          double precision NOT NULL,
  min          double precision NOT NULL,
  max          double precision NOT NULL,
  mean         double precision NOT NULL,
  m2           double precision NOT NULL,
  first        double precision NOT NULL,
  first_at     timestamptz      NOT NULL,
  last         double precision NOT NULL,
  last_at      timestamptz      NOT NULL,
  updated_at   timestamptz      NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, key, metric, window_size, window_start)
);
CREATE INDEX IF NOT EXISTS hot_aggregates_product ON hot_aggregates (product_id, window_size, window_start);
