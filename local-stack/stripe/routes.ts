/**
 * The v1 endpoints the sandbox serves, as method + path pattern -> handler. Search paths come
 * before `/:id` so `search` is never read as an id.
 */
import { listCharges, retrieveCharge, searchCharges } from "./charges.ts";
import type { Ctx } from "./context.ts";
import {
  createCustomer,
  deleteCustomer,
  listCustomers,
  retrieveCustomer,
  searchCustomers,
  updateCustomer,
} from "./customers.ts";
import {
  acceptDispute,
  listDisputes,
  listFraudWarnings,
  retrieveDispute,
  retrieveFraudWarning,
  updateDispute,
} from "./disputes.ts";
import { listEvents, retrieveEvent } from "./events.ts";
import type { FormObject } from "./form.ts";
import { Params } from "./params.ts";
import {
  listPaymentIntents,
  retrievePaymentIntent,
  searchPaymentIntents,
} from "./payment-intent-queries.ts";
import {
  cancelPaymentIntent,
  confirmPaymentIntent,
  createPaymentIntent,
  updatePaymentIntent,
} from "./payment-intents.ts";
import {
  attachPaymentMethod,
  createPaymentMethod,
  detachPaymentMethod,
  listCustomerPaymentMethods,
  listPaymentMethods,
  retrievePaymentMethod,
  updatePaymentMethod,
} from "./payment-methods.ts";
import { createRefund, listRefunds, retrieveRefund, updateRefund } from "./refunds.ts";

export type Handler = (ctx: Ctx, form: FormObject, ids: string[]) => unknown;

export interface Route {
  method: "GET" | "POST" | "DELETE";
  pattern: RegExp;
  handler: Handler;
}

function route(method: Route["method"], template: string, handler: Handler): Route {
  const source = template.replace(/:[a-z]+/g, "([^/]+)");
  return { method, pattern: new RegExp(`^${source}$`), handler };
}

/** A retrieve endpoint that takes no parameters besides `expand`. */
function retrieve(read: (ctx: Ctx, id: string) => unknown): Handler {
  return (ctx, form, [id]) => {
    new Params(form, []);
    return read(ctx, id as string);
  };
}

/** Every v1 endpoint, tried in order. */
export const ROUTES: Route[] = [
  route("POST", "/v1/customers", (ctx, form) => createCustomer(ctx, form)),
  route("GET", "/v1/customers", (ctx, form) => listCustomers(ctx, form)),
  route("GET", "/v1/customers/search", (ctx, form) => searchCustomers(ctx, form)),
  route("GET", "/v1/customers/:id", retrieve(retrieveCustomer)),
  route("POST", "/v1/customers/:id", (ctx, form, [id]) => updateCustomer(ctx, id as string, form)),
  route("DELETE", "/v1/customers/:id", (ctx, form, [id]) =>
    deleteCustomer(ctx, id as string, form),
  ),
  route("GET", "/v1/customers/:id/payment_methods", (ctx, form, [id]) =>
    listCustomerPaymentMethods(ctx, id as string, form),
  ),

  route("POST", "/v1/payment_methods", (ctx, form) => createPaymentMethod(ctx, form)),
  route("GET", "/v1/payment_methods", (ctx, form) => listPaymentMethods(ctx, form)),
  route("GET", "/v1/payment_methods/:id", retrieve(retrievePaymentMethod)),
  route("POST", "/v1/payment_methods/:id", (ctx, form, [id]) =>
    updatePaymentMethod(ctx, id as string, form),
  ),
  route("POST", "/v1/payment_methods/:id/attach", (ctx, form, [id]) =>
    attachPaymentMethod(ctx, id as string, form),
  ),
  route("POST", "/v1/payment_methods/:id/detach", (ctx, form, [id]) =>
    detachPaymentMethod(ctx, id as string, form),
  ),

  route("POST", "/v1/payment_intents", (ctx, form) => createPaymentIntent(ctx, form)),
  route("GET", "/v1/payment_intents", (ctx, form) => listPaymentIntents(ctx, form)),
  route("GET", "/v1/payment_intents/search", (ctx, form) => searchPaymentIntents(ctx, form)),
  route("GET", "/v1/payment_intents/:id", (ctx, form, [id]) =>
    retrievePaymentIntent(ctx, id as string, form),
  ),
  route("POST", "/v1/payment_intents/:id", (ctx, form, [id]) =>
    updatePaymentIntent(ctx, id as string, form),
  ),
  route("POST", "/v1/payment_intents/:id/confirm", (ctx, form, [id]) =>
    confirmPaymentIntent(ctx, id as string, form),
  ),
  route("POST", "/v1/payment_intents/:id/cancel", (ctx, form, [id]) =>
    cancelPaymentIntent(ctx, id as string, form),
  ),

  route("GET", "/v1/charges", (ctx, form) => listCharges(ctx, form)),
  route("GET", "/v1/charges/search", (ctx, form) => searchCharges(ctx, form)),
  route("GET", "/v1/charges/:id", (ctx, form, [id]) => retrieveCharge(ctx, id as string, form)),

  route("POST", "/v1/refunds", (ctx, form) => createRefund(ctx, form)),
  route("GET", "/v1/refunds", (ctx, form) => listRefunds(ctx, form)),
  route("GET", "/v1/refunds/:id", (ctx, form, [id]) => retrieveRefund(ctx, id as string, form)),
  route("POST", "/v1/refunds/:id", (ctx, form, [id]) => updateRefund(ctx, id as string, form)),

  route("GET", "/v1/disputes", (ctx, form) => listDisputes(ctx, form)),
  route("GET", "/v1/disputes/:id", (ctx, form, [id]) => retrieveDispute(ctx, id as string, form)),
  route("POST", "/v1/disputes/:id", (ctx, form, [id]) => updateDispute(ctx, id as string, form)),
  route("POST", "/v1/disputes/:id/close", (ctx, form, [id]) =>
    acceptDispute(ctx, id as string, form),
  ),

  route("GET", "/v1/radar/early_fraud_warnings", (ctx, form) => listFraudWarnings(ctx, form)),
  route("GET", "/v1/radar/early_fraud_warnings/:id", (ctx, form, [id]) =>
    retrieveFraudWarning(ctx, id as string, form),
  ),

  route("GET", "/v1/events", (ctx, form) => listEvents(ctx, form)),
  route("GET", "/v1/events/:id", retrieve(retrieveEvent)),
];

/** The route for `method path` and its decoded path ids, or undefined. */
export function matchRoute(
  method: string,
  path: string,
): { route: Route; ids: string[] } | undefined {
  for (const candidate of ROUTES) {
    if (candidate.method !== method) {
      continue;
    }
    const match = candidate.pattern.exec(path);
    if (match) {
      return { route: candidate, ids: match.slice(1).map((part) => decodeURIComponent(part)) };
    }
  }
  return undefined;
}
