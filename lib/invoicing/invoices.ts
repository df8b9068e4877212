import type { Queryable } from "../adapters/postgres.ts";
import type { CollectionMethod } from "../catalogue/account-config.ts";
import { AppError } from "../errors/index.ts";
import type { IdGenerator } from "../ids/ids.ts";
import type { Period } from "../periods/period.ts";
import type { InvoiceStatus } from "./status.ts";

const iso = (ms: number) => new Date(ms).toISOString();

/** An invoice as the API and the page show it. Money in integer minor units of `currency`. */
export interface Invoice {
  id: string;
  accountId: string;
  number: string | null;
  status: InvoiceStatus;
  currency: string;
  periodStartMs: number;
  periodEndMs: number;
  collectionMethod: CollectionMethod;
  netTermsDays: number;
  poNumber: string | null;
  customer: { name: string; email: string | null; timeZone: string } | null;
  subtotalMinor: bigint;
  taxMinor: bigint;
  totalMinor: bigint;
  creditsAppliedMinor: bigint;
  amountDueMinor: bigint;
  amountPaidMinor: bigint;
  amountCreditedMinor: bigint;
  runId: string | null;
  finalizedAtMs: number | null;
  dueAtMs: number | null;
  paidAtMs: number | null;
  voidedAtMs: number | null;
  overdueNotifiedAtMs: number | null;
  createdAtMs: number;
}

/** One stored line; `amount` keeps full precision, `amountMinor` is it rounded once. */
export interface InvoiceLine {
  id: string;
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
  amountMinor: bigint;
  taxMinor: bigint;
  /** Σ of credit notes against this line so far (amount and tax). */
  creditedMinor: bigint;
  creditedTaxMinor: bigint;
  periodStartMs: number;
  periodEndMs: number;
}

/** The whole document: the invoice, its lines, taxes, credit applied and credit notes. */
export interface InvoiceDocument {
  invoice: Invoice;
  lines: InvoiceLine[];
  taxes: { name: string; percent: string; taxableMinor: bigint; taxMinor: bigint }[];
  credits: { grantId: string; amountMinor: bigint; kind: string }[];
  creditNotes: {
    id: string;
    number: string;
    reason: string;
    totalMinor: bigint;
    taxMinor: bigint;
    appliedToDueMinor: bigint;
    creditedToBalanceMinor: bigint;
    grantId: string | null;
    createdAtMs: number;
    lines: { invoiceLineId: string; amountMinor: bigint; taxMinor: bigint }[];
  }[];
}

interface InvoiceRow {
  id: string;
  account_id: string;
  number: string | null;
  status: InvoiceStatus;
  currency: string;
  period_start: Date;
  period_end: Date;
  collection_method: CollectionMethod;
  net_terms_days: number;
  po_number: string | null;
  customer: Invoice["customer"];
  subtotal_minor: string;
  tax_minor: string;
  total_minor: string;
  credits_applied_minor: string;
  amount_due_minor: string;
  amount_paid_minor: string;
  amount_credited_minor: string;
  run_id: string | null;
  finalized_at: Date | null;
  due_at: Date | null;
  paid_at: Date | null;
  voided_at: Date | null;
  overdue_notified_at: Date | null;
  created_at: Date;
}

/** The invoice columns as InvoiceRow reads them (money as text: bigint-safe). */
const INVOICE_COLUMNS = `id, account_id, number, status, currency, period_start, period_end,
  collection_method, net_terms_days, po_number, customer, subtotal_minor::text as subtotal_minor,
  tax_minor::text as tax_minor, total_minor::text as total_minor,
  credits_applied_minor::text as credits_applied_minor, amount_due_minor::text as amount_due_minor,
  amount_paid_minor::text as amount_paid_minor,
  amount_credited_minor::text as amount_credited_minor, run_id, finalized_at, due_at, paid_at,
  voided_at, overdue_notified_at, created_at`;

function toInvoice(row: InvoiceRow): Invoice {
  const ms = (d: Date | null) => d?.getTime() ?? null;
  return {
    id: row.id,
    accountId: row.account_id,
    number: row.number,
    status: row.status,
    currency: row.currency.trim(),
    periodStartMs: row.period_start.getTime(),
    periodEndMs: row.period_end.getTime(),
    collectionMethod: row.collection_method,
    netTermsDays: row.net_terms_days,
    poNumber: row.po_number,
    customer: row.customer,
    subtotalMinor: BigInt(row.subtotal_minor),
    taxMinor: BigInt(row.tax_minor),
    totalMinor: BigInt(row.total_minor),
    creditsAppliedMinor: BigInt(row.credits_applied_minor),
    amountDueMinor: BigInt(row.amount_due_minor),
    amountPaidMinor: BigInt(row.amount_paid_minor),
    amountCreditedMinor: BigInt(row.amount_credited_minor),
    runId: row.run_id,
    finalizedAtMs: ms(row.finalized_at),
    dueAtMs: ms(row.due_at),
    paidAtMs: ms(row.paid_at),
    voidedAtMs: ms(row.voided_at),
    overdueNotifiedAtMs: ms(row.overdue_notified_at),
    createdAtMs: row.created_at.getTime(),
  };
}

/**
 * The account's invoice for `period`, creating it as a draft if there is none. The unique
 * (account, period start) constraint makes this the one place an invoice can come from: any
 * number of concurrent jobs for the same period end up with the same row.
 */
export async function ensureDraftInvoice(
  db: Queryable,
  ids: IdGenerator,
  input: {
    accountId: string;
    currency: string;
    collectionMethod: CollectionMethod;
    period: Period;
    runId: string | null;
    nowMs: number;
  },
): Promise<Invoice> {
  const inserted = await db.query<InvoiceRow>(
    `insert into invoices (id, account_id, period_start, period_end, currency, collection_method,
                           run_id, created_at, updated_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $8)
     on conflict (account_id, period_start) do nothing
     returning ${INVOICE_COLUMNS}`,
    [
      ids.next("invoice"),
      input.accountId,
      iso(input.period.startMs),
      iso(input.period.endMs),
      input.currency,
      input.collectionMethod,
      input.runId,
      iso(input.nowMs),
    ],
  );
  if (inserted.rows[0]) {
    return toInvoice(inserted.rows[0]);
  }
  return (await readInvoiceForPeriod(db, input.accountId, input.period.startMs)) as Invoice;
}

/** One invoice by id, or null. With `forUpdate`, locks the row (inside a transaction). */
export async function readInvoice(
  db: Queryable,
  invoiceId: string,
  options: { forUpdate?: boolean } = {},
): Promise<Invoice | null> {
  const { rows } = await db.query<InvoiceRow>(
    `select ${INVOICE_COLUMNS} from invoices where id = $1${options.forUpdate ? " for update" : ""}`,
    [invoiceId],
  );
  return rows[0] ? toInvoice(rows[0]) : null;
}

/** The account's invoice for the period starting at `periodStartMs`, or null. */
export async function readInvoiceForPeriod(
  db: Queryable,
  accountId: string,
  periodStartMs: number,
): Promise<Invoice | null> {
  const { rows } = await db.query<InvoiceRow>(
    `select ${INVOICE_COLUMNS} from invoices where account_id = $1 and period_start = $2`,
    [accountId, iso(periodStartMs)],
  );
  return rows[0] ? toInvoice(rows[0]) : null;
}

/** Like readInvoice, but NOT_FOUND instead of null (and for another account's invoice). */
export async function requireInvoice(
  db: Queryable,
  invoiceId: string,
  options: { forUpdate?: boolean; accountId?: string } = {},
): Promise<Invoice> {
  const invoice = await readInvoice(db, invoiceId, options);
  if (!invoice || (options.accountId !== undefined && invoice.accountId !== options.accountId)) {
    throw new AppError("NOT_FOUND", `No invoice ${invoiceId}`, {
      detail: "The invoice does not exist or this key cannot see it.",
    });
  }
  return invoice;
}

/** The invoice with its lines, taxes, credit applications and credit notes. */
export async function readInvoiceDocument(
  db: Queryable,
  invoiceId: string,
  accountId?: string,
): Promise<InvoiceDocument> {
  const invoice = await requireInvoice(db, invoiceId, accountId === undefined ? {} : { accountId });
  const [lines, taxes, credits, notes, noteLines] = await Promise.all([
    db.query<{
      id: string;
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
      credited_minor: string;
      credited_tax_minor: string;
      period_start: Date;
      period_end: Date;
    }>(
      `select l.id, l.position, l.kind, l.description, l.meter, l.plan_id, l.plan_version_id,
              l.tier, l.quantity::text as quantity, l.unit_price::text as unit_price,
              l.flat_fee::text as flat_fee, l.amount::text as amount,
              l.amount_minor::text as amount_minor, l.tax_minor::text as tax_minor,
              coalesce(sum(c.amount_minor), 0)::text as credited_minor,
              coalesce(sum(c.tax_minor), 0)::text as credited_tax_minor,
              l.period_start, l.period_end
         from invoice_lines l left join credit_note_lines c on c.invoice_line_id = l.id
        where l.invoice_id = $1
        group by l.id order by l.position`,
      [invoiceId],
    ),
    db.query<{ name: string; percent: string; taxable_minor: string; tax_minor: string }>(
      `select name, percent::text as percent, taxable_minor::text as taxable_minor,
              tax_minor::text as tax_minor
         from invoice_taxes where invoice_id = $1 order by position`,
      [invoiceId],
    ),
    db.query<{ grant_id: string; amount_minor: string; kind: string }>(
      `select l.grant_id, (-l.amount_minor)::text as amount_minor, g.kind
         from credit_ledger l join credit_grants g on g.id = l.grant_id
        where l.invoice_id = $1 and l.kind = 'consume' order by l.grant_id`,
      [invoiceId],
    ),
    db.query<{
      id: string;
      number: string;
      reason: string;
      total_minor: string;
      tax_minor: string;
      applied_to_due_minor: string;
      credited_to_balance_minor: string;
      grant_id: string | null;
      created_at: Date;
    }>(
      `select id, number, reason, total_minor::text as total_minor, tax_minor::text as tax_minor,
              applied_to_due_minor::text as applied_to_due_minor,
              credited_to_balance_minor::text as credited_to_balance_minor, grant_id, created_at
         from credit_notes where invoice_id = $1 order by created_at, id`,
      [invoiceId],
    ),
    db.query<{
      credit_note_id: string;
      invoice_line_id: string;
      amount_minor: string;
      tax_minor: string;
    }>(
      `select n.credit_note_id, n.invoice_line_id, n.amount_minor::text as amount_minor,
              n.tax_minor::text as tax_minor
         from credit_note_lines n join credit_notes c on c.id = n.credit_note_id
        where c.invoice_id = $1 order by n.credit_note_id, n.position`,
      [invoiceId],
    ),
  ]);
  return {
    invoice,
    lines: lines.rows.map((row) => ({
      id: row.id,
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
      amountMinor: BigInt(row.amount_minor),
      taxMinor: BigInt(row.tax_minor),
      creditedMinor: BigInt(row.credited_minor),
      creditedTaxMinor: BigInt(row.credited_tax_minor),
      periodStartMs: row.period_start.getTime(),
      periodEndMs: row.period_end.getTime(),
    })),
    taxes: taxes.rows.map((row) => ({
      name: row.name,
      percent: row.percent,
      taxableMinor: BigInt(row.taxable_minor),
      taxMinor: BigInt(row.tax_minor),
    })),
    credits: credits.rows.map((row) => ({
      grantId: row.grant_id,
      amountMinor: BigInt(row.amount_minor),
      kind: row.kind,
    })),
    creditNotes: notes.rows.map((row) => ({
      id: row.id,
      number: row.number,
      reason: row.reason,
      totalMinor: BigInt(row.total_minor),
      taxMinor: BigInt(row.tax_minor),
      appliedToDueMinor: BigInt(row.applied_to_due_minor),
      creditedToBalanceMinor: BigInt(row.credited_to_balance_minor),
      grantId: row.grant_id,
      createdAtMs: row.created_at.getTime(),
      lines: noteLines.rows
        .filter((line) => line.credit_note_id === row.id)
        .map((line) => ({
          invoiceLineId: line.invoice_line_id,
          amountMinor: BigInt(line.amount_minor),
          taxMinor: BigInt(line.tax_minor),
        })),
    })),
  };
}

/** Filters of the invoice list. */
export interface InvoiceFilter {
  accountId?: string;
  status?: InvoiceStatus;
  /** Invoices whose period starts at or after / before these instants. */
  periodFromMs?: number;
  periodToMs?: number;
  /** Cursor: the last id of the previous page (ids sort by creation time). */
  afterId?: string;
  limit: number;
}

/**
 * A page of invoices, newest first (by id, which sorts by creation time), `limit` at most;
 * `nextAfter` is the id to pass for the next page, null on the last one.
 */
export async function listInvoices(
  db: Queryable,
  filter: InvoiceFilter,
): Promise<{ invoices: Invoice[]; nextAfter: string | null }> {
  const { rows } = await db.query<InvoiceRow>(
    `select ${INVOICE_COLUMNS} from invoices
      where ($1::text is null or account_id = $1)
        and ($2::text is null or status = $2)
        and ($3::timestamptz is null or period_start >= $3)
        and ($4::timestamptz is null or period_start < $4)
        and ($5::text is null or id < $5)
      order by id desc limit $6`,
    [
      filter.accountId ?? null,
      filter.status ?? null,
      filter.periodFromMs === undefined ? null : iso(filter.periodFromMs),
      filter.periodToMs === undefined ? null : iso(filter.periodToMs),
      filter.afterId ?? null,
      filter.limit + 1,
    ],
  );
  const invoices = rows.slice(0, filter.limit).map(toInvoice);
  const last = invoices[invoices.length - 1];
  return { invoices, nextAfter: rows.length > filter.limit && last ? last.id : null };
}
