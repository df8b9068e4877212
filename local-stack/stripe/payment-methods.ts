/**
 * Card PaymentMethods: create (by test number or `tok_*`), the `pm_card_*` shortcuts (each use
 * makes a new PaymentMethod, as at Stripe), retrieve, update, attach (which checks the card, so
 * most declining cards fail there), detach, list.
 */
import {
  fingerprint,
  isPaymentMethodShortcut,
  luhnValid,
  shortcutNumber,
  testCard,
} from "./cards.ts";
import type { Ctx } from "./context.ts";
import { emitEvent, previousAttributes } from "./events.ts";
import { badRequest, cardError, invalidRequest, missingParam, resourceMissing } from "./failure.ts";
import type { FormObject } from "./form.ts";
import { newId } from "./ids.ts";
import { LIST_PARAMS, listPage } from "./lists.ts";
import { applyMetadata, Params } from "./params.ts";
import { type BillingDetails, emptyBillingDetails, readBillingDetails } from "./shapes.ts";
import { clone, type StoredObject, type StripeObject } from "./state.ts";

const CREATE_PARAMS = ["type", "card", "billing_details", "metadata", "allow_redisplay"];
const CARD_PARAMS = ["number", "exp_month", "exp_year", "cvc", "token"];
const DISPLAY_BRAND: Record<string, string> = { amex: "american_express" };

interface CardInput {
  number: string;
  expMonth: number;
  expYear: number;
  cvcGiven: boolean;
}

function cardBody(input: CardInput): Record<string, unknown> {
  const card = testCard(input.number);
  return {
    brand: card.brand,
    checks: {
      address_line1_check: null,
      address_postal_code_check: null,
      cvc_check: input.cvcGiven ? "unchecked" : null,
    },
    country: "US",
    display_brand: DISPLAY_BRAND[card.brand] ?? card.brand,
    exp_month: input.expMonth,
    exp_year: input.expYear,
    fingerprint: fingerprint(input.number),
    funding: card.funding,
    generated_from: null,
    last4: input.number.slice(-4),
    networks: { available: [card.brand], preferred: null },
    regulated_status: "unregulated",
    three_d_secure_usage: { supported: true },
    wallet: null,
  };
}

function insertCard(
  ctx: Ctx,
  input: CardInput,
  billing: BillingDetails,
  metadata: Record<string, string>,
  allowRedisplay: string,
): StoredObject {
  const body: StripeObject = {
    id: newId("pm"),
    object: "payment_method",
    allow_redisplay: allowRedisplay,
    billing_details: billing,
    card: cardBody(input),
    created: ctx.now,
    customer: null,
    customer_account: null,
    livemode: false,
    metadata,
    type: "card",
  };
  return ctx.state.insert(ctx.account, body, { cardNumber: input.number });
}

/** Shortcut cards expire in December of next year (sandbox clock). */
function shortcutInput(ctx: Ctx, number: string): CardInput {
  const year = new Date(ctx.now * 1000).getUTCFullYear();
  return { number, expMonth: 12, expYear: year + 1, cvcGiven: false };
}

/**
 * The PaymentMethod `id` names, for use in an operation: a `pm_card_*` shortcut becomes a new
 * PaymentMethod; anything else must exist in the caller's account.
 */
export function usePaymentMethod(ctx: Ctx, id: string, param: string): StoredObject {
  const number = isPaymentMethodShortcut(id) ? shortcutNumber(id) : undefined;
  if (number) {
    return insertCard(ctx, shortcutInput(ctx, number), emptyBillingDetails(), {}, "unspecified");
  }
  const stored = ctx.state.findOfType(ctx.account, id, "payment_method");
  if (!stored) {
    throw resourceMissing("PaymentMethod", id, param);
  }
  return stored;
}

function readCard(ctx: Ctx, params: Params): CardInput {
  const card = params.hash("card", CARD_PARAMS);
  if (!card) {
    throw missingParam("card");
  }
  const token = card.string("token");
  if (token) {
    const number = shortcutNumber(token);
    if (!number || !token.startsWith("tok_")) {
      throw resourceMissing("token", token, "card[token]");
    }
    return shortcutInput(ctx, number);
  }
  const number = card.requiredString("number").replace(/[\s-]/g, "");
  const expMonth = card.integer("exp_month", { required: true }) as number;
  let expYear = card.integer("exp_year", { required: true }) as number;
  const cvc = card.string("cvc");
  if (!luhnValid(number)) {
    throw cardError(
      "Your card number is incorrect.",
      "incorrect_number",
      undefined,
      {},
      "card[number]",
    );
  }
  if (expMonth < 1 || expMonth > 12) {
    throw cardError(
      "Your card's expiration month is invalid.",
      "invalid_expiry_month",
      undefined,
      {},
      "card[exp_month]",
    );
  }
  if (expYear < 100) {
    expYear += 2000;
  }
  const now = new Date(ctx.now * 1000);
  const nowYear = now.getUTCFullYear();
  if (expYear < nowYear || (expYear === nowYear && expMonth < now.getUTCMonth() + 1)) {
    const field = expYear < nowYear ? "year" : "month";
    throw cardError(
      `Your card's expiration ${field} is in the past.`,
      `invalid_expiry_${field}`,
      undefined,
      {},
      `card[exp_${field}]`,
    );
  }
  if (cvc && !/^\d{3,4}$/.test(cvc)) {
    throw cardError(
      "Your card's security code is invalid.",
      "invalid_cvc",
      undefined,
      {},
      "card[cvc]",
    );
  }
  return { number, expMonth, expYear, cvcGiven: Boolean(cvc) };
}

/** `POST /v1/payment_methods` (type card, by number or `tok_*`). */
export function createPaymentMethod(ctx: Ctx, form: FormObject): StripeObject {
  const params = new Params(form, CREATE_PARAMS);
  const type = params.requiredString("type");
  if (type !== "card") {
    throw badRequest(
      `The Stripe sandbox models card PaymentMethods only, not type ${type}.`,
      "type",
    );
  }
  const input = readCard(ctx, params);
  const billing = readBillingDetails(params, emptyBillingDetails());
  const metadata = applyMetadata({}, params.raw.metadata);
  const redisplay = params.enumOf("allow_redisplay", ["always", "limited", "unspecified"]);
  return insertCard(ctx, input, billing, metadata, redisplay ?? "unspecified").body;
}

/** `GET /v1/payment_methods/:id`. */
export function retrievePaymentMethod(ctx: Ctx, id: string): StripeObject {
  return usePaymentMethod(ctx, id, "payment_method").body;
}

/** `POST /v1/payment_methods/:id` (billing details, metadata, expiry). */
export function updatePaymentMethod(ctx: Ctx, id: string, form: FormObject): StripeObject {
  const params = new Params(form, ["billing_details", "metadata", "card", "allow_redisplay"]);
  const stored = usePaymentMethod(ctx, id, "payment_method");
  const before = clone(stored.body);
  const body = stored.body;
  body.billing_details = readBillingDetails(params, body.billing_details as BillingDetails);
  body.metadata = applyMetadata(body.metadata as Record<string, string>, params.raw.metadata);
  const redisplay = params.enumOf("allow_redisplay", ["always", "limited", "unspecified"]);
  if (redisplay) {
    body.allow_redisplay = redisplay;
  }
  const card = params.hash("card", ["exp_month", "exp_year"]);
  if (card) {
    const cardFields = body.card as Record<string, unknown>;
    cardFields.exp_month = card.integer("exp_month") ?? cardFields.exp_month;
    cardFields.exp_year = card.integer("exp_year") ?? cardFields.exp_year;
  }
  ctx.state.save(stored);
  const previous = previousAttributes(before, body);
  if (Object.keys(previous).length > 0) {
    emitEvent(ctx, "payment_method.updated", body, previous);
  }
  return body;
}

/**
 * Throws what Stripe answers when `pm` cannot be attached to `customerId`: already attached
 * elsewhere, used once without a customer, or a card that fails the attach-time check.
 */
export function assertAttachable(pm: StoredObject, customerId: string): void {
  const owner = pm.body.customer;
  if (owner !== null && owner !== customerId) {
    throw invalidRequest(
      "The payment method you provided has already been attached to a customer.",
      {
        param: "payment_method",
      },
    );
  }
  if (pm.hidden.consumed) {
    throw invalidRequest(
      "This PaymentMethod was previously used without being attached to a Customer or was " +
        "detached from a Customer, and may not be used again.",
      { param: "payment_method" },
    );
  }
  const behaviour = testCard(pm.hidden.cardNumber ?? "").behaviour;
  if (behaviour.kind === "decline" && behaviour.failsOnAttach) {
    throw cardError(behaviour.message, behaviour.code, behaviour.declineCode);
  }
}

/** Attaches an attachable PaymentMethod and records payment_method.attached. */
export function attach(ctx: Ctx, pm: StoredObject, customerId: string): void {
  if (pm.body.customer === customerId) {
    return;
  }
  pm.body.customer = customerId;
  ctx.state.save(pm);
  emitEvent(ctx, "payment_method.attached", pm.body);
}

/** `POST /v1/payment_methods/:id/attach`. */
export function attachPaymentMethod(ctx: Ctx, id: string, form: FormObject): StripeObject {
  const params = new Params(form, ["customer"]);
  const customerId = params.requiredString("customer");
  const customer = ctx.state.findOfType(ctx.account, customerId, "customer");
  if (!customer || customer.hidden.deleted) {
    throw resourceMissing("customer", customerId, "customer");
  }
  const pm = usePaymentMethod(ctx, id, "payment_method");
  assertAttachable(pm, customerId);
  attach(ctx, pm, customerId);
  return pm.body;
}

/** `POST /v1/payment_methods/:id/detach`; clears it as the customer's default. */
export function detachPaymentMethod(ctx: Ctx, id: string, form: FormObject): StripeObject {
  new Params(form, []);
  const pm = usePaymentMethod(ctx, id, "payment_method");
  const customerId = pm.body.customer;
  if (typeof customerId !== "string") {
    throw invalidRequest(
      "The payment method you provided is not attached to a customer so detachment is impossible.",
    );
  }
  pm.body.customer = null;
  pm.hidden.consumed = true;
  ctx.state.save(pm);
  emitEvent(ctx, "payment_method.detached", pm.body, { customer: customerId });
  const customer = ctx.state.find(ctx.account, customerId);
  const settings = customer?.body.invoice_settings as Record<string, unknown> | undefined;
  if (customer && settings?.default_payment_method === id) {
    settings.default_payment_method = null;
    ctx.state.save(customer);
    emitEvent(ctx, "customer.updated", customer.body, {
      invoice_settings: { default_payment_method: id },
    });
  }
  return pm.body;
}

function listFor(ctx: Ctx, params: Params, customerId: string | undefined, url: string): unknown {
  const type = params.string("type");
  if (type && type !== "card") {
    return { object: "list", data: [], has_more: false, url };
  }
  const items = ctx.state
    .ofType(ctx.account, "payment_method")
    .filter((stored) => customerId === undefined || stored.body.customer === customerId);
  return listPage(ctx, items, params, url, "PaymentMethod");
}

/** `GET /v1/payment_methods?customer=`. */
export function listPaymentMethods(ctx: Ctx, query: FormObject): unknown {
  const params = new Params(query, [...LIST_PARAMS, "customer", "type"]);
  return listFor(ctx, params, params.string("customer") ?? undefined, "/v1/payment_methods");
}

/** `GET /v1/customers/:id/payment_methods`. */
export function listCustomerPaymentMethods(
  ctx: Ctx,
  customerId: string,
  query: FormObject,
): unknown {
  const params = new Params(query, [...LIST_PARAMS, "type", "allow_redisplay"]);
  const customer = ctx.state.findOfType(ctx.account, customerId, "customer");
  if (!customer) {
    throw resourceMissing("customer", customerId);
  }
  return listFor(ctx, params, customerId, `/v1/customers/${customerId}/payment_methods`);
}
