-- Product rulesets, versioned: the YAML as authored (`shardflow rules import`), one row per
-- (ruleset, version), never changed once written. Overrides per customer, site and device belong to
-- the ruleset, not to one version: the ones stored apply to whichever version is in force.
CREATE TABLE IF NOT EXISTS rulesets (
  ruleset_id  text        NOT NULL,
  version     integer     NOT NULL CHECK (version >= 1),
  product_id  text        NOT NULL,
  source      text        NOT NULL,
  imported_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (ruleset_id, version)
);
CREATE INDEX IF NOT EXISTS rulesets_product ON rulesets (product_id, version DESC);

CREATE TABLE IF NOT EXISTS ruleset_overrides (
  ruleset_id  text        NOT NULL,
  target_kind text        NOT NULL CHECK (target_kind IN ('customer', 'site', 'device')),
  target_id   text        NOT NULL,
  position    integer     NOT NULL,
  rules       jsonb       NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (ruleset_id, target_kind, target_id)
);
