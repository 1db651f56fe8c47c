-- Technician dispatch (actions/dispatch/). Engineers come from `shardflow dispatch engineers import`
-- (upserted by id, never deleted: a dispatch keeps its engineer; `active = false` retires one).
-- `quiet_from` / `quiet_to` are local 'HH:MM' times in `zone`, both or neither.
CREATE TABLE IF NOT EXISTS engineers (
  engineer_id text        PRIMARY KEY,
  name        text        NOT NULL,
  email       text        NOT NULL,
  skills      text[]      NOT NULL DEFAULT '{}',
  regions     text[]      NOT NULL DEFAULT '{}',
  zone        text        NOT NULL,
  quiet_from  text        CHECK (quiet_from ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
  quiet_to    text        CHECK (quiet_to ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
  active      boolean     NOT NULL DEFAULT true,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CHECK ((quiet_from IS NULL) = (quiet_to IS NULL))
);

-- The region of each site; an import replaces the sites of the regions it lists. A site with no row
-- is covered only by engineers whose regions include '*'.
CREATE TABLE IF NOT EXISTS site_regions (
  site_id text PRIMARY KEY,
  region  text NOT NULL
);
CREATE INDEX IF NOT EXISTS site_regions_region ON site_regions (region);

-- One dispatch per alarm episode at most (`dispatch_id` is derived from the episode id). A NULL
-- `engineer_id` with status 'assigned' means waiting for an engineer: none matched when it opened.
CREATE TABLE IF NOT EXISTS dispatches (
  dispatch_id text        PRIMARY KEY,
  episode_id  text        NOT NULL UNIQUE,
  product_id  text,
  customer_id text,
  site_id     text,
  device_id   text,
  skills      text[]      NOT NULL DEFAULT '{}',
  priority    text        NOT NULL CHECK (priority IN ('low', 'normal', 'high')),
  reason      text        NOT NULL,
  engineer_id text        REFERENCES engineers (engineer_id),
  status      text        NOT NULL
    CHECK (status IN ('assigned', 'accepted', 'en_route', 'on_site', 'resolved', 'cancelled')),
  created_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL
);
-- An engineer's load (open dispatches) is counted at every assignment.
CREATE INDEX IF NOT EXISTS dispatches_open_by_engineer ON dispatches (engineer_id)
  WHERE status NOT IN ('resolved', 'cancelled');
CREATE INDEX IF NOT EXISTS dispatches_customer ON dispatches (customer_id);

-- Every change of a dispatch, append-only, numbered from 1 (the opening).
CREATE TABLE IF NOT EXISTS dispatch_history (
  dispatch_id text        NOT NULL REFERENCES dispatches (dispatch_id),
  seq         integer     NOT NULL CHECK (seq >= 1),
  status      text        NOT NULL,
  engineer_id text,
  at          timestamptz NOT NULL,
  actor       text        NOT NULL,
  note        text,
  PRIMARY KEY (dispatch_id, seq)
);
