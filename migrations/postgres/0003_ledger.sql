-- Ledger: rated usage rolled up per account, meter, period, pricing segment and local day,
-- fed by the rated-usage queue consumer; plus the consumer's failure notes and dead letters.
-- Invariants are in lib/ledger/README.md. Amounts and quantities are exact numerics with full
-- precision: nothing is rounded here (invoice lines round once, later).

-- One row per rated batch ever applied. The primary key is what makes a redelivered batch a
-- no-op: the consumer applies a batch's records only in the transaction that inserts its id.
CREATE TABLE rated_batches (
  batch_id     text PRIMARY KEY,
  account_id   text NOT NULL,
  records      integer NOT NULL CHECK (records >= 0),
  events       integer NOT NULL CHECK (events >= 0),
  -- When the meter sent it, and when the consumer applied it (their difference is the lag).
  sent_at      timestamptz NOT NULL,
  received_at  timestamptz NOT NULL
);
CREATE INDEX rated_batches_recent ON rated_batches (received_at, account_id);
CREATE INDEX rated_batches_account ON rated_batches (account_id, received_at);

CREATE TABLE usage_rollups (
  account_id    text NOT NULL,
  meter         text NOT NULL,
  period_start  timestamptz NOT NULL,
  segment       text NOT NULL,
  -- Local calendar date in the account's time zone.
  day           date NOT NULL,
  period_end    timestamptz NOT NULL,
  plan_id       text,
  currency      char(3) NOT NULL,
  quantity      numeric NOT NULL,
  amount        numeric NOT NULL,
  event_count   bigint NOT NULL CHECK (event_count >= 0),
  updated_at    timestamptz NOT NULL,
  PRIMARY KEY (account_id, meter, period_start, segment, day)
);

-- The consumer's most recent failure per batch id, so the dead-letter consumer can say why a
-- batch exhausted its retries. Rows for batches that later landed are harmless history.
CREATE TABLE pipeline_failures (
  batch_id    text PRIMARY KEY,
  account_id  text NOT NULL,
  attempts    integer NOT NULL CHECK (attempts > 0),
  error_code  text NOT NULL,
  error       text NOT NULL,
  failed_at   timestamptz NOT NULL
);
CREATE INDEX pipeline_failures_account ON pipeline_failures (account_id, failed_at);

-- Messages no consumer could apply, for humans: unreadable bodies (recorded at once) and
-- batches that exhausted their retries (recorded by the dead-letter consumer). The stored body
-- is what a replay re-sends.
CREATE TABLE dead_letters (
  id            text PRIMARY KEY,
  -- The queue's message id: a dead-letter delivery repeated by the queue is recorded once.
  message_id    text NOT NULL UNIQUE,
  queue         text NOT NULL,
  reason        text NOT NULL CHECK (reason IN ('invalid_body', 'retries_exhausted')),
  batch_id      text,
  account_id    text,
  body          text NOT NULL,
  error_code    text NOT NULL,
  error         text NOT NULL,
  -- Delivery attempts the rated-usage consumer made before giving up (null when unknown).
  attempts      integer,
  last_failed_at timestamptz,
  dead_at       timestamptz NOT NULL,
  replayed_at   timestamptz,
  replays       integer NOT NULL DEFAULT 0
);
CREATE INDEX dead_letters_pending ON dead_letters (dead_at) WHERE replayed_at IS NULL;
CREATE INDEX dead_letters_account ON dead_letters (account_id, dead_at);
