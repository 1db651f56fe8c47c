-- The Hot store's upserted tables rewrite most rows within minutes (each device's latest record,
-- the running values of open windows). Room left on each page lets PostgreSQL update a row in place
-- on its page (a HOT update: no new index entries, less to vacuum) instead of moving it. Applies to
-- pages written from now on.
ALTER TABLE hot_device_state SET (fillfactor = 70);
ALTER TABLE hot_aggregates SET (fillfactor = 70);
