-- Formulas (`shardflow formulas import`): one row per (formula, version), its definition as
-- authored (JSON of the YAML entry), never changed once written but for its status. Results: one row
-- per formula version, target and day; a row is replaced only by a result from a higher input
-- revision (more data), so a replay changes nothing and an old version's rows stay.
CREATE TABLE IF NOT EXISTS formulas (
  formula_id     text        NOT NULL,
  version        integer     NOT NULL CHECK (version >= 1),
  product_id     text        NOT NULL,
  scope          text        NOT NULL CHECK (scope IN ('product', 'customer', 'device')),
  targets        text[]      NOT NULL,
  status         text        NOT NULL CHECK (status IN ('draft', 'active', 'retired')),
  effective_from timestamptz NOT NULL,
  definition     jsonb       NOT NULL,
  imported_at    timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (formula_id, version)
);
CREATE INDEX IF NOT EXISTS formulas_product ON formulas (product_id);

-- `customer_key` and `device_key` are '' where the result has no customer (devices unknown to the
-- master data; device-scoped results) or no device (customer x product results): key columns cannot
-- be NULL; `customer_id` and `device_id` keep the NULLs for readers. `value` is NULL exactly when the
-- formula gave no result, and `reason` says why.
CREATE TABLE IF NOT EXISTS formula_results (
  formula_id     text             NOT NULL,
  version        integer          NOT NULL,
  product_id     text             NOT NULL,
  customer_key   text             NOT NULL,
  customer_id    text,
  device_key     text             NOT NULL,
  device_id      text,
  day_start      timestamptz      NOT NULL,
  value          double precision,
  reason         text,
  unit           text,
  input_revision bigint           NOT NULL,
  computed_at    timestamptz      NOT NULL DEFAULT now(),
  PRIMARY KEY (formula_id, version, product_id, customer_key, device_key, day_start),
  CHECK ((value IS NULL) = (reason IS NOT NULL))
);
CREATE INDEX IF NOT EXISTS formula_results_day ON formula_results (product_id, day_start);
