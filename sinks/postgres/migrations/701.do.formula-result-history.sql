-- The lineage of formula results: every result a formula version gave for a target and day, one row
-- per input revision, append-only. `formula_results` holds the current one (the highest input
-- revision); a late reading adds a row here with its higher revision, and a replay adds none (the same
-- revisions: ON CONFLICT DO NOTHING).
CREATE TABLE IF NOT EXISTS formula_result_history (
  formula_id     text             NOT NULL,
  version        integer          NOT NULL,
  product_id     text             NOT NULL,
  customer_key   text             NOT NULL,
  customer_id    text,
  device_key     text             NOT NULL,
  device_id      text,
  day_start      timestamptz      NOT NULL,
  input_revision bigint           NOT NULL,
  value          double precision,
  reason         text,
  unit           text,
  computed_at    timestamptz      NOT NULL DEFAULT now(),
  PRIMARY KEY (formula_id, version, product_id, customer_key, device_key, day_start, input_revision),
  CHECK ((value IS NULL) = (reason IS NOT NULL))
);
