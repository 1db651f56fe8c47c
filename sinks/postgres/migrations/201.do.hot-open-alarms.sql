-- Alarms open now, per rule and device, for the live dashboards; the rules stage fills it and
-- removes an alarm when it clears (the alarm history lives in the Warm store).
CREATE TABLE IF NOT EXISTS hot_open_alarms (
  rule_id    text             NOT NULL,
  device_id  text             NOT NULL,
  product_id text             NOT NULL,
  severity   text             NOT NULL,
  message    text             NOT NULL,
  value      double precision,
  opened_at  timestamptz      NOT NULL,
  updated_at timestamptz      NOT NULL,
  PRIMARY KEY (rule_id, device_id)
);
CREATE INDEX IF NOT EXISTS hot_open_alarms_product ON hot_open_alarms (product_id, opened_at);
