-- Alarms. `alarm_events` is the append-only history, keyed by the deterministic event id
-- (`episode id/seq`): a replay inserts nothing new. Each event holds the episode after it (`episode`),
-- so the history alone rebuilds every episode. `alarm_episodes` is each episode's current state,
-- moved only forward by `last_event_seq`, so a replayed clear never undoes a newer event.
CREATE TABLE IF NOT EXISTS alarm_events (
  event_id    text        PRIMARY KEY,
  episode_id  text        NOT NULL,
  seq         integer     NOT NULL,
  kind        text        NOT NULL,
  event_at    timestamptz NOT NULL,
  actor       text,
  note        text,
  notify      boolean     NOT NULL,
  suppressed  boolean     NOT NULL,
  episode     jsonb       NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (episode_id, seq)
);

CREATE TABLE IF NOT EXISTS alarm_episodes (
  episode_id      text             PRIMARY KEY,
  rule_id         text             NOT NULL,
  ruleset_version integer          NOT NULL,
  target_kind     text             NOT NULL,
  target_id       text             NOT NULL,
  product_id      text,
  customer_id     text,
  site_id         text,
  device_id       text,
  severity        text             NOT NULL,
  severity_rank   smallint         NOT NULL,
  status          text             NOT NULL,
  acknowledged    boolean          NOT NULL,
  latched         boolean          NOT NULL,
  assignee        text,
  shelved_until   timestamptz,
  flapping        boolean          NOT NULL,
  value           double precision,
  message         text             NOT NULL,
  opened_at       timestamptz      NOT NULL,
  cleared_at      timestamptz,
  closed_at       timestamptz,
  last_event_seq  integer          NOT NULL,
  updated_at      timestamptz      NOT NULL
);
CREATE INDEX IF NOT EXISTS alarm_episodes_open ON alarm_episodes (customer_id, severity_rank, opened_at)
  WHERE closed_at IS NULL;
CREATE INDEX IF NOT EXISTS alarm_episodes_rule_target ON alarm_episodes (rule_id, target_kind, target_id, opened_at);

-- The Hot store's open alarms in the layout the episodes need (migration 201's table was never
-- written). One row per episode, moved forward by `last_event_seq`; a closed episode keeps its row
-- (with `closed_at`) until the retention, so a replayed older event cannot bring it back.
DROP TABLE IF EXISTS hot_open_alarms;
CREATE TABLE hot_open_alarms (
  episode_id     text             PRIMARY KEY,
  customer_id    text,
  site_id        text,
  device_id      text,
  product_id     text,
  rule_id        text             NOT NULL,
  target_kind    text             NOT NULL,
  target_id      text             NOT NULL,
  severity       text             NOT NULL,
  severity_rank  smallint         NOT NULL,
  status         text             NOT NULL,
  acknowledged   boolean          NOT NULL,
  latched        boolean          NOT NULL,
  assignee       text,
  shelved_until  timestamptz,
  flapping       boolean          NOT NULL,
  value          double precision,
  message        text             NOT NULL,
  opened_at      timestamptz      NOT NULL,
  updated_at     timestamptz      NOT NULL,
  closed_at      timestamptz,
  last_event_seq integer          NOT NULL
);
CREATE INDEX hot_open_alarms_customer ON hot_open_alarms (customer_id, severity_rank, opened_at)
  WHERE closed_at IS NULL;
CREATE INDEX hot_open_alarms_closed ON hot_open_alarms (closed_at) WHERE closed_at IS NOT NULL;
