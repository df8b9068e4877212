-- Billing: the invoice cycle (per-account cursor, runs), invoice taxes and overdue notices,
-- credit grants with their append-only ledger, and credit notes. See docs/billing.md,
-- lib/billing/README.md and lib/invoicing/README.md for the invariants.

-- Where each account's invoicing stands: the first period not yet closed. The hourly run
-- enqueues a job for every account whose next period ended (plus the grace) and advances the
-- cursor only in the transaction that finalizes (or skips) that period.
CREATE TABLE account_billing (
  account_id         text PRIMARY KEY REFERENCES accounts (id),
  next_period_start  timestamptz NOT NULL,
  next_period_end    timestamptz NOT NULL CHECK (next_period_end > next_period_start),
  -- When a run last enqueued a job for this account; runs skip accounts enqueued recently.
  last_enqueued_at   timestamptz,
  last_run_id        text,
  updated_at         timestamptz NOT NULL
);
CREATE INDEX account_billing_due ON account_billing (next_period_end, account_id);

-- One row per invoice run (cron, QStash schedule or admin), for operators.
CREATE TABLE invoice_runs (
  id                    text PRIMARY KEY,
  trigger               text NOT NULL CHECK (trigger IN ('cron', 'schedule', 'admin')),
  as_of                 timestamptz NOT NULL,
  grace_seconds         integer NOT NULL CHECK (grace_seconds >= 0),
  accounts_initialized  integer NOT NULL DEFAULT 0,
  jobs_enqueued         integer NOT NULL DEFAULT 0,
  started_at            timestamptz NOT NULL,
  finished_at           timestamptz
);
CREATE INDEX invoice_runs_started ON invoice_runs (started_at DESC);

-- The document as finalized: who was billed (name, email, time zone at finalization), so the
-- page never changes when the account does; and the overdue notice sent for it, once.
ALTER TABLE invoices ADD COLUMN customer jsonb;
ALTER TABLE invoices ADD COLUMN overdue_notified_at timestamptz;
ALTER TABLE invoices ADD COLUMN overdue_message_id text;
CREATE INDEX invoices_overdue ON invoices (due_at)
  WHERE status = 'open' AND overdue_notified_at IS NULL;

-- Tax per rate on an invoice. Σ tax_minor over rates = invoices.tax_minor = Σ invoice_lines.tax_minor.
CREATE TABLE invoice_taxes (
  invoice_id     text NOT NULL REFERENCES invoices (id),
  position       integer NOT NULL,
  name           text NOT NULL,
  percent        numeric NOT NULL CHECK (percent >= 0),
  taxable_minor  bigint NOT NULL,
  tax_minor      bigint NOT NULL,
  PRIMARY KEY (invoice_id, position)
);

INSERT INTO invoice_number_series (series, next_number) VALUES ('INV', 1), ('CN', 1)
  ON CONFLICT (series) DO NOTHING;

-- Credit grants: promotional or purchased money an account may spend on its invoices.
-- remaining_minor is a projection of the ledger below (Σ credit_ledger.amount_minor of the
-- grant), kept in the same transaction as every ledger entry so locking the grant row is
-- enough to consume it safely.
CREATE TABLE credit_grants (
  id               text PRIMARY KEY,
  account_id       text NOT NULL REFERENCES accounts (id),
  kind             text NOT NULL CHECK (kind IN ('promotional', 'purchased')),
  currency         char(3) NOT NULL,
  amount_minor     bigint NOT NULL CHECK (amount_minor > 0),
  remaining_minor  bigint NOT NULL CHECK (remaining_minor >= 0 AND remaining_minor <= amount_minor),
  -- Lower numbers are consumed first (see lib/billing/README.md for the whole order).
  priority         integer NOT NULL CHECK (priority BETWEEN 0 AND 1000),
  effective_at     timestamptz NOT NULL,
  expires_at       timestamptz CHECK (expires_at IS NULL OR expires_at > effective_at),
  description      text NOT NULL DEFAULT '',
  -- What created it when not an admin: a credit note's id for a credit returned to the balance.
  source           text,
  idempotency_key  text,
  voided_at        timestamptz,
  created_at       timestamptz NOT NULL,
  UNIQUE (account_id, idempotency_key)
);
CREATE INDEX credit_grants_usable ON credit_grants (account_id, currency)
  WHERE remaining_minor > 0 AND voided_at IS NULL;

-- Every movement of credit, signed: +grant, −consume (by an invoice), +reverse (invoice voided),
-- −expire, −void. Append-only; a grant's balance is the sum of its entries.
CREATE TABLE credit_ledger (
  id            text PRIMARY KEY,
  -- Insertion order: entries are read back in the order they were written.
  seq           bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  grant_id      text NOT NULL REFERENCES credit_grants (id),
  account_id    text NOT NULL,
  kind          text NOT NULL CHECK (kind IN ('grant', 'consume', 'reverse', 'expire', 'void')),
  amount_minor  bigint NOT NULL CHECK (amount_minor <> 0),
  currency      char(3) NOT NULL,
  invoice_id    text REFERENCES invoices (id),
  occurred_at   timestamptz NOT NULL,
  CHECK ((kind IN ('grant', 'reverse')) = (amount_minor > 0)),
  CHECK ((kind IN ('consume', 'reverse')) = (invoice_id IS NOT NULL))
);
-- A grant is granted, expired and voided at most once, consumed and given back at most once
-- per invoice: a retried transaction cannot move the same credit twice.
CREATE UNIQUE INDEX credit_ledger_once ON credit_ledger (grant_id, kind, coalesce(invoice_id, ''));
CREATE INDEX credit_ledger_account ON credit_ledger (account_id, occurred_at);
CREATE INDEX credit_ledger_invoice ON credit_ledger (invoice_id) WHERE invoice_id IS NOT NULL;

CREATE FUNCTION credit_ledger_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'credit_ledger is append-only (% refused)', TG_OP USING ERRCODE = '42501';
END
$$;
CREATE TRIGGER credit_ledger_append_only
  BEFORE UPDATE OR DELETE ON credit_ledger
  FOR EACH ROW EXECUTE FUNCTION credit_ledger_is_append_only();

-- Credit notes: line-level corrections to a finalized invoice, numbered gaplessly ('CN').
-- What a note credits reduces the invoice's amount due first; the rest (a paid invoice) returns
-- to the account as a purchased credit grant (grant_id).
CREATE TABLE credit_notes (
  id                  text PRIMARY KEY,
  invoice_id          text NOT NULL REFERENCES invoices (id),
  account_id          text NOT NULL,
  number              text NOT NULL UNIQUE,
  currency            char(3) NOT NULL,
  reason              text NOT NULL,
  subtotal_minor      bigint NOT NULL CHECK (subtotal_minor > 0),
  tax_minor           bigint NOT NULL CHECK (tax_minor >= 0),
  total_minor         bigint NOT NULL CHECK (total_minor = subtotal_minor + tax_minor),
  applied_to_due_minor       bigint NOT NULL CHECK (applied_to_due_minor >= 0),
  credited_to_balance_minor  bigint NOT NULL CHECK (credited_to_balance_minor >= 0),
  grant_id            text REFERENCES credit_grants (id),
  idempotency_key     text,
  created_at          timestamptz NOT NULL,
  CHECK (applied_to_due_minor + credited_to_balance_minor = total_minor),
  UNIQUE (invoice_id, idempotency_key)
);
CREATE INDEX credit_notes_invoice ON credit_notes (invoice_id);

CREATE TABLE credit_note_lines (
  credit_note_id   text NOT NULL REFERENCES credit_notes (id),
  position         integer NOT NULL,
  invoice_line_id  text NOT NULL REFERENCES invoice_lines (id),
  amount_minor     bigint NOT NULL CHECK (amount_minor > 0),
  tax_minor        bigint NOT NULL CHECK (tax_minor >= 0),
  PRIMARY KEY (credit_note_id, position)
);
CREATE INDEX credit_note_lines_line ON credit_note_lines (invoice_line_id);
