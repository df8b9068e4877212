/**
 * What happens when a PaymentIntent is confirmed with a card: a Charge per attempt, the intent's
 * status transition, events in Stripe's order, and the test card's after-effects (dispute,
 * early fraud warning). Processing payments settle when their task falls due on the sandbox
 * clock or when the control API settles them.
 */
import { type CardBehaviour, testCard } from "./cards.ts";
import { chargeOutcome, type Decline, insertCharge } from "./charges.ts";
import type { Ctx, EventSink } from "./context.ts";
import { openDispute, openFraudWarning } from "./disputes.ts";
import { emitEvent } from "./events.ts";
import { cardError, invalidRequest, type StripeFailure } from "./failure.ts";
import { newId } from "./ids.ts";
import { attach } from "./payment-methods.ts";
import { type Account, clone, type SandboxState, type StoredObject } from "./state.ts";

/** Sandbox seconds a `processing` card payment takes to settle. */
export const PROCESSING_SECONDS = 600;

const PROCESSING_FAILURE: Decline = {
  code: "card_declined",
  declineCode: "generic_decline",
  message: "Your card was declined.",
};

/** Throws when `pm` cannot pay for an intent of `customerId` (Stripe's ownership rules). */
export function assertUsable(pm: StoredObject, customerId: string | null): void {
  if (pm.hidden.consumed) {
    throw invalidRequest(
      "This PaymentMethod was previously used without being attached to a Customer or was " +
        "detached from a Customer, and may not be used again.",
      { param: "payment_method" },
    );
  }
  const owner = pm.body.customer;
  if (typeof owner === "string" && owner !== customerId) {
    throw invalidRequest(
      `The PaymentMethod ${pm.id} belongs to the Customer ${owner}. Please include the ` +
        "Customer in the `customer` parameter on the PaymentIntent.",
      { param: "payment_method" },
    );
  }
}

function lastPaymentError(chargeId: string, decline: Decline, pm: StoredObject) {
  return {
    charge: chargeId,
    code: decline.code,
    decline_code: decline.declineCode,
    doc_url: `https://stripe.com/docs/error-codes/${decline.code.replace(/_/g, "-")}`,
    message: decline.message,
    payment_method: clone(pm.body),
    type: "card_error",
  };
}

/** After a payment went through: keep the card for the customer, or spend a one-off card. */
function keepPaymentMethod(ctx: Ctx, pi: StoredObject, pm: StoredObject): void {
  const customer = pi.body.customer;
  if (pm.body.customer !== null) {
    return;
  }
  if (typeof customer === "string" && pi.body.setup_future_usage) {
    attach(ctx, pm, customer);
    return;
  }
  pm.hidden.consumed = true;
  ctx.state.save(pm);
}

function markFailed(
  ctx: Ctx,
  pi: StoredObject,
  charge: StoredObject,
  pm: StoredObject,
  decline: Decline,
): StripeFailure {
  pi.body.status = "requires_payment_method";
  pi.body.payment_method = null;
  pi.body.processing = null;
  pi.body.latest_charge = charge.id;
  pi.body.last_payment_error = lastPaymentError(charge.id, decline, pm);
  ctx.state.save(pi);
  emitEvent(ctx, "charge.failed", charge.body);
  emitEvent(ctx, "payment_intent.payment_failed", pi.body);
  return cardError(decline.message, decline.code, decline.declineCode, {
    charge: charge.id,
    payment_intent: clone(pi.body),
    payment_method: clone(pm.body),
  });
}

function markSucceeded(
  ctx: Ctx,
  pi: StoredObject,
  charge: StoredObject,
  behaviour: CardBehaviour,
): void {
  pi.body.status = "succeeded";
  pi.body.amount_received = pi.body.amount;
  pi.body.processing = null;
  pi.body.last_payment_error = null;
  pi.body.latest_charge = charge.id;
  ctx.state.save(pi);
  emitEvent(ctx, "charge.succeeded", charge.body);
  emitEvent(ctx, "payment_intent.succeeded", pi.body);
  if (behaviour.kind === "dispute") {
    openDispute(ctx, charge);
  } else if (behaviour.kind === "early_fraud_warning") {
    openFraudWarning(ctx, charge);
  }
}

/**
 * Charges `pm` for `pi`. Returns the card error to answer with when the card declines (state is
 * already updated, as at Stripe: the failed charge exists), or null otherwise.
 */
export function attemptPayment(ctx: Ctx, pi: StoredObject, pm: StoredObject): StripeFailure | null {
  const behaviour = testCard(pm.hidden.cardNumber ?? "").behaviour;
  if (behaviour.kind === "decline") {
    const decline = {
      code: behaviour.code,
      declineCode: behaviour.declineCode,
      message: behaviour.message,
    };
    const charge = insertCharge(ctx, pi.body, pm.body, "failed", decline);
    return markFailed(ctx, pi, charge, pm, decline);
  }
  pi.body.payment_method = pm.id;
  if (behaviour.kind === "processing") {
    const charge = insertCharge(ctx, pi.body, pm.body, "pending", null);
    pi.body.status = "processing";
    pi.body.processing = { card: {}, type: "card" };
    pi.body.last_payment_error = null;
    pi.body.latest_charge = charge.id;
    ctx.state.save(pi);
    ctx.state.tasks.set(pi.id, {
      id: newId("task"),
      account: ctx.account.id,
      dueAt: ctx.now + PROCESSING_SECONDS,
      kind: "settle_payment",
      target: pi.id,
    });
    emitEvent(ctx, "charge.pending", charge.body);
    emitEvent(ctx, "payment_intent.processing", pi.body);
    keepPaymentMethod(ctx, pi, pm);
    return null;
  }
  const charge = insertCharge(ctx, pi.body, pm.body, "succeeded", null);
  keepPaymentMethod(ctx, pi, pm);
  markSucceeded(ctx, pi, charge, behaviour);
  return null;
}

/**
 * Moves a `processing` intent to its final state: the card's planned outcome unless
 * `outcome` overrides it. Throws when the intent is not processing.
 */
export function settlePayment(ctx: Ctx, pi: StoredObject, outcome?: "succeeded" | "failed"): void {
  if (pi.body.status !== "processing") {
    throw invalidRequest(`PaymentIntent ${pi.id} is ${String(pi.body.status)}, not processing.`);
  }
  ctx.state.tasks.delete(pi.id);
  const charge = ctx.state.find(ctx.account, String(pi.body.latest_charge));
  const pm = ctx.state.find(ctx.account, String(pi.body.payment_method));
  if (!charge || !pm) {
    throw invalidRequest(`PaymentIntent ${pi.id} has lost its charge or payment method.`);
  }
  const behaviour = testCard(pm.hidden.cardNumber ?? "").behaviour;
  const planned = behaviour.kind === "processing" ? behaviour.settlesAs : "succeeded";
  if ((outcome ?? planned) === "failed") {
    charge.body.status = "failed";
    charge.body.failure_code = PROCESSING_FAILURE.code;
    charge.body.failure_message = PROCESSING_FAILURE.message;
    charge.body.outcome = chargeOutcome(PROCESSING_FAILURE);
    ctx.state.save(charge);
    markFailed(ctx, pi, charge, pm, PROCESSING_FAILURE);
    return;
  }
  charge.body.status = "succeeded";
  charge.body.paid = true;
  charge.body.captured = true;
  charge.body.amount_captured = charge.body.amount;
  charge.body.outcome = chargeOutcome(null);
  ctx.state.save(charge);
  markSucceeded(ctx, pi, charge, behaviour);
}

/** Settles every processing payment of `account` whose time has come on its clock. */
export function runDueTasks(state: SandboxState, account: Account, events: EventSink): number {
  const now = state.nowSeconds(account);
  const due = [...state.tasks.values()]
    .filter((task) => task.account === account.id && task.dueAt <= now)
    .sort((a, b) => a.dueAt - b.dueAt);
  const ctx: Ctx = { state, account, requestId: null, idempotencyKey: null, now, events };
  for (const task of due) {
    const pi = state.find(account, task.target);
    if (pi && pi.body.status === "processing") {
      settlePayment(ctx, pi);
    } else {
      state.tasks.delete(task.target);
    }
  }
  return due.length;
}
