import type { Queryable } from "../adapters/postgres.ts";
import { type Actor, appendAudit } from "../audit/audit-log.ts";
import { AppError } from "../errors/index.ts";
import type { IdGenerator } from "../ids/ids.ts";

/** An invoice's lifecycle: draft → open → paid | uncollectible | void. */
export type InvoiceStatus = "draft" | "open" | "paid" | "uncollectible" | "void";

/**
 * Allowed moves. `uncollectible → paid` covers a late payment after dunning gave up;
 * `uncollectible → void` writes an invoice off entirely. Paid and void are terminal.
 */
export const INVOICE_TRANSITIONS: Readonly<Record<InvoiceStatus, readonly InvoiceStatus[]>> = {
  draft: ["open", "void"],
  open: ["paid", "uncollectible", "void"],
  uncollectible: ["paid", "void"],
  paid: [],
  void: [],
};

const TIMESTAMP_COLUMN: Partial<Record<InvoiceStatus, string>> = {
  paid: "paid_at",
  void: "voided_at",
  uncollectible: "uncollectible_at",
};

export interface InvoiceTransition {
  invoiceId: string;
  to: InvoiceStatus;
  actor: Actor;
  reason: string;
  atMs: number;
  /** For `paid`: the amount received, added to amount_paid_minor. */
  amountPaidMinor?: bigint;
}

export type TransitionOutcome =
  | { changed: true; from: InvoiceStatus; to: InvoiceStatus; accountId: string }
  | { changed: false; status: InvoiceStatus; accountId: string };

/**
 * Moves an invoice to `to` inside the caller's transaction, locking the row, and appends the
 * audit record. Moving to the status it already has is a no-op (retries are safe); a move the
 * lifecycle forbids throws CONFLICT. NOT_FOUND when the invoice does not exist.
 */
export async function transitionInvoice(
  tx: Queryable,
  ids: IdGenerator,
  move: InvoiceTransition,
): Promise<TransitionOutcome> {
  const { rows } = await tx.query<{
    status: InvoiceStatus;
    account_id: string;
    currency: string;
    amount_due_minor: string;
  }>(
    "select status, account_id, currency, amount_due_minor::text from invoices where id = $1 for update",
    [move.invoiceId],
  );
  const invoice = rows[0];
  if (!invoice) {
    throw new AppError("NOT_FOUND", `No invoice ${move.invoiceId}`, {
      detail: "Check the invoice id.",
    });
  }
  if (invoice.status === move.to) {
    return { changed: false, status: invoice.status, accountId: invoice.account_id };
  }
  if (!INVOICE_TRANSITIONS[invoice.status].includes(move.to)) {
    throw new AppError("CONFLICT", `Invoice ${move.invoiceId} is ${invoice.status}`, {
      detail: `An invoice that is ${invoice.status} cannot become ${move.to}.`,
      context: { invoiceId: move.invoiceId, from: invoice.status, to: move.to },
    });
  }
  const column = TIMESTAMP_COLUMN[move.to];
  const paid = move.to === "paid" ? (move.amountPaidMinor ?? BigInt(invoice.amount_due_minor)) : 0n;
  await tx.query(
    `update invoices set status = $2, updated_at = to_timestamp($3 / 1000.0),
            amount_paid_minor = amount_paid_minor + $4
            ${column ? `, ${column} = to_timestamp($3 / 1000.0)` : ""}
      where id = $1`,
    [move.invoiceId, move.to, move.atMs, paid.toString()],
  );
  await appendAudit(tx, ids, {
    accountId: invoice.account_id,
    actor: move.actor,
    action: `invoice.${move.to === "open" ? "finalized" : move.to === "void" ? "voided" : move.to === "paid" ? "paid" : "marked_uncollectible"}`,
    subjectType: "invoice",
    subjectId: move.invoiceId,
    reason: move.reason,
    before: { status: invoice.status },
    after: { status: move.to },
    amountMinor: move.to === "paid" ? paid : BigInt(invoice.amount_due_minor),
    currency: invoice.currency.trim(),
    occurredAtMs: move.atMs,
  });
  return { changed: true, from: invoice.status, to: move.to, accountId: invoice.account_id };
}
