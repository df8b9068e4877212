-- Invoices: at most one per account and billing period, numbered without gaps at finalization.
-- Amounts are integer minor units of the invoice currency; line amounts also keep the full
-- precision they were rated at, rounded once (per line) into amount_minor.

CREATE TABLE invoice_number_series (
  series       text PRIMARY KEY,
  next_number  bigint NOT NULL CHECK (next_number > 0)
);

CREATE TABLE invoices (
  id                     text PRIMARY KEY,
  account_id             text NOT NULL REFERENCES accounts (id),
  period_start           timestamptz NOT NULL,
  period_end             timestamptz NOT NULL CHECK (period_end > period_start),
  -- Assigned at finalization from invoice_number_series, in the same transaction.
  number                 text UNIQUE,
  status                 text NOT NULL DEFAULT 'draft'
    CHECK (status IN ('draft', 'open', 'paid', 'uncollectible', 'void')),
  currency               char(3) NOT NULL,
  collection_method      text NOT NULL
    CHECK (collection_method IN ('charge_automatically', 'send_invoice')),
  net_terms_days         integer NOT NULL DEFAULT 0,
  po_number              text,
  subtotal_minor         bigint NOT NULL DEFAULT 0,
  tax_minor              bigint NOT NULL DEFAULT 0,
  credits_applied_minor  bigint NOT NULL DEFAULT 0,
  total_minor            bigint NOT NULL DEFAULT 0,
  amount_due_minor       bigint NOT NULL DEFAULT 0 CHECK (amount_due_minor >= 0),
  amount_paid_minor      bigint NOT NULL DEFAULT 0 CHECK (amount_paid_minor >= 0),
  amount_refunded_minor  bigint NOT NULL DEFAULT 0 CHECK (amount_refunded_minor >= 0),
  amount_credited_minor  bigint NOT NULL DEFAULT 0 CHECK (amount_credited_minor >= 0),
  run_id                 text,
  finalized_at           timestamptz,
  due_at                 timestamptz,
  paid_at                timestamptz,
  voided_at              timestamptz,
  uncollectible_at       timestamptz,
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  UNIQUE (account_id, period_start),
  CHECK (status = 'draft' OR number IS NOT NULL)
);
CREATE INDEX invoices_status_due ON invoices (status, due_at);
CREATE INDEX invoices_account ON invoices (account_id, period_start DESC);

CREATE TABLE invoice_lines (
  id               text PRIMARY KEY,
  invoice_id       text NOT NULL REFERENCES invoices (id),
  position         integer NOT NULL,
  kind             text NOT NULL
    CHECK (kind IN ('usage', 'base_fee', 'commitment', 'proration', 'credit', 'adjustment')),
  description      text NOT NULL,
  meter            text,
  plan_id          text,
  plan_version_id  text,
  tier             integer,
  quantity         numeric,
  unit_price       numeric,
  flat_fee         numeric,
  -- Full-precision amount, and the same rounded once to minor units.
  amount           numeric NOT NULL,
  amount_minor     bigint NOT NULL,
  tax_minor        bigint NOT NULL DEFAULT 0,
  period_start     timestamptz NOT NULL,
  period_end       timestamptz NOT NULL,
  UNIQUE (invoice_id, position)
);
