import type { Queryable } from "../adapters/postgres.ts";
import type { Stripe } from "../adapters/stripe.ts";
import { appendAudit } from "../audit/audit-log.ts";
import { AppError } from "../errors/index.ts";
import { type Attempt, attemptsOf } from "./attempts.ts";
import type { PaymentDeps, TxContext } from "./deps.ts";
import { lockInvoice } from "./invoice-lock.ts";
import { classifyStripeError } from "./stripe-errors.ts";
import { idOf, intentAmountMinor } from "./stripe-intents.ts";

/**
 * Refunds, recorded against the invoice. Two facts arrive from Stripe in either order: the
 * charge's cumulative `amount_refunded` (charge.refunded) and individual refunds (refund
 * objects, from the admin endpoint, `refund.*` events or reconciliation). An attempt's refunded
 * amount is the larger of the charge total and the sum of its refund rows, so it only grows and
 * both orders end in the same state; the invoice's `amount_refunded_minor` is the sum over its
 * attempts. Every increase appends a `payment.refunded` audit record.
 */

/** Waits at most this long for the invoice lock before giving up (the caller retries). */
const LOCK_WAIT_MS = 10_000;

/** Raises the attempt's refunded total to at least `chargeRefundedMinor`; audits the increase. */
export async function recordRefundedTotal(
  tx: Queryable,
  ctx: TxContext,
  attempt: Attempt,
  chargeRefundedMinor: bigint,
  reason: string,
): Promise<bigint> {
  const { rows } = await tx.query<{ rows_total: string; current: string }>(
    `select coalesce((select sum(amount_minor) from payment_refunds
                       where attempt_id = $1 and status in ('succeeded', 'pending')), 0)::text
              as rows_total,
            amount_refunded_minor::text as current
       from payment_attempts where id = $1 for update`,
    [attempt.id],
  );
  const current = BigInt(rows[0]?.current ?? "0");
  const fromRows = BigInt(rows[0]?.rows_total ?? "0");
  let next = current;
  if (fromRows > next) {
    next = fromRows;
  }
  if (chargeRefundedMinor > next) {
    next = chargeRefundedMinor;
  }
  if (next === current) {
    return 0n;
  }
  const nowIso = new Date(ctx.nowMs).toISOString();
  await tx.query(
    "update payment_attempts set amount_refunded_minor = $2, updated_at = $3 where id = $1",
    [attempt.id, next.toString(), nowIso],
  );
  await tx.query(
    `update invoices set amount_refunded_minor = (
        select coalesce(sum(amount_refunded_minor), 0) from payment_attempts where invoice_id = $1),
        updated_at = $2
      where id = $1`,
    [attempt.invoiceId, nowIso],
  );
  const delta = next - current;
  await appendAudit(tx, ctx.ids, {
    accountId: attempt.accountId,
    actor: ctx.actor,
    action: "payment.refunded",
    subjectType: "payment_attempt",
    subjectId: attempt.id,
    reason,
    before: { amountRefundedMinor: current.toString() },
    after: { amountRefundedMinor: next.toString(), invoiceId: attempt.invoiceId },
    amountMinor: delta,
    currency: attempt.currency,
    occurredAtMs: ctx.nowMs,
  });
  return delta;
}

/**
 * Records one Stripe refund of the attempt's charge (idempotent by refund id; status updates
 * move forward), then raises the attempt's refunded total. Returns whether the row is new.
 */
export async function recordRefund(
  tx: Queryable,
  ctx: TxContext,
  attempt: Attempt,
  refund: Stripe.Refund,
  reason: string,
): Promise<boolean> {
  const { rowCount } = await tx.query(
    `insert into payment_refunds (id, invoice_id, attempt_id, account_id, stripe_charge_id,
                                  amount_minor, currency, status, reason, stripe_created_at,
                                  recorded_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     on conflict (id) do update set status = excluded.status
       where payment_refunds.status in ('pending', 'requires_action')`,
    [
      refund.id,
      attempt.invoiceId,
      attempt.id,
      attempt.accountId,
      idOf(refund.charge as string | { id: string } | null),
      intentAmountMinor(refund).toString(),
      refund.currency.toUpperCase(),
      refund.status ?? "succeeded",
      refund.reason ?? null,
      new Date(refund.created * 1000).toISOString(),
      new Date(ctx.nowMs).toISOString(),
    ],
  );
  await recordRefundedTotal(tx, ctx, attempt, 0n, reason);
  return rowCount > 0;
}

export interface RefundRequest {
  invoiceId: string;
  /** Minor units; null refunds everything not yet refunded. */
  amountMinor: bigint | null;
  reason: "duplicate" | "fraudulent" | "requested_by_customer" | null;
  /** The caller's Idempotency-Key: the same key always means the same refund. */
  idempotencyKey: string;
  actor: string;
}

export interface RefundResult {
  refundId: string;
  invoiceId: string;
  amountMinor: string;
  currency: string;
  status: string;
  /** True when this key was seen before and the first refund is returned. */
  replayed: boolean;
}

/**
 * Refunds an invoice's successful payment, fully or partly. The Stripe idempotency key is
 * derived from the invoice and the caller's key, and the request is remembered in Postgres, so
 * repeating the call — even after Stripe forgot the key — never refunds twice. Throws
 * NOT_FOUND (no such invoice), CONFLICT (nothing paid, or a different request under the same
 * key), VALIDATION_FAILED (Stripe refused: too much, disputed) and DEPENDENCY_UNAVAILABLE.
 */
export async function refundInvoice(
  deps: PaymentDeps,
  request: RefundRequest,
): Promise<RefundResult> {
  const storedKey = `${request.invoiceId}:${request.idempotencyKey}`;
  const previous = await deps.db.query<{ stripe_refund_id: string; amount_minor: string | null }>(
    "select stripe_refund_id, amount_minor::text as amount_minor from payment_refund_requests where key = $1",
    [storedKey],
  );
  const seen = previous.rows[0];
  if (seen) {
    if ((seen.amount_minor ?? null) !== (request.amountMinor?.toString() ?? null)) {
      throw new AppError(
        "IDEMPOTENCY_CONFLICT",
        "This Idempotency-Key was used for another refund",
        {
          detail: "Use a new Idempotency-Key for a different refund.",
        },
      );
    }
    const { rows } = await deps.db.query<{
      id: string;
      amount_minor: string;
      currency: string;
      status: string;
    }>(
      "select id, amount_minor::text as amount_minor, currency, status from payment_refunds where id = $1",
      [seen.stripe_refund_id],
    );
    const row = rows[0];
    if (row) {
      return {
        refundId: row.id,
        invoiceId: request.invoiceId,
        amountMinor: row.amount_minor,
        currency: row.currency.trim(),
        status: row.status,
        replayed: true,
      };
    }
  }
  const paid = (await attemptsOf(deps.db, request.invoiceId)).find(
    (attempt) => attempt.status === "succeeded",
  );
  if (!paid?.stripePaymentIntentId) {
    const exists = await deps.db.query("select 1 from invoices where id = $1", [request.invoiceId]);
    if (exists.rowCount === 0) {
      throw new AppError("NOT_FOUND", `No invoice ${request.invoiceId}`);
    }
    throw new AppError("CONFLICT", "The invoice has no successful payment to refund", {
      detail: "Only a paid invoice can be refunded.",
    });
  }
  let refund: Stripe.Refund;
  try {
    refund = await deps.stripe.refunds.create(
      {
        payment_intent: paid.stripePaymentIntentId,
        ...(request.amountMinor === null ? {} : { amount: Number(request.amountMinor) }),
        ...(request.reason === null ? {} : { reason: request.reason }),
        metadata: { invoice_id: request.invoiceId, attempt_id: paid.id },
      },
      { idempotencyKey: `${request.invoiceId}:refund:${request.idempotencyKey}` },
    );
  } catch (error) {
    const failure = classifyStripeError(error);
    if (failure.kind === "rejected") {
      throw new AppError("VALIDATION_FAILED", "Stripe refused the refund", {
        detail: failure.message,
        context: { code: failure.code },
      });
    }
    if (failure.kind === "idempotency_conflict") {
      throw new AppError(
        "IDEMPOTENCY_CONFLICT",
        "This Idempotency-Key was used for another refund",
        {
          detail: "Use a new Idempotency-Key for a different refund.",
        },
      );
    }
    throw new AppError("DEPENDENCY_UNAVAILABLE", "Stripe did not answer the refund", {
      detail: "Retry with the same Idempotency-Key; it will not refund twice.",
      cause: error,
      retryable: true,
    });
  }
  const nowMs = deps.clock.nowMs();
  await deps.db.transaction(async (tx) => {
    await lockInvoice(tx, request.invoiceId, LOCK_WAIT_MS);
    const ctx: TxContext = { ids: deps.ids, nowMs, actor: request.actor, log: deps.log };
    await recordRefund(tx, ctx, paid, refund, `Refund ${refund.id} requested by ${request.actor}`);
    await tx.query(
      `insert into payment_refund_requests (key, invoice_id, amount_minor, stripe_refund_id, created_at)
       values ($1, $2, $3, $4, $5) on conflict (key) do nothing`,
      [
        storedKey,
        request.invoiceId,
        request.amountMinor?.toString() ?? null,
        refund.id,
        new Date(nowMs).toISOString(),
      ],
    );
  });
  return {
    refundId: refund.id,
    invoiceId: request.invoiceId,
    amountMinor: intentAmountMinor(refund).toString(),
    currency: refund.currency.toUpperCase(),
    status: refund.status ?? "succeeded",
    replayed: false,
  };
}
