/**
 * Reading PaymentIntents: retrieve, list (by customer), search (amount, created, currency,
 * customer, status, metadata), and the lookups other resources use.
 */
import type { Ctx } from "./context.ts";
import { invalidRequest, resourceMissing } from "./failure.ts";
import type { FormObject } from "./form.ts";
import { LIST_PARAMS, listPage, SEARCH_PARAMS, searchPage } from "./lists.ts";
import { Params } from "./params.ts";
import { compileQuery, type SearchFields } from "./search.ts";
import type { StoredObject, StripeObject } from "./state.ts";

const SEARCH_FIELDS: SearchFields = {
  amount: { kind: "number", read: (body) => body.amount },
  created: { kind: "number", read: (body) => body.created },
  currency: { kind: "string", read: (body) => body.currency },
  customer: { kind: "string", read: (body) => body.customer },
  status: { kind: "string", read: (body) => body.status },
};

/** The caller's PaymentIntent `id`, or 404 resource_missing on `param`. */
export function requirePaymentIntent(ctx: Ctx, id: string, param = "intent"): StoredObject {
  const stored = ctx.state.findOfType(ctx.account, id, "payment_intent");
  if (!stored) {
    throw resourceMissing("payment_intent", id, param);
  }
  return stored;
}

/** `GET /v1/payment_intents/:id`. */
export function retrievePaymentIntent(ctx: Ctx, id: string, query: FormObject): StripeObject {
  new Params(query, ["client_secret"]);
  return requirePaymentIntent(ctx, id).body;
}

/** `GET /v1/payment_intents`, optionally by `customer`. */
export function listPaymentIntents(ctx: Ctx, query: FormObject): unknown {
  const params = new Params(query, [...LIST_PARAMS, "customer"]);
  const customer = params.string("customer");
  const items = ctx.state
    .ofType(ctx.account, "payment_intent")
    .filter((stored) => !customer || stored.body.customer === customer);
  return listPage(ctx, items, params, "/v1/payment_intents", "payment_intent");
}

/** `GET /v1/payment_intents/search`. */
export function searchPaymentIntents(ctx: Ctx, query: FormObject): unknown {
  const params = new Params(query, SEARCH_PARAMS);
  const matches = compileQuery(params.requiredString("query"), SEARCH_FIELDS, "payment_intents");
  const items = ctx.state
    .ofType(ctx.account, "payment_intent")
    .filter((stored) => matches(stored.body));
  return searchPage(items, params, "/v1/payment_intents/search");
}

/** Used by refunds: the intent's successful charge. */
export function succeededChargeOf(ctx: Ctx, pi: StoredObject): StoredObject {
  const charge = ctx.state.find(ctx.account, String(pi.body.latest_charge));
  if (pi.body.status !== "succeeded" || !charge) {
    throw invalidRequest(
      `This PaymentIntent (${pi.id}) does not have a successful charge to refund.`,
      { param: "payment_intent" },
    );
  }
  return charge;
}
