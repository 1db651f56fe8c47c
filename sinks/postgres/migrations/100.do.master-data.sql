-- Master data kept current by CDC and file imports: customers, sites, products, devices (hub–child),
-- and the assignment history device → site and site → customer with validity periods.
--
-- Every entity row carries the ordering value of the change that last wrote it (`source_version`,
-- fixed-width digits compared as text): a stale change does not overwrite a newer one. A delete keeps
-- the row as a tombstone (`deleted`), so a late insert of an older version does not resurrect it.
CREATE TABLE customers (
  customer_id    text        PRIMARY KEY,
  name           text,
  source_version text        NOT NULL,
  deleted        boolean     NOT NULL DEFAULT false,
  updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sites (
  site_id        text        PRIMARY KEY,
  name           text,
  timezone       text,
  source_version text        NOT NULL,
  deleted        boolean     NOT NULL DEFAULT false,
  updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE products (
  product_id     text        PRIMARY KEY,
  name           text,
  source_version text        NOT NULL,
  deleted        boolean     NOT NULL DEFAULT false,
  updated_at     timestamptz NOT NULL DEFAULT now()
);

-- No foreign keys: CDC delivers tables in any order (a device may arrive before its product or hub).
CREATE TABLE devices (
  device_id      text        PRIMARY KEY,
  product_id     text,
  hub_id         text,
  name           text,
  source_version text        NOT NULL,
  deleted        boolean     NOT NULL DEFAULT false,
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_hub ON devices (hub_id) WHERE hub_id IS NOT NULL;

-- Periods are half-open [valid_from, valid_to); valid_to NULL is the open (current) period.
CREATE TABLE device_site_assignments (
  device_id  text        NOT NULL,
  site_id    text        NOT NULL,
  valid_from timestamptz NOT NULL,
  valid_to   timestamptz,
  PRIMARY KEY (device_id, valid_from),
  CHECK (valid_to IS NULL OR valid_to > valid_from)
);
CREATE UNIQUE INDEX device_site_assignments_open ON device_site_assignments (device_id) WHERE valid_to IS NULL;
CREATE INDEX device_site_assignments_site ON device_site_assignments (site_id);

CREATE TABLE site_customer_assignments (
  site_id     text        NOT NULL,
  customer_id text        NOT NULL,
  valid_from  timestamptz NOT NULL,
  valid_to    timestamptz,
  PRIMARY KEY (site_id, valid_from),
  CHECK (valid_to IS NULL OR valid_to > valid_from)
);
CREATE UNIQUE INDEX site_customer_assignments_open ON site_customer_assignments (site_id) WHERE valid_to IS NULL;

-- No two periods of one key overlap. An exclusion constraint would need btree_gist, which the
-- embedded PGlite does not load, so a trigger checks it (the primary-key index makes it one probe).
CREATE FUNCTION masterdata_no_overlap() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  clash boolean;
BEGIN
  IF TG_TABLE_NAME = 'device_site_assignments' THEN
    SELECT EXISTS (SELECT 1 FROM device_site_assignments a
      WHERE a.device_id = NEW.device_id AND a.valid_from <> NEW.valid_from
        AND tstzrange(a.valid_from, a.valid_to) && tstzrange(NEW.valid_from, NEW.valid_to)) INTO clash;
  ELSE
    SELECT EXISTS (SELECT 1 FROM site_customer_assignments a
      WHERE a.site_id = NEW.site_id AND a.valid_from <> NEW.valid_from
        AND tstzrange(a.valid_from, a.valid_to) && tstzrange(NEW.valid_from, NEW.valid_to)) INTO clash;
  END IF;
  IF clash THEN
    RAISE EXCEPTION 'overlapping validity period in % for %', TG_TABLE_NAME, NEW
      USING ERRCODE = 'exclusion_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER device_site_assignments_no_overlap BEFORE INSERT OR UPDATE ON device_site_assignments
  FOR EACH ROW EXECUTE FUNCTION masterdata_no_overlap();
CREATE TRIGGER site_customer_assignments_no_overlap BEFORE INSERT OR UPDATE ON site_customer_assignments
  FOR EACH ROW EXECUTE FUNCTION masterdata_no_overlap();

-- The ordering value of the last change applied to a key's assignment history, and whether that
-- change was a delete (a tombstone: older changes of the key are stale).
CREATE TABLE assignment_versions (
  kind           text    NOT NULL CHECK (kind IN ('device-site', 'site-customer')),
  key            text    NOT NULL,
  source_version text    NOT NULL,
  deleted        boolean NOT NULL DEFAULT false,
  PRIMARY KEY (kind, key)
);

-- CDC control records (DDL, task events), kept for the operator; otherwise ignored.
CREATE TABLE cdc_control_records (
  origin      text        NOT NULL,
  operation   text        NOT NULL,
  version     text        NOT NULL,
  occurred_at timestamptz NOT NULL,
  detail      jsonb       NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (origin, version, operation)
);
