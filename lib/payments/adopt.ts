import type { Queryable } from "../adapters/postgres.ts";
import type { Stripe } from "../adapters/stripe.ts";
import {
  type ApplyResult,
  applyAttemptState,
  attemptById,
  attemptOfIntent,
  attemptsOf,
  insertAttempt,
} from "./attempts.ts";
import type { TxContext } from "./deps.ts";
import { adoptedKey } from "./keys.ts";
import { idOf, intentAmountMinor, observationOfIntent } from "./stripe-intents.ts";

/**
 * Bringing a PaymentIntent that Stripe knows into meterline's records: the attempt that made it
 * gets its state (forward only); an intent meterline has no attempt for (our record of it was
 * lost, or someone charged by hand with the invoice in its metadata) gets an `adopted` attempt.
 * Either way a successful charge is recorded, never repeated.
 */
export type AdoptOutcome =
  | ({ kind: "applied"; adopted: boolean } & ApplyResult)
  /** The invoice already has another successful attempt: a second charge exists. Reported. */
  | { kind: "duplicate_charge"; existingAttemptId: string; paymentIntentId: string }
  | { kind: "unknown_invoice"; invoiceId: string | null; paymentIntentId: string };

/**
 * Applies `intent` to its attempt, adopting it when none exists, inside the caller's
 * transaction (which should hold the invoice lock). `stripeAtMs` is the Stripe time of the
 * report (an event's `created`), or null for an API read.
 */
export async function adoptIntent(
  tx: Queryable,
  ctx: TxContext,
  intent: Stripe.PaymentIntent,
  stripeAtMs: number | null,
  reason: string,
): Promise<AdoptOutcome> {
  const observation = observationOfIntent(intent, stripeAtMs);
  const metadata = (intent.metadata ?? {}) as Record<string, string | undefined>;
  let attempt = await attemptOfIntent(tx, intent.id);
  if (!attempt && metadata.attempt_id) {
    const named = await attemptById(tx, metadata.attempt_id);
    // Only an attempt that never learnt its intent may be linked to this one.
    if (named && named.stripePaymentIntentId === null) {
      attempt = named;
    }
  }
  const invoiceId = attempt?.invoiceId ?? metadata.invoice_id ?? null;
  if (invoiceId === null) {
    return { kind: "unknown_invoice", invoiceId: null, paymentIntentId: intent.id };
  }
  const invoice = await tx.query<{ account_id: string }>(
    "select account_id from invoices where id = $1",
    [invoiceId],
  );
  const accountId = invoice.rows[0]?.account_id;
  if (accountId === undefined) {
    return { kind: "unknown_invoice", invoiceId, paymentIntentId: intent.id };
  }
  if (observation.status === "succeeded") {
    const others = await attemptsOf(tx, invoiceId);
    const existing = others.find(
      (other) => other.status === "succeeded" && other.id !== attempt?.id,
    );
    if (existing) {
      ctx.log.error("a second successful charge exists for an invoice", {
        invoiceId,
        paymentIntentId: intent.id,
        existingAttemptId: existing.id,
      });
      return {
        kind: "duplicate_charge",
        existingAttemptId: existing.id,
        paymentIntentId: intent.id,
      };
    }
  }
  let adopted = false;
  if (!attempt) {
    const attempts = await attemptsOf(tx, invoiceId);
    const attemptNo = (attempts.at(-1)?.attemptNo ?? 0) + 1;
    const id = ctx.ids.next("paymentAttempt");
    await insertAttempt(
      tx,
      ctx,
      {
        id,
        invoiceId,
        accountId,
        attemptNo,
        idempotencyKey: adoptedKey(invoiceId, intent.id),
        origin: "adopted",
        status: "unknown",
        amountMinor: intentAmountMinor(intent),
        currency: intent.currency.toUpperCase(),
        stripeCustomerId: idOf(intent.customer as string | { id: string } | null),
        stripePaymentMethodId: idOf(intent.payment_method as string | { id: string } | null),
        stripePaymentIntentId: intent.id,
        keyFirstUsedAtMs: null,
      },
      `Adopted PaymentIntent ${intent.id} found at Stripe: ${reason}`,
    );
    adopted = true;
    attempt = await attemptById(tx, id);
    if (!attempt) {
      throw new Error(`adopted attempt ${id} vanished inside its own transaction`);
    }
  }
  const result = await applyAttemptState(tx, ctx, attempt.id, observation, reason);
  return { kind: "applied", adopted, ...result };
}
