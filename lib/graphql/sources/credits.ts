import type { Queryable } from "../../adapters/postgres.ts";

// Reads of credit grants and credit notes (migration 0008). Read-only: lib/billing owns every
// movement of credit. Amounts are integer minor units as decimal text.

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

/** Money an account may spend on its invoices, and how much of it is left. */
export interface CreditGrantRecord {
  id: string;
  accountId: string;
  kind: string;
  currency: string;
  amountMinor: string;
  remainingMinor: string;
  priority: number;
  effectiveAt: string;
  expiresAt: string | null;
  description: string;
  source: string | null;
  voidedAt: string | null;
  createdAt: string;
}

/**
 * The newest grants of each account (by id, which sorts by creation), at most `limit` per
 * account, after grant id `afterId`: one query for any number of accounts.
 */
export async function creditGrantsOfAccounts(
  db: Queryable,
  accountIds: readonly string[],
  afterId: string | null,
  limit: number,
): Promise<CreditGrantRecord[]> {
  const { rows } = await db.query<{
    id: string;
    account_id: string;
    kind: string;
    currency: string;
    amount_minor: string;
    remaining_minor: string;
    priority: number;
    effective_at: Date;
    expires_at: Date | null;
    description: string;
    source: string | null;
    voided_at: Date | null;
    created_at: Date;
  }>(
    `select id, account_id, kind, currency, amount_minor::text as amount_minor,
            remaining_minor::text as remaining_minor, priority, effective_at, expires_at,
            description, source, voided_at, created_at
       from (select *, row_number() over (partition by account_id order by id desc) as rn
               from credit_grants
              where account_id = any($1::text[]) and ($2::text is null or id < $2)) ranked
      where rn <= $3 order by account_id, id desc`,
    [accountIds, afterId, limit],
  );
  return rows.map((row) => ({
    id: row.id,
    accountId: row.account_id,
    kind: row.kind,
    currency: row.currency.trim(),
    amountMinor: row.amount_minor,
    remainingMinor: row.remaining_minor,
    priority: row.priority,
    effectiveAt: row.effective_at.toISOString(),
    expiresAt: iso(row.expires_at),
    description: row.description,
    source: row.source,
    voidedAt: iso(row.voided_at),
    createdAt: row.created_at.toISOString(),
  }));
}

/** What an account can still spend, per currency: grants in effect, not expired or voided. */
export interface CreditBalanceRecord {
  accountId: string;
  currency: string;
  remainingMinor: string;
  grants: number;
}

/** Credit balances of many accounts at `atMs`, in one query. Throws the database error. */
export async function creditBalancesOfAccounts(
  db: Queryable,
  accountIds: readonly string[],
  atMs: number,
): Promise<CreditBalanceRecord[]> {
  const { rows } = await db.query<{
    account_id: string;
    currency: string;
    remaining: string;
    n: number;
  }>(
    `select account_id, currency, sum(remaining_minor)::text as remaining, count(*)::int as n
       from credit_grants
      where account_id = any($1::text[]) and voided_at is null and remaining_minor > 0
        and effective_at <= $2 and (expires_at is null or expires_at > $2)
      group by account_id, currency order by account_id, currency`,
    [accountIds, new Date(atMs).toISOString()],
  );
  return rows.map((row) => ({
    accountId: row.account_id,
    currency: row.currency.trim(),
    remainingMinor: row.remaining,
    grants: row.n,
  }));
}

/** A correction to a finalized invoice, numbered gaplessly. */
export interface CreditNoteRecord {
  id: string;
  invoiceId: string;
  accountId: string;
  number: string;
  currency: string;
  reason: string;
  subtotalMinor: string;
  taxMinor: string;
  totalMinor: string;
  appliedToDueMinor: string;
  creditedToBalanceMinor: string;
  createdAt: string;
}

/** Credit notes of many invoices, oldest first per invoice (one query; notes are few). */
export async function creditNotesOfInvoices(
  db: Queryable,
  invoiceIds: readonly string[],
): Promise<CreditNoteRecord[]> {
  const { rows } = await db.query<{
    id: string;
    invoice_id: string;
    account_id: string;
    number: string;
    currency: string;
    reason: string;
    subtotal_minor: string;
    tax_minor: string;
    total_minor: string;
    applied_to_due_minor: string;
    credited_to_balance_minor: string;
    created_at: Date;
  }>(
    `select id, invoice_id, account_id, number, currency, reason,
            subtotal_minor::text as subtotal_minor, tax_minor::text as tax_minor,
            total_minor::text as total_minor, applied_to_due_minor::text as applied_to_due_minor,
            credited_to_balance_minor::text as credited_to_balance_minor, created_at
       from credit_notes where invoice_id = any($1::text[]) order by invoice_id, created_at, id`,
    [invoiceIds],
  );
  return rows.map((row) => ({
    id: row.id,
    invoiceId: row.invoice_id,
    accountId: row.account_id,
    number: row.number,
    currency: row.currency.trim(),
    reason: row.reason,
    subtotalMinor: row.subtotal_minor,
    taxMinor: row.tax_minor,
    totalMinor: row.total_minor,
    appliedToDueMinor: row.applied_to_due_minor,
    creditedToBalanceMinor: row.credited_to_balance_minor,
    createdAt: row.created_at.toISOString(),
  }));
}

/** One signed movement of a grant's credit (migration 0008's append-only credit ledger). */
export interface CreditMovementRecord {
  id: string;
  grantId: string;
  /** grant, consume (by an invoice), reverse (that invoice voided), expire or void. */
  kind: string;
  /** Signed: positive adds to the grant, negative takes from it. */
  amountMinor: string;
  currency: string;
  invoiceId: string | null;
  occurredAt: string;
}

/** The movements of each grant, in the order they were written: one query for many grants. */
export async function creditMovementsOfGrants(
  db: Queryable,
  grantIds: readonly string[],
): Promise<CreditMovementRecord[]> {
  const { rows } = await db.query<{
    id: string;
    grant_id: string;
    kind: string;
    amount_minor: string;
    currency: string;
    invoice_id: string | null;
    occurred_at: Date;
  }>(
    `select id, grant_id, kind, amount_minor::text as amount_minor, currency, invoice_id,
            occurred_at
       from credit_ledger where grant_id = any($1::text[]) order by grant_id, seq`,
    [grantIds],
  );
  return rows.map((row) => ({
    id: row.id,
    grantId: row.grant_id,
    kind: row.kind,
    amountMinor: row.amount_minor,
    currency: row.currency.trim(),
    invoiceId: row.invoice_id,
    occurredAt: row.occurred_at.toISOString(),
  }));
}
