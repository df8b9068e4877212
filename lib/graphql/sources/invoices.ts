import type { Queryable } from "../../adapters/postgres.ts";
import type { InvoiceStatus } from "../../invoicing/status.ts";

// Reads of invoices, their lines and the invoice runs (migrations 0006 and 0008), by many ids
// or parents at once. Amounts are integer minor units kept as decimal text (bigint-safe).

/** An invoice as the GraphQL API shows it. Times are ISO 8601 UTC. */
export interface InvoiceRecord {
  id: string;
  accountId: string;
  number: string | null;
  status: InvoiceStatus;
  currency: string;
  collectionMethod: string;
  netTermsDays: number;
  poNumber: string | null;
  periodStart: string;
  periodEnd: string;
  subtotalMinor: string;
  taxMinor: string;
  creditsAppliedMinor: string;
  totalMinor: string;
  amountDueMinor: string;
  amountPaidMinor: string;
  amountRefundedMinor: string;
  amountCreditedMinor: string;
  runId: string | null;
  finalizedAt: string | null;
  dueAt: string | null;
  paidAt: string | null;
  voidedAt: string | null;
  uncollectibleAt: string | null;
  createdAt: string;
  updatedAt: string;
}

interface InvoiceRow {
  id: string;
  account_id: string;
  number: string | null;
  status: InvoiceStatus;
  currency: string;
  collection_method: string;
  net_terms_days: number;
  po_number: string | null;
  period_start: Date;
  period_end: Date;
  subtotal_minor: string;
  tax_minor: string;
  credits_applied_minor: string;
  total_minor: string;
  amount_due_minor: string;
  amount_paid_minor: string;
  amount_refunded_minor: string;
  amount_credited_minor: string;
  run_id: string | null;
  finalized_at: Date | null;
  due_at: Date | null;
  paid_at: Date | null;
  voided_at: Date | null;
  uncollectible_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const INVOICE_COLUMNS = `id, account_id, number, status, currency, collection_method,
  net_terms_days, po_number, period_start, period_end, subtotal_minor::text as subtotal_minor,
  tax_minor::text as tax_minor, credits_applied_minor::text as credits_applied_minor,
  total_minor::text as total_minor, amount_due_minor::text as amount_due_minor,
  amount_paid_minor::text as amount_paid_minor,
  amount_refunded_minor::text as amount_refunded_minor,
  amount_credited_minor::text as amount_credited_minor, run_id, finalized_at, due_at, paid_at,
  voided_at, uncollectible_at, created_at, updated_at`;

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

function toInvoice(row: InvoiceRow): InvoiceRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    number: row.number,
    status: row.status,
    currency: row.currency.trim(),
    collectionMethod: row.collection_method,
    netTermsDays: row.net_terms_days,
    poNumber: row.po_number,
    periodStart: row.period_start.toISOString(),
    periodEnd: row.period_end.toISOString(),
    subtotalMinor: row.subtotal_minor,
    taxMinor: row.tax_minor,
    creditsAppliedMinor: row.credits_applied_minor,
    totalMinor: row.total_minor,
    amountDueMinor: row.amount_due_minor,
    amountPaidMinor: row.amount_paid_minor,
    amountRefundedMinor: row.amount_refunded_minor,
    amountCreditedMinor: row.amount_credited_minor,
    runId: row.run_id,
    finalizedAt: iso(row.finalized_at),
    dueAt: iso(row.due_at),
    paidAt: iso(row.paid_at),
    voidedAt: iso(row.voided_at),
    uncollectibleAt: iso(row.uncollectible_at),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** Invoices by id, in one query; unknown ids are absent. Throws the database error. */
export async function readInvoices(
  db: Queryable,
  ids: readonly string[],
): Promise<InvoiceRecord[]> {
  const { rows } = await db.query<InvoiceRow>(
    `select ${INVOICE_COLUMNS} from invoices where id = any($1::text[])`,
    [ids],
  );
  return rows.map(toInvoice);
}

/** Which invoices a list wants; null means any. */
export interface InvoiceFilter {
  accountId: string | null;
  status: InvoiceStatus | null;
  runId: string | null;
}

/**
 * Invoices newest first (by id, which sorts by creation), after the invoice id `afterId`, at
 * most `limit`, optionally of one account, status or run.
 */
export async function listInvoices(
  db: Queryable,
  filter: InvoiceFilter,
  afterId: string | null,
  limit: number,
): Promise<InvoiceRecord[]> {
  const { rows } = await db.query<InvoiceRow>(
    `select ${INVOICE_COLUMNS} from invoices
      where ($1::text is null or account_id = $1) and ($2::text is null or status = $2)
        and ($3::text is null or run_id = $3) and ($4::text is null or id < $4)
      order by id desc limit $5`,
    [filter.accountId, filter.status, filter.runId, afterId, limit],
  );
  return rows.map(toInvoice);
}

/**
 * The newest invoices of each account (by period start, then id, descending), at most `limit`
 * per account, after the (period start, id) cursor when given: one query for any number of
 * accounts. Throws the database error.
 */
export async function invoicesOfAccounts(
  db: Queryable,
  accountIds: readonly string[],
  options: { status: InvoiceStatus | null; after: readonly [string, string] | null; limit: number },
): Promise<InvoiceRecord[]> {
  const { rows } = await db.query<InvoiceRow>(
    `select ${INVOICE_COLUMNS} from (
       select *, row_number() over (partition by account_id
                                    order by period_start desc, id desc) as rn
         from invoices
        where account_id = any($1::text[]) and ($2::text is null or status = $2)
          and ($3::timestamptz is null or (period_start, id) < ($3::timestamptz, $4::text))
     ) ranked where rn <= $5 order by account_id, rn`,
    [
      accountIds,
      options.status,
      options.after?.[0] ?? null,
      options.after?.[1] ?? null,
      options.limit,
    ],
  );
  return rows.map(toInvoice);
}

/** One line of an invoice. Amounts: full precision (`amount`) and rounded once (`amountMinor`). */
export interface InvoiceLineRecord {
  id: string;
  invoiceId: string;
  position: number;
  kind: string;
  description: string;
  meter: string | null;
  planId: string | null;
  planVersionId: string | null;
  tier: number | null;
  quantity: string | null;
  unitPrice: string | null;
  flatFee: string | null;
  amount: string;
  amountMinor: string;
  taxMinor: string;
  periodStart: string;
  periodEnd: string;
}

/**
 * The lines of each invoice by position, at most `limit` per invoice, after position
 * `afterPosition`: one query for any number of invoices. Throws the database error.
 */
export async function linesOfInvoices(
  db: Queryable,
  invoiceIds: readonly string[],
  afterPosition: number | null,
  limit: number,
): Promise<InvoiceLineRecord[]> {
  const { rows } = await db.query<{
    id: string;
    invoice_id: string;
    position: number;
    kind: string;
    description: string;
    meter: string | null;
    plan_id: string | null;
    plan_version_id: string | null;
    tier: number | null;
    quantity: string | null;
    unit_price: string | null;
    flat_fee: string | null;
    amount: string;
    amount_minor: string;
    tax_minor: string;
    period_start: Date;
    period_end: Date;
  }>(
    `select id, invoice_id, position, kind, description, meter, plan_id, plan_version_id, tier,
            quantity::text as quantity, unit_price::text as unit_price, flat_fee::text as flat_fee,
            amount::text as amount, amount_minor::text as amount_minor,
            tax_minor::text as tax_minor, period_start, period_end
       from (select *, row_number() over (partition by invoice_id order by position) as rn
               from invoice_lines
              where invoice_id = any($1::text[]) and ($2::int is null or position > $2)) ranked
      where rn <= $3 order by invoice_id, position`,
    [invoiceIds, afterPosition, limit],
  );
  return rows.map((row) => ({
    id: row.id,
    invoiceId: row.invoice_id,
    position: row.position,
    kind: row.kind,
    description: row.description,
    meter: row.meter,
    planId: row.plan_id,
    planVersionId: row.plan_version_id,
    tier: row.tier,
    quantity: row.quantity,
    unitPrice: row.unit_price,
    flatFee: row.flat_fee,
    amount: row.amount,
    amountMinor: row.amount_minor,
    taxMinor: row.tax_minor,
    periodStart: row.period_start.toISOString(),
    periodEnd: row.period_end.toISOString(),
  }));
}

/** One invoice run (table invoice_runs), with the invoices it produced counted by status. */
export interface InvoiceRunRecord {
  id: string;
  trigger: string;
  asOf: string;
  graceSeconds: number;
  accountsInitialized: number;
  jobsEnqueued: number;
  startedAt: string;
  finishedAt: string | null;
  invoicesByStatus: { status: InvoiceStatus; count: number }[];
}

/**
 * Invoice runs newest first (by id, which sorts by start), after run id `afterId`, at most
 * `limit`, each with its invoices counted by status (two queries). Throws the database error.
 */
export async function listInvoiceRuns(
  db: Queryable,
  afterId: string | null,
  limit: number,
): Promise<InvoiceRunRecord[]> {
  const { rows } = await db.query<{
    id: string;
    trigger: string;
    as_of: Date;
    grace_seconds: number;
    accounts_initialized: number;
    jobs_enqueued: number;
    started_at: Date;
    finished_at: Date | null;
  }>(
    `select id, trigger, as_of, grace_seconds, accounts_initialized, jobs_enqueued, started_at,
            finished_at
       from invoice_runs where ($1::text is null or id < $1) order by id desc limit $2`,
    [afterId, limit],
  );
  const counts = await db.query<{ run_id: string; status: InvoiceStatus; n: number }>(
    `select run_id, status, count(*)::int as n from invoices where run_id = any($1::text[])
      group by run_id, status order by run_id, status`,
    [rows.map((r) => r.id)],
  );
  return rows.map((row) => ({
    id: row.id,
    trigger: row.trigger,
    asOf: row.as_of.toISOString(),
    graceSeconds: row.grace_seconds,
    accountsInitialized: row.accounts_initialized,
    jobsEnqueued: row.jobs_enqueued,
    startedAt: row.started_at.toISOString(),
    finishedAt: iso(row.finished_at),
    invoicesByStatus: counts.rows
      .filter((c) => c.run_id === row.id)
      .map((c) => ({ status: c.status, count: c.n })),
  }));
}
