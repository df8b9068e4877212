import type { Queryable } from "../adapters/postgres.ts";
import type { Stripe } from "../adapters/stripe.ts";
import { type AdoptOutcome, adoptIntent } from "./adopt.ts";
import { statusOfIntentEvent } from "./attempt-state.ts";
import { type Attempt, attemptOfCharge, attemptOfIntent } from "./attempts.ts";
import type { PaymentDeps, TxContext } from "./deps.ts";
import { recordDispute } from "./disputes.ts";
import { retrySooner } from "./dunning.ts";
import { type PaymentSignal, sendPaymentSignal } from "./fraud-signals.ts";
import { lockInvoice } from "./invoice-lock.ts";
import { publishPendingNotifications } from "./notifications.ts";
import { recordRefund, recordRefundedTotal } from "./refunds.ts";
import { idOf, intentAmountMinor } from "./stripe-intents.ts";

/**
 * Applying stored Stripe events (the slow half of the webhook, on the work queue). Each event is
 * applied at most once: in one transaction that holds the invoice's lock (taken first), the
 * event row is locked, skipped if already processed, applied, and marked processed with a short
 * outcome. State changes only move forward, so late and out-of-order events are harmless.
 * Unknown types are acknowledged and recorded as ignored.
 */

/** Waits at most this long for the invoice lock held by a running collection. */
const LOCK_WAIT_MS = 10_000;

const ACTOR = "stripe:webhook";

export type EventProcessing =
  | { status: "applied"; type: string; outcome: string }
  | { status: "duplicate"; type: string; outcome: string | null }
  | { status: "missing" };

interface StoredRow {
  type: string;
  body: string;
  processed_at: Date | null;
  outcome: string | null;
}

type Work = (tx: Queryable, ctx: TxContext) => Promise<string>;

/**
 * Applies stored event `eventId`. Throws on infrastructure failures (Postgres, the queue for
 * fraud signals); the message is then retried and nothing is applied twice.
 */
export async function processStripeEvent(
  deps: PaymentDeps,
  eventId: string,
): Promise<EventProcessing> {
  const stored = await deps.db.query<StoredRow>(
    "select type, body, processed_at, outcome from stripe_events where id = $1",
    [eventId],
  );
  const row = stored.rows[0];
  if (!row) {
    return { status: "missing" };
  }
  if (row.processed_at !== null) {
    return { status: "duplicate", type: row.type, outcome: row.outcome };
  }
  const event = JSON.parse(row.body) as Stripe.Event;
  const plan = await planFor(deps, event);
  const result = await deps.db.transaction(async (tx): Promise<EventProcessing> => {
    if (plan.invoiceId !== null) {
      await lockInvoice(tx, plan.invoiceId, LOCK_WAIT_MS);
    }
    const locked = await tx.query<{ processed_at: Date | null; outcome: string | null }>(
      "select processed_at, outcome from stripe_events where id = $1 for update",
      [eventId],
    );
    const current = locked.rows[0];
    if (!current || current.processed_at !== null) {
      return { status: "duplicate", type: event.type, outcome: current?.outcome ?? null };
    }
    const ctx: TxContext = {
      ids: deps.ids,
      nowMs: deps.clock.nowMs(),
      actor: ACTOR,
      log: deps.log,
    };
    const outcome = await plan.work(tx, ctx);
    await tx.query("update stripe_events set processed_at = $2, outcome = $3 where id = $1", [
      eventId,
      new Date(ctx.nowMs).toISOString(),
      outcome,
    ]);
    return { status: "applied", type: event.type, outcome };
  });
  if (result.status === "applied" && plan.accountId !== null && deps.notifier !== null) {
    try {
      await publishPendingNotifications(deps.db, deps.notifier, plan.accountId, deps.clock.nowMs());
    } catch (error) {
      // Still pending in the outbox; the payments tick publishes it later.
      deps.log.warn("payment notification not published yet", { accountId: plan.accountId, error });
    }
  }
  return result;
}

interface Plan {
  /** The invoice whose lock the work needs, when it touches one. */
  invoiceId: string | null;
  /** The account whose notifications to publish afterwards. */
  accountId: string | null;
  work: Work;
}

const ignore = (why: string): Plan => ({
  invoiceId: null,
  accountId: null,
  work: async () => `ignored: ${why}`,
});

/** Reads what the event concerns (outside the transaction) and what applying it means. */
async function planFor(deps: PaymentDeps, event: Stripe.Event): Promise<Plan> {
  const stripeAtMs = event.created * 1000;
  if (statusOfIntentEvent(event.type) !== null) {
    return planIntent(deps, event, event.data.object as Stripe.PaymentIntent, stripeAtMs);
  }
  if (event.type === "charge.refunded") {
    return planRefunded(deps, event.data.object as Stripe.Charge);
  }
  if (event.type === "refund.created" || event.type === "refund.updated") {
    return planRefund(deps, event.data.object as Stripe.Refund);
  }
  if (event.type.startsWith("charge.dispute.")) {
    return planDispute(deps, event, event.data.object as Stripe.Dispute, stripeAtMs);
  }
  if (event.type === "radar.early_fraud_warning.created") {
    return planFraudWarning(deps, event.data.object as Stripe.Radar.EarlyFraudWarning, stripeAtMs);
  }
  if (event.type === "customer.updated" || event.type === "customer.deleted") {
    return planCustomer(deps, event, event.data.object as Stripe.Customer);
  }
  return ignore(`no handler for ${event.type}`);
}

function describe(adopted: AdoptOutcome): string {
  switch (adopted.kind) {
    case "duplicate_charge":
      return `duplicate_charge: ${adopted.paymentIntentId} beside succeeded attempt ${adopted.existingAttemptId}`;
    case "unknown_invoice":
      return `ignored: invoice ${adopted.invoiceId ?? "(none)"} is unknown`;
    case "applied":
      return adopted.changed
        ? `${adopted.adopted ? "adopted" : "applied"}: ${adopted.from} -> ${adopted.attempt.status}`
        : `stale: attempt stays ${adopted.attempt.status}`;
  }
}

async function planIntent(
  deps: PaymentDeps,
  event: Stripe.Event,
  intent: Stripe.PaymentIntent,
  stripeAtMs: number,
): Promise<Plan> {
  const attempt = await attemptOfIntent(deps.db, intent.id);
  const invoiceId = attempt?.invoiceId ?? intent.metadata?.invoice_id ?? null;
  if (invoiceId === null) {
    return ignore(`${intent.id} is not a meterline payment`);
  }
  const accountId = attempt?.accountId ?? intent.metadata?.account_id ?? null;
  return {
    invoiceId,
    accountId,
    async work(tx, ctx) {
      const adopted = await adoptIntent(
        tx,
        ctx,
        intent,
        stripeAtMs,
        `Stripe event ${event.type} (${event.id})`,
      );
      if (event.type === "payment_intent.payment_failed") {
        await sendPaymentSignal(
          deps.work,
          deps.log,
          failedChargeSignal(intent, accountId, stripeAtMs),
        );
      }
      return describe(adopted);
    },
  };
}

function failedChargeSignal(
  intent: Stripe.PaymentIntent,
  accountId: string | null,
  stripeAtMs: number,
): PaymentSignal {
  const error = intent.last_payment_error;
  const method = error?.payment_method;
  return {
    kind: "stripe.charge_failed",
    sourceId: idOf(error?.charge as string | { id: string } | null | undefined) ?? intent.id,
    accountId,
    stripeCustomerId: idOf(intent.customer as string | { id: string } | null),
    cardFingerprint: method?.card?.fingerprint ?? null,
    amountMinor: intentAmountMinor(intent),
    currency: intent.currency,
    occurredAtMs: stripeAtMs,
    evidence: {
      paymentIntentId: intent.id,
      declineCode: error?.decline_code ?? null,
      code: error?.code ?? null,
    },
  };
}

async function attemptOfChargeOrIntent(
  db: Queryable,
  chargeId: string | null,
  paymentIntentId: string | null,
): Promise<Attempt | null> {
  const byCharge = chargeId === null ? null : await attemptOfCharge(db, chargeId);
  return byCharge ?? (paymentIntentId === null ? null : await attemptOfIntent(db, paymentIntentId));
}

async function planRefunded(deps: PaymentDeps, charge: Stripe.Charge): Promise<Plan> {
  const attempt = await attemptOfChargeOrIntent(
    deps.db,
    charge.id,
    idOf(charge.payment_intent as string | { id: string } | null),
  );
  if (!attempt) {
    return ignore(`charge ${charge.id} is not a meterline payment`);
  }
  return {
    invoiceId: attempt.invoiceId,
    accountId: attempt.accountId,
    async work(tx, ctx) {
      const refunds = (charge.refunds?.data ?? []) as Stripe.Refund[];
      for (const refund of refunds) {
        await recordRefund(tx, ctx, attempt, refund, `Stripe refund ${refund.id}`);
      }
      const delta = await recordRefundedTotal(
        tx,
        ctx,
        attempt,
        BigInt(charge.amount_refunded),
        `Charge ${charge.id} refunded (Stripe total ${charge.amount_refunded})`,
      );
      return `refunded: +${delta} (charge total ${charge.amount_refunded})`;
    },
  };
}

async function planRefund(deps: PaymentDeps, refund: Stripe.Refund): Promise<Plan> {
  const attempt = await attemptOfChargeOrIntent(
    deps.db,
    idOf(refund.charge as string | { id: string } | null),
    idOf(refund.payment_intent as string | { id: string } | null),
  );
  if (!attempt) {
    return ignore(`refund ${refund.id} is not of a meterline payment`);
  }
  return {
    invoiceId: attempt.invoiceId,
    accountId: attempt.accountId,
    async work(tx, ctx) {
      const fresh = await recordRefund(tx, ctx, attempt, refund, `Stripe refund ${refund.id}`);
      return fresh ? `refund recorded: ${refund.id}` : `refund already recorded: ${refund.id}`;
    },
  };
}

async function planDispute(
  deps: PaymentDeps,
  event: Stripe.Event,
  dispute: Stripe.Dispute,
  stripeAtMs: number,
): Promise<Plan> {
  const attempt = await attemptOfChargeOrIntent(
    deps.db,
    idOf(dispute.charge as string | { id: string }),
    idOf(dispute.payment_intent as string | { id: string } | null),
  );
  if (!attempt) {
    return ignore(`dispute ${dispute.id} is not of a meterline payment`);
  }
  return {
    invoiceId: attempt.invoiceId,
    accountId: attempt.accountId,
    async work(tx, ctx) {
      const change = await recordDispute(tx, ctx, attempt, dispute, stripeAtMs);
      if (event.type === "charge.dispute.created") {
        await sendPaymentSignal(deps.work, deps.log, {
          kind: "stripe.dispute",
          sourceId: dispute.id,
          accountId: attempt.accountId,
          stripeCustomerId: attempt.stripeCustomerId,
          cardFingerprint: null,
          amountMinor: intentAmountMinor(dispute),
          currency: dispute.currency,
          occurredAtMs: stripeAtMs,
          evidence: {
            reason: dispute.reason,
            chargeId: attempt.stripeChargeId,
            invoiceId: attempt.invoiceId,
          },
        });
      }
      return `dispute ${change}: ${dispute.id} ${dispute.status}`;
    },
  };
}

async function planFraudWarning(
  deps: PaymentDeps,
  warning: Stripe.Radar.EarlyFraudWarning,
  stripeAtMs: number,
): Promise<Plan> {
  const attempt = await attemptOfChargeOrIntent(
    deps.db,
    idOf(warning.charge as string | { id: string }),
    idOf(warning.payment_intent as string | { id: string } | null | undefined),
  );
  if (!attempt) {
    return ignore(`early fraud warning ${warning.id} is not on a meterline payment`);
  }
  return {
    invoiceId: null,
    accountId: attempt.accountId,
    async work() {
      await sendPaymentSignal(deps.work, deps.log, {
        kind: "stripe.early_fraud_warning",
        sourceId: warning.id,
        accountId: attempt.accountId,
        stripeCustomerId: attempt.stripeCustomerId,
        cardFingerprint: null,
        amountMinor: attempt.amountMinor,
        currency: attempt.currency,
        occurredAtMs: stripeAtMs,
        evidence: {
          fraudType: warning.fraud_type,
          actionable: warning.actionable,
          chargeId: attempt.stripeChargeId,
          invoiceId: attempt.invoiceId,
        },
      });
      return `fraud signal sent: ${warning.id} (${warning.fraud_type})`;
    },
  };
}

async function planCustomer(
  deps: PaymentDeps,
  event: Stripe.Event,
  customer: Stripe.Customer,
): Promise<Plan> {
  const { rows } = await deps.db.query<{ id: string }>(
    "select id from accounts where stripe_customer_id = $1",
    [customer.id],
  );
  const accountId = rows[0]?.id;
  if (accountId === undefined) {
    return ignore(`customer ${customer.id} belongs to no account`);
  }
  if (event.type === "customer.deleted") {
    return {
      invoiceId: null,
      accountId,
      async work(_tx, ctx) {
        ctx.log.warn("the Stripe customer of an account was deleted", {
          accountId,
          customerId: customer.id,
        });
        return `customer deleted: account ${accountId} can no longer be charged`;
      },
    };
  }
  const previous = (event.data.previous_attributes ?? {}) as Record<string, unknown>;
  const methodChanged =
    "invoice_settings" in previous &&
    idOf(customer.invoice_settings?.default_payment_method as string | { id: string } | null) !==
      null;
  return {
    invoiceId: null,
    accountId,
    async work(tx, ctx) {
      if (!methodChanged) {
        return `customer updated: account ${accountId}`;
      }
      // A new card: failed invoices are retried at the next tick instead of waiting for the
      // schedule.
      const { rows: failing } = await tx.query<{ invoice_id: string }>(
        "select invoice_id from payment_dunning where account_id = $1 and state = 'active'",
        [accountId],
      );
      let sooner = 0;
      for (const row of failing) {
        sooner += (await retrySooner(tx, row.invoice_id, ctx.nowMs)) ? 1 : 0;
      }
      return `customer updated: new default payment method; ${sooner} retries brought forward`;
    },
  };
}
