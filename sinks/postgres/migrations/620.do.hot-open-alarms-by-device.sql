-- A device page reads that device's open alarms (`OpenAlarmQuery.deviceId`), most severe first,
-- then newest: the same order as a customer's dashboard, by device.
CREATE INDEX IF NOT EXISTS hot_open_alarms_device ON hot_open_alarms (device_id, severity_rank, opened_at)
  WHERE closed_at IS NULL;
