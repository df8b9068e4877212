/**
 * Refunds of succeeded card charges, full or partial, by `payment_intent` or `charge`; never
 * more than was captured and not yet refunded, never on a disputed charge. Card refunds
 * succeed at once in the sandbox. Endpoints: create, retrieve, update (metadata), list.
 */
import { requireCharge } from "./charges.ts";
import type { Ctx } from "./context.ts";
import { settleFraudWarnings } from "./disputes.ts";
import { emitEvent, previousAttributes } from "./events.ts";
import { badRequest, invalidRequest, resourceMissing } from "./failure.ts";
import type { FormObject } from "./form.ts";
import { newId } from "./ids.ts";
import { LIST_PARAMS, listPage } from "./lists.ts";
import { formatMinor } from "./money.ts";
import { applyMetadata, Params } from "./params.ts";
import { requirePaymentIntent, succeededChargeOf } from "./payment-intent-queries.ts";
import { clone, type StoredObject, type StripeObject } from "./state.ts";

const CREATE_PARAMS = ["amount", "charge", "payment_intent", "metadata", "reason"];

/** `POST /v1/refunds`; the whole unrefunded amount unless `amount` is given. */
export function createRefund(ctx: Ctx, form: FormObject): StripeObject {
  const params = new Params(form, CREATE_PARAMS);
  const chargeId = params.string("charge");
  const intentId = params.string("payment_intent");
  if (!chargeId && !intentId) {
    throw badRequest(
      "One of the following params should be provided for this request: payment_intent or charge.",
    );
  }
  const requested = params.integer("amount", { min: 1 });
  const reason = params.enumOf("reason", ["duplicate", "fraudulent", "requested_by_customer"]);
  const metadata = applyMetadata({}, params.raw.metadata);
  let charge: StoredObject;
  if (intentId) {
    charge = succeededChargeOf(ctx, requirePaymentIntent(ctx, intentId, "payment_intent"));
    if (chargeId && chargeId !== charge.id) {
      throw invalidRequest(`Charge ${chargeId} does not belong to PaymentIntent ${intentId}.`, {
        param: "charge",
      });
    }
  } else {
    charge = requireCharge(ctx, chargeId as string, "charge");
  }
  if (charge.body.status !== "succeeded") {
    throw invalidRequest(`Charge ${charge.id} has not succeeded and cannot be refunded.`, {
      param: "charge",
    });
  }
  if (charge.body.disputed === true) {
    throw invalidRequest(
      `Charge ${charge.id} has been disputed; refund it by accepting the dispute instead.`,
      { code: "charge_disputed" },
    );
  }
  const currency = String(charge.body.currency);
  const remaining = Number(charge.body.amount_captured) - Number(charge.body.amount_refunded);
  if (remaining <= 0) {
    throw invalidRequest(`Charge ${charge.id} has already been refunded.`, {
      code: "charge_already_refunded",
    });
  }
  const amount = requested ?? remaining;
  if (amount > remaining) {
    throw invalidRequest(
      `Refund amount (${formatMinor(amount, currency)}) is greater than unrefunded amount on ` +
        `charge (${formatMinor(remaining, currency)})`,
      { param: "amount", code: "amount_too_large" },
    );
  }
  const body: StripeObject = {
    id: newId("re"),
    object: "refund",
    amount,
    balance_transaction: null,
    charge: charge.id,
    created: ctx.now,
    currency,
    customer: charge.body.customer,
    customer_account: null,
    destination_details: {
      card: {
        reference_status: "pending",
        reference_type: "acquirer_reference_number",
        type: "refund",
      },
      type: "card",
    },
    metadata,
    payment_intent: charge.body.payment_intent,
    payment_method: charge.body.payment_method,
    reason: reason ?? null,
    receipt_number: null,
    source_transfer_reversal: null,
    status: "succeeded",
    transfer_reversal: null,
  };
  ctx.state.insert(ctx.account, body);
  const before = clone(charge.body);
  charge.body.amount_refunded = Number(charge.body.amount_refunded) + amount;
  charge.body.refunded = charge.body.amount_refunded === charge.body.amount_captured;
  ctx.state.save(charge);
  emitEvent(ctx, "refund.created", body);
  emitEvent(ctx, "charge.refunded", charge.body, previousAttributes(before, charge.body));
  if (charge.body.refunded === true) {
    settleFraudWarnings(ctx, charge.id);
  }
  return body;
}

function requireRefund(ctx: Ctx, id: string): StoredObject {
  const stored = ctx.state.findOfType(ctx.account, id, "refund");
  if (!stored) {
    throw resourceMissing("refund", id, "refund");
  }
  return stored;
}

/** `GET /v1/refunds/:id`. */
export function retrieveRefund(ctx: Ctx, id: string, query: FormObject): StripeObject {
  new Params(query, []);
  return requireRefund(ctx, id).body;
}

/** `POST /v1/refunds/:id` (metadata only). */
export function updateRefund(ctx: Ctx, id: string, form: FormObject): StripeObject {
  const params = new Params(form, ["metadata"]);
  const refund = requireRefund(ctx, id);
  const before = clone(refund.body);
  refund.body.metadata = applyMetadata(
    refund.body.metadata as Record<string, string>,
    params.raw.metadata,
  );
  ctx.state.save(refund);
  const previous = previousAttributes(before, refund.body);
  if (Object.keys(previous).length > 0) {
    emitEvent(ctx, "refund.updated", refund.body, previous);
  }
  return refund.body;
}

/** `GET /v1/refunds`, by `charge` and/or `payment_intent`. */
export function listRefunds(ctx: Ctx, query: FormObject): unknown {
  const params = new Params(query, [...LIST_PARAMS, "charge", "payment_intent"]);
  const charge = params.string("charge");
  const paymentIntent = params.string("payment_intent");
  const items = ctx.state
    .ofType(ctx.account, "refund")
    .filter(
      (stored) =>
        (!charge || stored.body.charge === charge) &&
        (!paymentIntent || stored.body.payment_intent === paymentIntent),
    );
  return listPage(ctx, items, params, "/v1/refunds", "refund");
}
