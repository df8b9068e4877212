-- Payments: collecting invoices through Stripe without ever charging twice (one PaymentIntent per
-- attempt, with an idempotency key derived from our ids), the Stripe events the webhook received,
-- refunds and disputes recorded against invoices, the dunning schedule, each account's billing
-- status, notifications waiting for QStash and reconciliation reports.
-- See lib/payments/README.md for the state machine and the invariants.

-- One row per try at collecting an invoice. Inserted (and committed) before its PaymentIntent is
-- requested, so a charge whose answer is lost still has a row naming its idempotency key.
CREATE TABLE payment_attempts (
  id                        text PRIMARY KEY,
  invoice_id                text NOT NULL REFERENCES invoices (id),
  account_id                text NOT NULL,
  attempt_no                integer NOT NULL CHECK (attempt_no > 0),
  -- Sent as Stripe's Idempotency-Key: `<invoice id>:att_<attempt_no>`, only ever from our ids.
  -- Adopted attempts (a PaymentIntent found at Stripe) get `<invoice id>:adopted:<pi id>`.
  idempotency_key           text NOT NULL UNIQUE,
  status                    text NOT NULL CHECK (status IN (
                              'created', 'unknown', 'requires_confirmation', 'processing',
                              'failed', 'canceled', 'succeeded')),
  origin                    text NOT NULL CHECK (origin IN ('charge', 'adopted')),
  amount_minor              bigint NOT NULL CHECK (amount_minor > 0),
  currency                  char(3) NOT NULL,
  stripe_customer_id        text,
  stripe_payment_method_id  text,
  stripe_payment_intent_id  text UNIQUE,
  stripe_charge_id          text,
  -- Refunded on the charge so far, as Stripe last reported it; it never decreases.
  amount_refunded_minor     bigint NOT NULL DEFAULT 0 CHECK (amount_refunded_minor >= 0),
  failure_code              text,
  failure_message           text,
  -- When the key was first sent (set just before sending): Stripe forgets keys 24 hours later.
  key_first_used_at         timestamptz,
  provider_calls            integer NOT NULL DEFAULT 0,
  last_error                text,
  -- Stripe's `created` of the newest event applied; orders events of equal state rank.
  stripe_state_at           timestamptz,
  created_at                timestamptz NOT NULL,
  updated_at                timestamptz NOT NULL,
  UNIQUE (invoice_id, attempt_no)
);
-- The database refuses to believe in two successful charges for one invoice: a second one is
-- reported (webhook outcome, reconciliation) instead of recorded.
CREATE UNIQUE INDEX payment_attempts_one_success ON payment_attempts (invoice_id)
  WHERE status = 'succeeded';
CREATE INDEX payment_attempts_in_flight ON payment_attempts (updated_at)
  WHERE status IN ('created', 'unknown', 'requires_confirmation', 'processing');
CREATE INDEX payment_attempts_created ON payment_attempts (created_at);
CREATE INDEX payment_attempts_charge ON payment_attempts (stripe_charge_id);
CREATE INDEX payment_attempts_account ON payment_attempts (account_id, created_at);

-- Every verified Stripe event, stored once by its id before it is acknowledged, then applied
-- once by the work queue. `body` is the exact signed payload.
CREATE TABLE stripe_events (
  id                 text PRIMARY KEY,
  type               text NOT NULL,
  object_id          text,
  stripe_created_at  timestamptz NOT NULL,
  body               text NOT NULL,
  received_at        timestamptz NOT NULL,
  deliveries         integer NOT NULL DEFAULT 1 CHECK (deliveries > 0),
  processed_at       timestamptz,
  outcome            text
);
CREATE INDEX stripe_events_unprocessed ON stripe_events (received_at) WHERE processed_at IS NULL;
CREATE INDEX stripe_events_object ON stripe_events (object_id);

-- Refunds of an invoice's charge, by Stripe refund id.
CREATE TABLE payment_refunds (
  id                 text PRIMARY KEY,
  invoice_id         text NOT NULL REFERENCES invoices (id),
  attempt_id         text NOT NULL REFERENCES payment_attempts (id),
  account_id         text NOT NULL,
  stripe_charge_id   text,
  amount_minor       bigint NOT NULL CHECK (amount_minor > 0),
  currency           char(3) NOT NULL,
  status             text NOT NULL,
  reason             text,
  stripe_created_at  timestamptz NOT NULL,
  recorded_at        timestamptz NOT NULL
);
CREATE INDEX payment_refunds_invoice ON payment_refunds (invoice_id);

-- Admin refund requests by their Idempotency-Key, so a repeat after Stripe's 24-hour key window
-- still answers with the first refund instead of refunding again.
CREATE TABLE payment_refund_requests (
  key               text PRIMARY KEY,
  invoice_id        text NOT NULL REFERENCES invoices (id),
  amount_minor      bigint,
  stripe_refund_id  text NOT NULL,
  created_at        timestamptz NOT NULL
);

-- Disputes (chargebacks) of an invoice's charge, by Stripe dispute id; status only moves forward.
CREATE TABLE payment_disputes (
  id                        text PRIMARY KEY,
  invoice_id                text NOT NULL REFERENCES invoices (id),
  attempt_id                text NOT NULL REFERENCES payment_attempts (id),
  account_id                text NOT NULL,
  stripe_charge_id          text NOT NULL,
  stripe_payment_intent_id  text,
  amount_minor              bigint NOT NULL CHECK (amount_minor >= 0),
  currency                  char(3) NOT NULL,
  reason                    text NOT NULL,
  status                    text NOT NULL,
  opened_at                 timestamptz NOT NULL,
  closed_at                 timestamptz,
  stripe_state_at           timestamptz NOT NULL,
  recorded_at               timestamptz NOT NULL,
  updated_at                timestamptz NOT NULL
);
CREATE INDEX payment_disputes_invoice ON payment_disputes (invoice_id);

-- The retry schedule of an invoice whose payment failed (lib/payments/dunning.ts).
CREATE TABLE payment_dunning (
  invoice_id       text PRIMARY KEY REFERENCES invoices (id),
  account_id       text NOT NULL,
  state            text NOT NULL CHECK (state IN ('active', 'exhausted', 'resolved')),
  failures         integer NOT NULL CHECK (failures >= 0),
  first_failed_at  timestamptz NOT NULL,
  next_retry_at    timestamptz,
  updated_at       timestamptz NOT NULL,
  CHECK (state <> 'active' OR next_retry_at IS NOT NULL)
);
CREATE INDEX payment_dunning_due ON payment_dunning (next_retry_at) WHERE state = 'active';
CREATE INDEX payment_dunning_account ON payment_dunning (account_id) WHERE state <> 'resolved';

-- Where an account stands because of unpaid invoices. No row means normal.
CREATE TABLE account_billing_status (
  account_id  text PRIMARY KEY,
  status      text NOT NULL CHECK (status IN ('normal', 'grace', 'restricted')),
  reason      text NOT NULL,
  since       timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL
);

-- Customer notifications (payment failed, billing status changed) waiting for QStash. Written in
-- the transaction of the change; the row id is QStash's deduplication id.
CREATE TABLE payment_notifications (
  id            text PRIMARY KEY,
  -- Publication order: several notifications can share a millisecond (a failure and the status
  -- change it causes), and ids are random within one.
  seq           bigint GENERATED ALWAYS AS IDENTITY,
  account_id    text NOT NULL,
  kind          text NOT NULL,
  payload       jsonb NOT NULL,
  created_at    timestamptz NOT NULL,
  published_at  timestamptz,
  destination   text,
  message_id    text
);
CREATE INDEX payment_notifications_pending ON payment_notifications (account_id, seq)
  WHERE published_at IS NULL;

-- One row per reconciliation run (daily cron or admin request) with its full report.
CREATE TABLE reconciliation_runs (
  id            text PRIMARY KEY,
  trigger       text NOT NULL CHECK (trigger IN ('cron', 'admin')),
  window_start  timestamptz NOT NULL,
  window_end    timestamptz NOT NULL CHECK (window_end > window_start),
  account_id    text,
  started_at    timestamptz NOT NULL,
  finished_at   timestamptz NOT NULL,
  mismatches    integer NOT NULL CHECK (mismatches >= 0),
  repairs       integer NOT NULL CHECK (repairs >= 0),
  report        jsonb NOT NULL
);
CREATE INDEX reconciliation_runs_started ON reconciliation_runs (started_at DESC);
