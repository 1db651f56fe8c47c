-- Daily customer x product aggregates of each metric, from the window stage's `customer-product`
-- scope. `customer_key` is the customer id, or '' for devices unknown to the master data (a key
-- column cannot be NULL); `customer_id` keeps the NULL for readers. A row is replaced only by a
-- higher or equal revision of the same window, so a late, lower revision never overwrites.
CREATE TABLE IF NOT EXISTS customer_product_daily_aggregates (
  customer_key text             NOT NULL,
  customer_id  text,
  product_id   text             NOT NULL,
  metric       text             NOT NULL,
  day_start    timestamptz      NOT NULL,
  day_end      timestamptz      NOT NULL,
  revision     integer          NOT NULL,
  final        boolean          NOT NULL,
  count        bigint           NOT NULL,
  sum          double precision NOT NULL,
  min          double precision NOT NULL,
  max          double precision NOT NULL,
  mean         double precision NOT NULL,
  m2           double precision NOT NULL,
  first        double precision NOT NULL,
  first_at     timestamptz      NOT NULL,
  last         double precision NOT NULL,
  last_at      timestamptz      NOT NULL,
  updated_at   timestamptz      NOT NULL DEFAULT now(),
  PRIMARY KEY (customer_key, product_id, metric, day_start)
);
CREATE INDEX IF NOT EXISTS customer_product_daily_aggregates_product
  ON customer_product_daily_aggregates (product_id, day_start);
