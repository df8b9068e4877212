/**
 * Changing PaymentIntents (cards, automatic capture): create (optionally confirming, on or off
 * session), confirm, update, cancel. Statuses move as Stripe's do:
 * requires_payment_method -> requires_confirmation -> succeeded | processing, and a decline
 * returns to requires_payment_method with `last_payment_error` and a 402 card_error.
 */
import type { Ctx } from "./context.ts";
import { requireCustomer } from "./customers.ts";
import { emitEvent } from "./events.ts";
import { badRequest, unexpectedState } from "./failure.ts";
import type { FormObject } from "./form.ts";
import { newId, randomToken } from "./ids.ts";
import { readAmount, readCurrency } from "./money.ts";
import { applyMetadata, Params } from "./params.ts";
import { requirePaymentIntent } from "./payment-intent-queries.ts";
import { usePaymentMethod } from "./payment-methods.ts";
import { assertUsable, attemptPayment } from "./payments.ts";
import { clone, type StoredObject, type StripeObject } from "./state.ts";

const CREATE_PARAMS = [
  "amount",
  "currency",
  "customer",
  "payment_method",
  "confirm",
  "off_session",
  "metadata",
  "description",
  "receipt_email",
  "statement_descriptor",
  "statement_descriptor_suffix",
  "setup_future_usage",
  "payment_method_types",
  "automatic_payment_methods",
  "capture_method",
  "error_on_requires_action",
  "return_url",
  "transfer_group",
];
const CONFIRM_PARAMS = [
  "payment_method",
  "off_session",
  "return_url",
  "error_on_requires_action",
  "setup_future_usage",
  "receipt_email",
];
const UPDATE_PARAMS = [
  "amount",
  "currency",
  "customer",
  "description",
  "metadata",
  "payment_method",
  "receipt_email",
  "setup_future_usage",
  "statement_descriptor",
  "statement_descriptor_suffix",
];
/** What may still change once an intent is processing, succeeded or canceled. */
const ALWAYS_UPDATABLE = ["description", "metadata", "receipt_email"];
const EDITABLE_STATUSES = ["requires_payment_method", "requires_confirmation", "requires_action"];
const CONFIRMABLE_STATUSES = EDITABLE_STATUSES;
const CANCELABLE_STATUSES = [...EDITABLE_STATUSES, "requires_capture"];

/** `off_session` takes true/false or one_off/recurring; any truthy form means off session. */
function readOffSession(params: Params): boolean | undefined {
  const value = params.string("off_session");
  if (value === undefined || value === null) {
    return undefined;
  }
  if (!["true", "false", "one_off", "recurring"].includes(value)) {
    throw badRequest(`Invalid off_session: ${value}`, "off_session");
  }
  return value !== "false";
}

/** Resolves `payment_method` for an intent and checks the customer may use it. */
function paymentMethodFor(ctx: Ctx, id: string, customer: string | null): StoredObject {
  const pm = usePaymentMethod(ctx, id, "payment_method");
  assertUsable(pm, customer);
  return pm;
}

function confirm(ctx: Ctx, pi: StoredObject, pm: StoredObject): StripeObject {
  const failure = attemptPayment(ctx, pi, pm);
  if (failure) {
    throw failure;
  }
  return pi.body;
}

/** `POST /v1/payment_intents`; with `confirm=true` it charges at once (402 on a decline). */
export function createPaymentIntent(ctx: Ctx, form: FormObject): StripeObject {
  const params = new Params(form, CREATE_PARAMS);
  const currency = readCurrency(params, true) as string;
  const amount = readAmount(params, currency, true) as number;
  const shouldConfirm = params.boolean("confirm") ?? false;
  const offSession = readOffSession(params);
  if (offSession !== undefined && !shouldConfirm) {
    throw badRequest("off_session can only be used when confirm=true.", "off_session");
  }
  const captureMethod = params.enumOf("capture_method", ["automatic", "automatic_async", "manual"]);
  if (captureMethod === "manual") {
    throw badRequest(
      "The Stripe sandbox models automatic capture only (capture_method=manual is not modelled).",
      "capture_method",
    );
  }
  const types = params.list("payment_method_types");
  if (types?.some((type) => type !== "card")) {
    throw badRequest("The Stripe sandbox models card payments only.", "payment_method_types");
  }
  const automatic = params.hash("automatic_payment_methods", ["enabled", "allow_redirects"]);
  const setupFutureUsage = params.enumOf("setup_future_usage", ["off_session", "on_session"]);
  const metadata = applyMetadata({}, params.raw.metadata);
  const customerId = params.string("customer") ?? null;
  if (customerId) {
    requireCustomer(ctx, customerId, "customer");
  }
  const pmId = params.string("payment_method");
  const pm = pmId ? paymentMethodFor(ctx, pmId, customerId) : undefined;
  const id = newId("pi");
  const body: StripeObject = {
    id,
    object: "payment_intent",
    allowed_payment_method_types: null,
    amount,
    amount_capturable: 0,
    amount_details: { tip: {} },
    amount_received: 0,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods:
      types || automatic?.boolean("enabled") === false
        ? null
        : {
            allow_redirects: automatic?.enumOf("allow_redirects", ["always", "never"]) ?? "always",
            enabled: true,
          },
    canceled_at: null,
    cancellation_reason: null,
    capture_method: captureMethod ?? "automatic_async",
    client_secret: `${id}_secret_${randomToken(25)}`,
    confirmation_method: "automatic",
    created: ctx.now,
    currency,
    customer: customerId,
    customer_account: null,
    description: params.string("description") ?? null,
    excluded_payment_method_types: null,
    last_payment_error: null,
    latest_charge: null,
    livemode: false,
    managed_payments: null,
    metadata,
    next_action: null,
    on_behalf_of: null,
    payment_method: pm ? pm.id : null,
    payment_method_configuration_details: null,
    payment_method_options: {
      card: {
        installments: null,
        mandate_options: null,
        network: null,
        request_three_d_secure: "automatic",
      },
    },
    payment_method_types: ["card"],
    payment_record: null,
    processing: null,
    receipt_email: params.string("receipt_email") ?? null,
    review: null,
    setup_future_usage: setupFutureUsage ?? null,
    shipping: null,
    source: null,
    statement_descriptor: params.string("statement_descriptor", { maxLength: 22 }) ?? null,
    statement_descriptor_suffix:
      params.string("statement_descriptor_suffix", { maxLength: 22 }) ?? null,
    status: pm ? "requires_confirmation" : "requires_payment_method",
    transfer_data: null,
    transfer_group: params.string("transfer_group") ?? null,
  };
  if (shouldConfirm && !pm) {
    throw badRequest(
      "You cannot confirm this PaymentIntent because it's missing a payment method. Pass " +
        "`payment_method` (attached to the customer) with confirm=true.",
      "payment_method",
    );
  }
  const stored = ctx.state.insert(ctx.account, body);
  emitEvent(ctx, "payment_intent.created", body);
  if (shouldConfirm && pm) {
    return confirm(ctx, stored, pm);
  }
  return body;
}

/** `POST /v1/payment_intents/:id/confirm`. */
export function confirmPaymentIntent(ctx: Ctx, id: string, form: FormObject): StripeObject {
  const params = new Params(form, CONFIRM_PARAMS);
  readOffSession(params);
  const setupFutureUsage = params.enumOf("setup_future_usage", ["off_session", "on_session"]);
  const receiptEmail = params.string("receipt_email");
  const pi = requirePaymentIntent(ctx, id);
  const status = String(pi.body.status);
  if (!CONFIRMABLE_STATUSES.includes(status)) {
    throw unexpectedState(
      status === "succeeded"
        ? "You cannot confirm this PaymentIntent because it has already succeeded after being " +
            "previously confirmed."
        : `You cannot confirm this PaymentIntent because it has a status of ${status}. Only a ` +
            `PaymentIntent with one of the following statuses may be confirmed: ` +
            `${CONFIRMABLE_STATUSES.join(", ")}.`,
      clone(pi.body),
    );
  }
  const customer = (pi.body.customer as string | null) ?? null;
  const pmId = params.string("payment_method") ?? (pi.body.payment_method as string | null);
  if (!pmId) {
    throw unexpectedState(
      "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm " +
        `the PaymentIntent with ${customer ?? "a customer"}, specify a payment method ` +
        "attached to this customer along with the customer ID.",
      clone(pi.body),
    );
  }
  const pm = paymentMethodFor(ctx, pmId, customer);
  if (setupFutureUsage) {
    pi.body.setup_future_usage = setupFutureUsage;
  }
  if (receiptEmail !== undefined) {
    pi.body.receipt_email = receiptEmail;
  }
  ctx.state.save(pi);
  return confirm(ctx, pi, pm);
}

/**
 * `POST /v1/payment_intents/:id`; once processing or final, only description, metadata and
 * receipt_email may change.
 */
export function updatePaymentIntent(ctx: Ctx, id: string, form: FormObject): StripeObject {
  const params = new Params(form, UPDATE_PARAMS);
  const pi = requirePaymentIntent(ctx, id);
  const status = String(pi.body.status);
  if (!EDITABLE_STATUSES.includes(status)) {
    const locked = Object.keys(form).filter(
      (key) => key !== "expand" && !ALWAYS_UPDATABLE.includes(key),
    );
    if (locked.length > 0) {
      throw unexpectedState(
        `You cannot update ${locked.join(", ")} on a PaymentIntent with status ${status}.`,
        clone(pi.body),
      );
    }
  }
  const draft = clone(pi.body);
  const currency = readCurrency(params, false) ?? String(draft.currency);
  draft.currency = currency;
  draft.amount = readAmount(params, currency, false) ?? draft.amount;
  const customerId = params.string("customer");
  if (customerId) {
    requireCustomer(ctx, customerId, "customer");
  }
  if (customerId !== undefined) {
    draft.customer = customerId;
  }
  for (const field of [
    "description",
    "receipt_email",
    "statement_descriptor",
    "statement_descriptor_suffix",
  ]) {
    const value = params.string(field);
    if (value !== undefined) {
      draft[field] = value;
    }
  }
  const setupFutureUsage = params.enumOf("setup_future_usage", ["off_session", "on_session"]);
  if (setupFutureUsage !== undefined) {
    draft.setup_future_usage = setupFutureUsage;
  }
  draft.metadata = applyMetadata(draft.metadata as Record<string, string>, params.raw.metadata);
  const pmId = params.string("payment_method");
  if (pmId) {
    const pm = paymentMethodFor(ctx, pmId, (draft.customer as string | null) ?? null);
    draft.payment_method = pm.id;
    draft.status = "requires_confirmation";
  } else if (pmId === null) {
    draft.payment_method = null;
    draft.status = "requires_payment_method";
  }
  pi.body = draft;
  ctx.state.save(pi);
  return draft;
}

/** `POST /v1/payment_intents/:id/cancel`. */
export function cancelPaymentIntent(ctx: Ctx, id: string, form: FormObject): StripeObject {
  const params = new Params(form, ["cancellation_reason"]);
  const reason = params.enumOf("cancellation_reason", [
    "abandoned",
    "duplicate",
    "fraudulent",
    "requested_by_customer",
  ]);
  const pi = requirePaymentIntent(ctx, id);
  const status = String(pi.body.status);
  if (!CANCELABLE_STATUSES.includes(status)) {
    throw unexpectedState(
      `You cannot cancel this PaymentIntent because it has a status of ${status}. Only a ` +
        "PaymentIntent with one of the following statuses may be canceled: " +
        `${CANCELABLE_STATUSES.join(", ")}.`,
      clone(pi.body),
    );
  }
  pi.body.status = "canceled";
  pi.body.canceled_at = ctx.now;
  pi.body.cancellation_reason = reason ?? null;
  ctx.state.save(pi);
  emitEvent(ctx, "payment_intent.canceled", pi.body);
  return pi.body;
}
