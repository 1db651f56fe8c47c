-- The first slice's per-product hourly counter left the product (the windowed aggregates replace
-- it): its counts and the per-sink progress only it kept go. IF EXISTS: a database created before
-- versioned migrations may not have them.
DROP TABLE IF EXISTS product_hourly_counts;
DROP TABLE IF EXISTS sink_progress;
