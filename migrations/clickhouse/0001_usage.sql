-- Usage analytics and audit: what the rated-usage consumer lands (see docs/pipeline.md).
--
-- Exactly once in every meterline query, even before background merges:
-- - Inserts carry `insert_deduplication_token` (a hash of the batch ids they contain), so the
--   same insert repeated is dropped while it is inside the deduplication window.
-- - The tables are ReplacingMergeTrees whose sorting key ends with the row's natural id, so a
--   row delivered again in another grouping (a different token) collapses with its twin; every
--   meterline query reads with FINAL, which collapses them before merges too.
-- - Twins are byte-identical (a batch id always carries the same rows), so which one survives
--   does not matter, and including the other key columns keeps twins on the same key and in
--   the same monthly partition.
-- Quantities and amounts are Decimal(76, 30): 46 integer and 30 fractional digits hold every
-- quantity (18 fractional digits at most) times every price (12) exactly.

CREATE TABLE IF NOT EXISTS usage_events (
  account_id String,
  event_id String,
  meter LowCardinality(String),
  -- NULL for meters that count events rather than values (count, unique_count).
  value Nullable(Decimal(76, 30)),
  event_time DateTime64(3, 'UTC'),
  received_at DateTime64(3, 'UTC'),
  period_start DateTime64(3, 'UTC'),
  properties Map(String, String),
  batch_id String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (account_id, event_time, meter, event_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS usage_rated (
  account_id String,
  meter LowCardinality(String),
  period_start DateTime64(3, 'UTC'),
  period_end DateTime64(3, 'UTC'),
  segment LowCardinality(String),
  plan_id Nullable(String),
  -- Local calendar date in the account's time zone.
  day Date32,
  record_id String,
  quantity_delta Decimal(76, 30),
  amount_delta Decimal(76, 30),
  currency LowCardinality(String),
  event_count UInt32,
  quantity_total Decimal(76, 30),
  amount_total Decimal(76, 30),
  batch_id String,
  sent_at DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(period_start)
ORDER BY (account_id, period_start, meter, segment, day, record_id)
SETTINGS non_replicated_deduplication_window = 10000;

-- The consumer's last failure per batch id, written when Postgres (where failures normally go)
-- is the sink that failed; the dead-letter consumer reads both places.
CREATE TABLE IF NOT EXISTS pipeline_failures (
  batch_id String,
  account_id String,
  attempts UInt32,
  error_code LowCardinality(String),
  error String,
  failed_at DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree(failed_at)
ORDER BY batch_id
TTL toDateTime(failed_at) + INTERVAL 30 DAY;
