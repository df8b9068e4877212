import type { Queryable } from "../adapters/postgres.ts";

/** An account's receivables at a glance. */
export interface InvoiceSummary {
  /** Open invoices, and those past their due date. */
  open: number;
  overdue: number;
  /** Σ amount due of open invoices in `currency` (the account's), minor units. */
  amountDueMinor: bigint;
}

/** Counts the account's open and overdue invoices and what they still ask for. */
export async function readInvoiceSummary(
  db: Queryable,
  accountId: string,
  currency: string,
  nowMs: number,
): Promise<InvoiceSummary> {
  const { rows } = await db.query<{ open: string; overdue: string; due: string }>(
    `select count(*)::text as open, count(*) filter (where due_at < $3)::text as overdue,
            coalesce(sum(amount_due_minor) filter (where currency = $2), 0)::text as due
       from invoices where account_id = $1 and status = 'open'`,
    [accountId, currency, new Date(nowMs).toISOString()],
  );
  const row = rows[0] ?? { open: "0", overdue: "0", due: "0" };
  return { open: Number(row.open), overdue: Number(row.overdue), amountDueMinor: BigInt(row.due) };
}
