import type { Queryable } from "../adapters/postgres.ts";
import type { Stripe } from "../adapters/stripe.ts";
import { appendAudit } from "../audit/audit-log.ts";
import type { Attempt } from "./attempts.ts";
import type { TxContext } from "./deps.ts";
import { intentAmountMinor } from "./stripe-intents.ts";

/**
 * Disputes (chargebacks) recorded against the invoice whose charge is disputed, one row per
 * Stripe dispute. Status only moves forward — open, then under review, then closed (won, lost,
 * warning_closed) — whatever order the events arrive in; equal ranks keep the newer report.
 */

const DISPUTE_RANK: Record<string, number> = {
  warning_needs_response: 0,
  needs_response: 0,
  warning_under_review: 1,
  under_review: 1,
  warning_closed: 2,
  won: 2,
  lost: 2,
  prevented: 2,
};

const CLOSED = new Set(["warning_closed", "won", "lost", "prevented"]);

function rank(status: string): number {
  return DISPUTE_RANK[status] ?? 0;
}

export type DisputeChange = "opened" | "updated" | "closed" | "unchanged";

/**
 * Records a dispute snapshot (from a `charge.dispute.*` event at Stripe time `stripeAtMs`)
 * inside the caller's transaction, with a `payment.disputed` audit record when it opens and
 * `payment.dispute_closed` when it closes. A stale or repeated snapshot changes nothing.
 */
export async function recordDispute(
  tx: Queryable,
  ctx: TxContext,
  attempt: Attempt,
  dispute: Stripe.Dispute,
  stripeAtMs: number,
): Promise<DisputeChange> {
  const nowIso = new Date(ctx.nowMs).toISOString();
  const stripeAtIso = new Date(stripeAtMs).toISOString();
  const amount = intentAmountMinor(dispute);
  const currency = dispute.currency.toUpperCase();
  const closedAt = CLOSED.has(dispute.status) ? stripeAtIso : null;
  const { rows } = await tx.query<{ status: string; stripe_state_at: Date }>(
    "select status, stripe_state_at from payment_disputes where id = $1 for update",
    [dispute.id],
  );
  const existing = rows[0];
  let change: DisputeChange;
  if (!existing) {
    await tx.query(
      `insert into payment_disputes (id, invoice_id, attempt_id, account_id, stripe_charge_id,
         stripe_payment_intent_id, amount_minor, currency, reason, status, opened_at, closed_at,
         stripe_state_at, recorded_at, updated_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)`,
      [
        dispute.id,
        attempt.invoiceId,
        attempt.id,
        attempt.accountId,
        typeof dispute.charge === "string" ? dispute.charge : dispute.charge.id,
        attempt.stripePaymentIntentId,
        amount.toString(),
        currency,
        dispute.reason,
        dispute.status,
        new Date(dispute.created * 1000).toISOString(),
        closedAt,
        stripeAtIso,
        nowIso,
      ],
    );
    change = closedAt ? "closed" : "opened";
  } else {
    const delta = rank(dispute.status) - rank(existing.status);
    const newer = stripeAtMs > existing.stripe_state_at.getTime();
    if (delta < 0 || (delta === 0 && (!newer || dispute.status === existing.status))) {
      return "unchanged";
    }
    await tx.query(
      `update payment_disputes set status = $2, amount_minor = $3, closed_at = coalesce($4, closed_at),
              stripe_state_at = $5, updated_at = $6
        where id = $1`,
      [dispute.id, dispute.status, amount.toString(), closedAt, stripeAtIso, nowIso],
    );
    change = closedAt && !CLOSED.has(existing.status) ? "closed" : "updated";
  }
  const audit = (action: string, reason: string) =>
    appendAudit(tx, ctx.ids, {
      accountId: attempt.accountId,
      actor: ctx.actor,
      action,
      subjectType: "payment_dispute",
      subjectId: dispute.id,
      reason,
      before: existing ? { status: existing.status } : null,
      after: { status: dispute.status, invoiceId: attempt.invoiceId, attemptId: attempt.id },
      amountMinor: amount,
      currency,
      occurredAtMs: ctx.nowMs,
    });
  if (!existing) {
    await audit("payment.disputed", `Charge disputed: ${dispute.reason}`);
  }
  if (change === "closed") {
    await audit("payment.dispute_closed", `Dispute ${dispute.id} closed: ${dispute.status}`);
  }
  return change;
}
