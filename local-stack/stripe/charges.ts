/**
 * Charges: one per confirmation attempt of a PaymentIntent (succeeded, failed or pending), with
 * the card details and outcome Stripe reports. Endpoints: retrieve, list, search.
 */
import type { Ctx } from "./context.ts";
import { resourceMissing } from "./failure.ts";
import type { FormObject } from "./form.ts";
import { newId } from "./ids.ts";
import { LIST_PARAMS, listPage, SEARCH_PARAMS, searchPage } from "./lists.ts";
import { Params } from "./params.ts";
import { compileQuery, type SearchFields } from "./search.ts";
import { clone, type StoredObject, type StripeObject } from "./state.ts";

export interface Decline {
  code: string;
  declineCode: string;
  message: string;
}

const SEARCH_FIELDS: SearchFields = {
  amount: { kind: "number", read: (body) => body.amount },
  created: { kind: "number", read: (body) => body.created },
  currency: { kind: "string", read: (body) => body.currency },
  customer: { kind: "string", read: (body) => body.customer },
  disputed: { kind: "boolean", read: (body) => body.disputed },
  refunded: { kind: "boolean", read: (body) => body.refunded },
  status: { kind: "string", read: (body) => body.status },
};

/** The charge outcome block for a final result (pending charges have none yet). */
export function chargeOutcome(decline: Decline | null): Record<string, unknown> {
  if (decline === null) {
    return {
      advice_code: null,
      network_advice_code: null,
      network_decline_code: null,
      network_status: "approved_by_network",
      reason: null,
      risk_level: "normal",
      risk_score: 20,
      seller_message: "Payment complete.",
      type: "authorized",
    };
  }
  return {
    advice_code: null,
    network_advice_code: null,
    network_decline_code: null,
    network_status: "declined_by_network",
    reason: decline.declineCode,
    risk_level: "normal",
    risk_score: 20,
    seller_message:
      decline.declineCode === "generic_decline"
        ? "The bank did not return any further details with this decline."
        : `The bank returned the decline code \`${decline.declineCode}\`.`,
    type: "issuer_declined",
  };
}

/** Records a charge for `pi` paid with `pm` in the given state. */
export function insertCharge(
  ctx: Ctx,
  pi: StripeObject,
  pm: StripeObject,
  status: "succeeded" | "failed" | "pending",
  decline: Decline | null,
): StoredObject {
  const card = pm.card as Record<string, unknown>;
  const amount = pi.amount as number;
  const succeeded = status === "succeeded";
  const body: StripeObject = {
    id: newId("ch"),
    object: "charge",
    amount,
    amount_captured: succeeded ? amount : 0,
    amount_refunded: 0,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: null,
    billing_details: clone(pm.billing_details),
    calculated_statement_descriptor: "METERLINE SANDBOX",
    captured: succeeded,
    created: ctx.now,
    currency: pi.currency,
    customer: pi.customer,
    description: pi.description,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: decline?.code ?? null,
    failure_message: decline?.message ?? null,
    fraud_details: {},
    livemode: false,
    metadata: clone(pi.metadata),
    on_behalf_of: null,
    outcome: status === "pending" ? null : chargeOutcome(decline),
    paid: succeeded,
    payment_intent: pi.id,
    payment_method: pm.id,
    payment_method_details: {
      card: {
        amount_authorized: status === "failed" ? null : amount,
        authorization_code: status === "failed" ? null : "123456",
        brand: card.brand,
        checks: clone(card.checks),
        country: card.country,
        exp_month: card.exp_month,
        exp_year: card.exp_year,
        extended_authorization: { status: "disabled" },
        fingerprint: card.fingerprint,
        funding: card.funding,
        incremental_authorization: { status: "unavailable" },
        installments: null,
        last4: card.last4,
        mandate: null,
        multicapture: { status: "unavailable" },
        network: card.brand,
        network_token: { used: false },
        network_transaction_id: status === "failed" ? null : "000000000000000",
        overcapture: { maximum_amount_capturable: amount, status: "unavailable" },
        regulated_status: "unregulated",
        three_d_secure: null,
        wallet: null,
      },
      type: "card",
    },
    radar_options: {},
    receipt_email: pi.receipt_email,
    receipt_number: null,
    receipt_url: null,
    refunded: false,
    review: null,
    shipping: null,
    source: null,
    source_transfer: null,
    statement_descriptor: pi.statement_descriptor,
    statement_descriptor_suffix: pi.statement_descriptor_suffix,
    status,
    transfer_data: null,
    transfer_group: pi.transfer_group,
  };
  return ctx.state.insert(ctx.account, body);
}

/** The caller's charge `id`, or 404 resource_missing on `param`. */
export function requireCharge(ctx: Ctx, id: string, param = "id"): StoredObject {
  const stored = ctx.state.findOfType(ctx.account, id, "charge");
  if (!stored) {
    throw resourceMissing("charge", id, param);
  }
  return stored;
}

/** `GET /v1/charges/:id`. */
export function retrieveCharge(ctx: Ctx, id: string, query: FormObject): StripeObject {
  new Params(query, []);
  return requireCharge(ctx, id).body;
}

/** `GET /v1/charges`, filtered by `customer` and/or `payment_intent`. */
export function listCharges(ctx: Ctx, query: FormObject): unknown {
  const params = new Params(query, [
    ...LIST_PARAMS,
    "customer",
    "payment_intent",
    "transfer_group",
  ]);
  const customer = params.string("customer");
  const paymentIntent = params.string("payment_intent");
  const items = ctx.state
    .ofType(ctx.account, "charge")
    .filter(
      (stored) =>
        (!customer || stored.body.customer === customer) &&
        (!paymentIntent || stored.body.payment_intent === paymentIntent),
    );
  return listPage(ctx, items, params, "/v1/charges", "charge");
}

/** `GET /v1/charges/search`. */
export function searchCharges(ctx: Ctx, query: FormObject): unknown {
  const params = new Params(query, SEARCH_PARAMS);
  const matches = compileQuery(params.requiredString("query"), SEARCH_FIELDS, "charges");
  const items = ctx.state.ofType(ctx.account, "charge").filter((stored) => matches(stored.body));
  return searchPage(items, params, "/v1/charges/search");
}
