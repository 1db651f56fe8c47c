-- Response-policy sets (`shardflow responses import`, `actions/policies/`): one row per (set,
-- version), the YAML as authored, never changed once written. A product has one set; which version
-- is in force is the newest stored one that passes its checks on the worker.
CREATE TABLE IF NOT EXISTS response_policy_sets (
  policy_set_id text        NOT NULL,
  version       integer     NOT NULL CHECK (version >= 1),
  product_id    text        NOT NULL,
  source        text        NOT NULL,
  imported_at   timestamptz NOT NULL DEFAULT now(),
  imported_by   text,
  PRIMARY KEY (policy_set_id, version)
);
CREATE INDEX IF NOT EXISTS response_policy_sets_product ON response_policy_sets (product_id, version DESC);
