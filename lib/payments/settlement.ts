import type { Queryable } from "../adapters/postgres.ts";
import { transitionInvoice } from "../invoicing/status.ts";
import { restoreIfSettled } from "./account-status.ts";
import type { TxContext } from "./deps.ts";
import { resolveDunning } from "./dunning.ts";

/** What a successful attempt did to its invoice. */
export type SettlementOutcome =
  | { kind: "paid"; from: string }
  | { kind: "already_paid" }
  /** The invoice is draft or void: the money is recorded on the attempt, and reported. */
  | { kind: "not_payable"; invoiceStatus: string };

/**
 * Applies a successful payment to its invoice inside the transaction that recorded it: the
 * invoice becomes paid (open, or uncollectible for a late payment) with the amount received,
 * its dunning ends and the account's billing status is restored when nothing else is overdue.
 * A draft or void invoice is left alone and logged loudly; reconciliation reports it.
 */
export async function settleInvoicePaid(
  tx: Queryable,
  ctx: TxContext,
  payment: { invoiceId: string; accountId: string; attemptId: string; amountMinor: bigint },
): Promise<SettlementOutcome> {
  const { rows } = await tx.query<{ status: string }>(
    "select status from invoices where id = $1 for update",
    [payment.invoiceId],
  );
  const status = rows[0]?.status ?? "missing";
  if (status === "paid") {
    await resolveDunning(tx, payment.invoiceId, ctx.nowMs);
    return { kind: "already_paid" };
  }
  if (status !== "open" && status !== "uncollectible") {
    ctx.log.error("payment succeeded for an invoice that cannot be paid", {
      invoiceId: payment.invoiceId,
      attemptId: payment.attemptId,
      invoiceStatus: status,
    });
    return { kind: "not_payable", invoiceStatus: status };
  }
  await transitionInvoice(tx, ctx.ids, {
    invoiceId: payment.invoiceId,
    to: "paid",
    actor: ctx.actor,
    reason: `Payment ${payment.attemptId} succeeded`,
    atMs: ctx.nowMs,
    amountPaidMinor: payment.amountMinor,
  });
  await resolveDunning(tx, payment.invoiceId, ctx.nowMs);
  await restoreIfSettled(tx, ctx, payment.accountId, payment.invoiceId);
  return { kind: "paid", from: status };
}
