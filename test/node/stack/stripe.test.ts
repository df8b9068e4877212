/**
 * The Stripe sandbox through the official SDK (via openStripe, as meterline calls it). Each
 * describe block works in its own sandbox account, so clock moves, faults and webhook queues of
 * one block never reach another, nor other test files running at the same time.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { openStripe } from "../../../lib/adapters/stripe.ts";
import { type RunningService, spawnService } from "../../../local-stack/process.ts";
import type { StripeInfo } from "../../../local-stack/stack.ts";
import {
  type SandboxAccount,
  StripeSandboxControl,
} from "../../../local-stack/stripe/sandbox-client.ts";

const coordinates = inject("stack").stripe;
const root = new StripeSandboxControl(coordinates);
const subtle = Stripe.createSubtleCryptoProvider();

interface Sandbox {
  account: SandboxAccount;
  control: StripeSandboxControl;
  stripe: Stripe;
}

async function freshAccount(
  options: Parameters<StripeSandboxControl["createAccount"]>[0] = {},
): Promise<Sandbox> {
  const account = await root.createAccount(options);
  return {
    account,
    control: root.as(account.secretKey),
    stripe: openStripe({ secretKey: account.secretKey, apiBase: coordinates.url }),
  };
}

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  try {
    await promise;
  } catch (error) {
    return error as Stripe.errors.StripeError;
  }
  throw new Error("expected the call to fail");
}

/** A response header of a successful SDK call (the fetch client keeps a Headers object). */
function header(result: { lastResponse: { headers: unknown } }, name: string): string | null {
  return (result.lastResponse.headers as Headers).get(name);
}

/** A customer with an attached default card, paid off-session as meterline does. */
async function customerWithCard(stripe: Stripe, card: string, email = "billing@example.com") {
  const customer = await stripe.customers.create({
    email,
    payment_method: card,
    invoice_settings: { default_payment_method: card },
  });
  return {
    customer,
    paymentMethod: customer.invoice_settings.default_payment_method as string,
  };
}

describe("customers and payment methods", () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await freshAccount();
  });

  it("creates a customer whose default card has brand, last4, stable fingerprint", async () => {
    const { stripe } = sandbox;
    const { customer, paymentMethod } = await customerWithCard(stripe, "pm_card_visa");
    expect(customer.email).toBe("billing@example.com");
    expect(paymentMethod).toMatch(/^pm_[0-9A-Za-z]{24}$/);

    const methods = await stripe.customers.listPaymentMethods(customer.id);
    expect(methods.data.map((pm) => pm.id)).toEqual([paymentMethod]);
    const card = methods.data[0]?.card;
    expect([card?.brand, card?.last4, card?.exp_month]).toEqual(["visa", "4242", 12]);

    const byNumber = await stripe.paymentMethods.create({
      type: "card",
      card: { number: "4242 4242 4242 4242", exp_month: 4, exp_year: 2099, cvc: "123" },
    });
    expect(byNumber.card?.fingerprint).toBe(card?.fingerprint);
    const other = await stripe.paymentMethods.create({
      type: "card",
      card: { number: "5555555555554444", exp_month: 4, exp_year: 2099 },
    });
    expect([other.card?.brand, other.card?.last4]).toEqual(["mastercard", "4444"]);
    expect(other.card?.fingerprint).not.toBe(card?.fingerprint);
  });

  it("updates metadata and the default payment method, and expands it", async () => {
    const { stripe } = sandbox;
    const customer = await stripe.customers.create({ metadata: { account: "acct_1" } });
    const pm = await stripe.paymentMethods.attach("pm_card_mastercard", { customer: customer.id });
    const updated = await stripe.customers.update(customer.id, {
      metadata: { plan: "pro", account: "" },
      invoice_settings: { default_payment_method: pm.id },
    });
    expect(updated.metadata).toEqual({ plan: "pro" });
    const expanded = await stripe.customers.retrieve(customer.id, {
      expand: ["invoice_settings.default_payment_method"],
    });
    const defaultPm = (expanded as Stripe.Customer).invoice_settings
      .default_payment_method as Stripe.PaymentMethod;
    expect([defaultPm.id, defaultPm.card?.last4]).toEqual([pm.id, "4444"]);
  });

  it("rejects a default payment method that is not attached to the customer", async () => {
    const { stripe } = sandbox;
    const customer = await stripe.customers.create({});
    const loose = await stripe.paymentMethods.create({ type: "card", card: { token: "tok_visa" } });
    const error = await rejection(
      stripe.customers.update(customer.id, {
        invoice_settings: { default_payment_method: loose.id },
      }),
    );
    expect([error.type, error.statusCode, error.param]).toEqual([
      "StripeInvalidRequestError",
      400,
      "invoice_settings[default_payment_method]",
    ]);
  });

  it("fails to attach a card that declines, and detaches one that is attached", async () => {
    const { stripe } = sandbox;
    const customer = await stripe.customers.create({});
    const declined = await rejection(
      stripe.paymentMethods.attach("pm_card_chargeDeclined", { customer: customer.id }),
    );
    expect([declined.type, declined.statusCode, declined.code, declined.decline_code]).toEqual([
      "StripeCardError",
      402,
      "card_declined",
      "generic_decline",
    ]);
    const pm = await stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    const detached = await stripe.paymentMethods.detach(pm.id);
    expect(detached.customer).toBeNull();
    expect((await stripe.customers.listPaymentMethods(customer.id)).data).toEqual([]);
  });

  it("lists, searches and deletes customers", async () => {
    const { stripe } = sandbox;
    const email = "search-me@example.com";
    const first = await stripe.customers.create({ email, metadata: { tier: "gold" } });
    const second = await stripe.customers.create({ email, metadata: { tier: "silver" } });
    const listed = await stripe.customers.list({ email });
    expect(listed.data.map((c) => c.id)).toEqual([second.id, first.id]);
    const found = await stripe.customers.search({
      query: `email:'${email}' AND metadata['tier']:'gold'`,
    });
    expect(found.data.map((c) => c.id)).toEqual([first.id]);
    const deleted = await stripe.customers.del(first.id);
    expect(deleted).toMatchObject({ id: first.id, deleted: true });
    expect(await stripe.customers.retrieve(first.id)).toMatchObject({ deleted: true });
    expect((await stripe.customers.list({ email })).data.map((c) => c.id)).toEqual([second.id]);
  });

  it("pages a list with starting_after", async () => {
    const { stripe } = sandbox;
    const email = "pages@example.com";
    const created: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      created.push((await stripe.customers.create({ email })).id);
    }
    const firstPage = await stripe.customers.list({ email, limit: 2 });
    expect([firstPage.data.map((c) => c.id), firstPage.has_more]).toEqual([
      [created[2], created[1]],
      true,
    ]);
    const secondPage = await stripe.customers.list({
      email,
      limit: 2,
      starting_after: created[1] as string,
    });
    expect([secondPage.data.map((c) => c.id), secondPage.has_more]).toEqual([[created[0]], false]);
  });
});

describe("payment intents", () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await freshAccount();
  });

  it("confirms off-session with the default card: succeeded, with a charge", async () => {
    const { stripe } = sandbox;
    const { customer, paymentMethod } = await customerWithCard(stripe, "pm_card_visa");
    const pi = await stripe.paymentIntents.create({
      amount: 1999,
      currency: "usd",
      customer: customer.id,
      payment_method: paymentMethod,
      confirm: true,
      off_session: true,
      metadata: { invoice: "inv_001" },
    });
    expect([pi.status, pi.amount_received, pi.payment_method]).toEqual([
      "succeeded",
      1999,
      paymentMethod,
    ]);
    const charge = await stripe.charges.retrieve(pi.latest_charge as string);
    expect(charge).toMatchObject({
      amount: 1999,
      amount_captured: 1999,
      status: "succeeded",
      paid: true,
      captured: true,
      payment_intent: pi.id,
      customer: customer.id,
      metadata: { invoice: "inv_001" },
    });
    expect(charge.payment_method_details?.card?.last4).toBe("4242");
    const charges = await stripe.charges.list({ payment_intent: pi.id });
    expect(charges.data.map((c) => c.id)).toEqual([charge.id]);
  });

  it("answers a decline with StripeCardError and leaves requires_payment_method", async () => {
    const { stripe } = sandbox;
    const { customer, paymentMethod } = await customerWithCard(
      stripe,
      "pm_card_chargeCustomerFail",
    );
    const error = await rejection(
      stripe.paymentIntents.create({
        amount: 5000,
        currency: "usd",
        customer: customer.id,
        payment_method: paymentMethod,
        confirm: true,
        off_session: true,
      }),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect([error.statusCode, error.code, error.decline_code, error.message]).toEqual([
      402,
      "card_declined",
      "generic_decline",
      `[${error.requestId}] Your card was declined.`,
    ]);
    const failed = error.payment_intent as Stripe.PaymentIntent;
    expect(failed.status).toBe("requires_payment_method");
    const pi = await stripe.paymentIntents.retrieve(failed.id);
    expect([pi.status, pi.payment_method, pi.last_payment_error?.decline_code]).toEqual([
      "requires_payment_method",
      null,
      "generic_decline",
    ]);
    const charge = await stripe.charges.retrieve(pi.latest_charge as string);
    expect([charge.status, charge.failure_code, charge.outcome?.type]).toEqual([
      "failed",
      "card_declined",
      "issuer_declined",
    ]);
  });

  it("declines for insufficient funds, then succeeds with another card", async () => {
    const { stripe } = sandbox;
    const pi = await stripe.paymentIntents.create({ amount: 700, currency: "eur" });
    expect(pi.status).toBe("requires_payment_method");
    const error = await rejection(
      stripe.paymentIntents.confirm(pi.id, {
        payment_method: "pm_card_chargeDeclinedInsufficientFunds",
      }),
    );
    expect([error.type, error.decline_code]).toEqual(["StripeCardError", "insufficient_funds"]);
    const paid = await stripe.paymentIntents.confirm(pi.id, { payment_method: "pm_card_visa" });
    expect(paid.status).toBe("succeeded");
    const again = await rejection(stripe.paymentIntents.confirm(pi.id));
    expect([again.type, again.code]).toEqual([
      "StripeInvalidRequestError",
      "payment_intent_unexpected_state",
    ]);
    expect((await stripe.charges.list({ payment_intent: pi.id })).data.length).toBe(2);
  });

  it("updates metadata, cancels, and refuses to cancel a succeeded intent", async () => {
    const { stripe } = sandbox;
    const open = await stripe.paymentIntents.create({ amount: 1000, currency: "usd" });
    const updated = await stripe.paymentIntents.update(open.id, { metadata: { note: "x" } });
    expect(updated.metadata).toEqual({ note: "x" });
    const canceled = await stripe.paymentIntents.cancel(open.id, {
      cancellation_reason: "abandoned",
    });
    expect([canceled.status, canceled.cancellation_reason]).toEqual(["canceled", "abandoned"]);
    const paid = await stripe.paymentIntents.create({
      amount: 1000,
      currency: "usd",
      payment_method: "pm_card_visa",
      confirm: true,
    });
    const error = await rejection(stripe.paymentIntents.cancel(paid.id));
    expect(error.code).toBe("payment_intent_unexpected_state");
  });

  it("rejects amounts below the currency minimum", async () => {
    const error = await rejection(
      sandbox.stripe.paymentIntents.create({ amount: 49, currency: "usd" }),
    );
    expect([error.type, error.code, error.param]).toEqual([
      "StripeInvalidRequestError",
      "amount_too_small",
      "amount",
    ]);
  });

  it("searches intents by metadata, status and customer", async () => {
    const { stripe } = sandbox;
    const { customer, paymentMethod } = await customerWithCard(stripe, "pm_card_visa");
    const paid: string[] = [];
    for (const batch of ["b1", "b1", "b2"]) {
      const pi = await stripe.paymentIntents.create({
        amount: 1500,
        currency: "usd",
        customer: customer.id,
        payment_method: paymentMethod,
        confirm: true,
        off_session: true,
        metadata: { batch },
      });
      paid.push(pi.id);
    }
    const open = await stripe.paymentIntents.create({
      amount: 1500,
      currency: "usd",
      customer: customer.id,
      metadata: { batch: "b1" },
    });
    const found = await stripe.paymentIntents.search({
      query: `metadata['batch']:'b1' AND status:'succeeded' AND customer:'${customer.id}'`,
    });
    expect(found.data.map((pi) => pi.id)).toEqual([paid[1], paid[0]]);
    const all = await stripe.paymentIntents.search({
      query: `customer:'${customer.id}'`,
      limit: 3,
    });
    expect([all.data.length, all.has_more]).toEqual([3, true]);
    const rest = await stripe.paymentIntents.search({
      query: `customer:'${customer.id}'`,
      limit: 3,
      page: all.next_page as string,
    });
    expect(rest.data.map((pi) => pi.id)).toEqual([paid[0]]);
    expect(all.data[0]?.id).toBe(open.id);
    const bad = await rejection(stripe.paymentIntents.search({ query: "colour:'red'" }));
    expect([bad.type, bad.param]).toEqual(["StripeInvalidRequestError", "query"]);
  });

  it("expands ids inside lists and filters events by type and created time", async () => {
    const own = await freshAccount();
    await own.control.freezeClock();
    const pay = () =>
      own.stripe.paymentIntents.create({
        amount: 1000,
        currency: "usd",
        payment_method: "pm_card_visa",
        confirm: true,
      });
    const first = await pay();
    const { now } = await own.control.advanceClock(60);
    const second = await pay();
    expect(second.created - first.created).toBe(60);
    const listed = await own.stripe.paymentIntents.list({ expand: ["data.latest_charge"] });
    expect(listed.data.map((pi) => (pi.latest_charge as Stripe.Charge).payment_intent)).toEqual([
      second.id,
      first.id,
    ]);
    const recent = await own.stripe.events.list({
      type: "payment_intent.succeeded",
      created: { gte: now },
    });
    expect(recent.data.map((e) => (e.data.object as Stripe.PaymentIntent).id)).toEqual([second.id]);
  });

  it("keeps a processing payment processing until the sandbox clock settles it", async () => {
    const own = await freshAccount();
    await own.control.freezeClock();
    const succeeds = await own.stripe.paymentIntents.create({
      amount: 2500,
      currency: "usd",
      payment_method: "pm_card_sandboxProcessingSucceeds",
      confirm: true,
    });
    expect(succeeds.status).toBe("processing");
    expect((await own.stripe.charges.retrieve(succeeds.latest_charge as string)).status).toBe(
      "pending",
    );
    expect((await own.control.advanceClock(599)).settled).toBe(0);
    expect((await own.stripe.paymentIntents.retrieve(succeeds.id)).status).toBe("processing");
    expect((await own.control.advanceClock(1)).settled).toBe(1);
    const settled = await own.stripe.paymentIntents.retrieve(succeeds.id);
    expect([settled.status, settled.amount_received]).toEqual(["succeeded", 2500]);

    const fails = await own.stripe.paymentIntents.create({
      amount: 2500,
      currency: "usd",
      payment_method: "pm_card_sandboxProcessingFails",
      confirm: true,
    });
    await own.control.settlePaymentIntent(fails.id);
    const failed = await own.stripe.paymentIntents.retrieve(fails.id);
    expect([failed.status, failed.last_payment_error?.code]).toEqual([
      "requires_payment_method",
      "card_declined",
    ]);
    const types = (await own.stripe.events.list({ limit: 100 })).data.map((e) => e.type).reverse();
    expect(types).toEqual([
      "payment_intent.created",
      "charge.pending",
      "payment_intent.processing",
      "charge.succeeded",
      "payment_intent.succeeded",
      "payment_intent.created",
      "charge.pending",
      "payment_intent.processing",
      "charge.failed",
      "payment_intent.payment_failed",
    ]);
  });
});

describe("idempotency", () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await freshAccount();
  });

  const charge = (customer: string, paymentMethod: string, amount = 1200) => ({
    amount,
    currency: "usd",
    customer,
    payment_method: paymentMethod,
    confirm: true,
    off_session: true,
  });

  it("replays the first response for the same key and parameters", async () => {
    const { stripe } = sandbox;
    const { customer, paymentMethod } = await customerWithCard(stripe, "pm_card_visa");
    const key = `charge-${customer.id}-1`;
    const first = await stripe.paymentIntents.create(charge(customer.id, paymentMethod), {
      idempotencyKey: key,
    });
    const second = await stripe.paymentIntents.create(charge(customer.id, paymentMethod), {
      idempotencyKey: key,
    });
    expect(second.id).toBe(first.id);
    expect(JSON.stringify(second)).toBe(JSON.stringify(first));
    expect(header(first, "idempotent-replayed")).toBeNull();
    expect(header(second, "idempotent-replayed")).toBe("true");
    expect(header(second, "original-request")).toBe(first.lastResponse.requestId);
    expect((await stripe.charges.list({ customer: customer.id })).data.length).toBe(1);
  });

  it("rejects the same key with other parameters as StripeIdempotencyError", async () => {
    const { stripe } = sandbox;
    const { customer, paymentMethod } = await customerWithCard(stripe, "pm_card_visa");
    const key = `charge-${customer.id}-2`;
    await stripe.paymentIntents.create(charge(customer.id, paymentMethod), { idempotencyKey: key });
    const error = await rejection(
      stripe.paymentIntents.create(charge(customer.id, paymentMethod, 1300), {
        idempotencyKey: key,
      }),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(error.statusCode).toBe(400);
    const otherEndpoint = await rejection(stripe.customers.create({}, { idempotencyKey: key }));
    expect(otherEndpoint.type).toBe("StripeIdempotencyError");
  });

  it("replays a stored card error without charging again", async () => {
    const { stripe } = sandbox;
    const { customer, paymentMethod } = await customerWithCard(
      stripe,
      "pm_card_chargeCustomerFail",
    );
    const key = `charge-${customer.id}-3`;
    const first = await rejection(
      stripe.paymentIntents.create(charge(customer.id, paymentMethod), { idempotencyKey: key }),
    );
    const second = await rejection(
      stripe.paymentIntents.create(charge(customer.id, paymentMethod), { idempotencyKey: key }),
    );
    expect([second.type, second.statusCode]).toEqual(["StripeCardError", 402]);
    expect((second.payment_intent as Stripe.PaymentIntent).id).toBe(
      (first.payment_intent as Stripe.PaymentIntent).id,
    );
    expect(second.headers?.["idempotent-replayed"]).toBe("true");
    expect((await stripe.charges.list({ customer: customer.id })).data.length).toBe(1);
  });

  it("replays a 500 saved after the endpoint began; an unsaved 500 may be retried", async () => {
    const { stripe, control } = sandbox;
    const customer = await stripe.customers.create({});
    const saved = `saved-500-${customer.id}`;
    await control.addFault({
      kind: "error_500",
      path: "/v1/payment_intents",
      idempotencyKey: saved,
      storeIdempotency: true,
    });
    const params = { amount: 900, currency: "usd", customer: customer.id };
    const first = await rejection(stripe.paymentIntents.create(params, { idempotencyKey: saved }));
    const replay = await rejection(stripe.paymentIntents.create(params, { idempotencyKey: saved }));
    expect([first.type, first.statusCode, replay.type, replay.statusCode]).toEqual([
      "StripeAPIError",
      500,
      "StripeAPIError",
      500,
    ]);
    expect(replay.headers?.["idempotent-replayed"]).toBe("true");

    const unsaved = `unsaved-500-${customer.id}`;
    await control.addFault({
      kind: "error_500",
      path: "/v1/payment_intents",
      idempotencyKey: unsaved,
    });
    await rejection(stripe.paymentIntents.create(params, { idempotencyKey: unsaved }));
    const retried = await stripe.paymentIntents.create(params, { idempotencyKey: unsaved });
    expect(header(retried, "idempotent-replayed")).toBeNull();
    const intents = await stripe.paymentIntents.list({ customer: customer.id });
    expect(intents.data.map((pi) => pi.id)).toEqual([retried.id]);
  });

  it("answers 409 while the first request with the key is still executing", async () => {
    const { stripe, control } = sandbox;
    const customer = await stripe.customers.create({});
    const key = `in-flight-${customer.id}`;
    await control.addFault({ kind: "stall", path: "/v1/payment_intents", idempotencyKey: key });
    const params = { amount: 800, currency: "usd", customer: customer.id };
    const first = stripe.paymentIntents.create(params, { idempotencyKey: key });
    await vi.waitFor(async () => expect((await control.faults()).stalled).toBe(1), {
      timeout: 10_000,
    });
    const conflict = await rejection(stripe.paymentIntents.create(params, { idempotencyKey: key }));
    expect([conflict.statusCode, conflict.code]).toEqual([409, "idempotency_key_in_use"]);
    expect(await control.releaseStalled()).toBe(1);
    const created = await first;
    const replay = await stripe.paymentIntents.create(params, { idempotencyKey: key });
    expect(replay.id).toBe(created.id);
  });

  it("expires keys 24 hours after first use on the sandbox clock", async () => {
    const own = await freshAccount();
    await own.control.freezeClock();
    const key = "monthly-invoice-2026-11";
    const first = await own.stripe.customers.create(
      { email: "a@example.com" },
      { idempotencyKey: key },
    );
    await own.control.advanceClock(86_399);
    const replay = await own.stripe.customers.create(
      { email: "a@example.com" },
      { idempotencyKey: key },
    );
    expect([replay.id, header(replay, "idempotent-replayed")]).toEqual([first.id, "true"]);
    await own.control.advanceClock(1);
    const fresh = await own.stripe.customers.create(
      { email: "b@example.com" },
      { idempotencyKey: key },
    );
    expect(fresh.id).not.toBe(first.id);
    expect(header(fresh, "idempotent-replayed")).toBeNull();
    expect(fresh.created - first.created).toBe(86_400);
  });

  it("scopes keys per API key and never deduplicates requests without one", async () => {
    const { stripe, control } = sandbox;
    const secondKey = await control.addSecretKey();
    const second = openStripe({ secretKey: secondKey, apiBase: coordinates.url });
    const key = `shared-key-${Date.now()}`;
    const a = await stripe.customers.create({ name: "A" }, { idempotencyKey: key });
    const b = await second.customers.create({ name: "B" }, { idempotencyKey: key });
    expect(b.id).not.toBe(a.id);
    // Both keys reach the same account's objects.
    expect((await second.customers.retrieve(a.id)).id).toBe(a.id);
    const x = await stripe.customers.create({ name: "same" });
    const y = await stripe.customers.create({ name: "same" });
    expect(y.id).not.toBe(x.id);
  });
});

describe("refunds", () => {
  let stripe: Stripe;
  beforeAll(async () => {
    ({ stripe } = await freshAccount());
  });

  async function paid(amount: number): Promise<Stripe.PaymentIntent> {
    return stripe.paymentIntents.create({
      amount,
      currency: "usd",
      payment_method: "pm_card_visa",
      confirm: true,
    });
  }

  it("refunds partially, then the rest, then refuses more", async () => {
    const pi = await paid(1000);
    const partial = await stripe.refunds.create({ payment_intent: pi.id, amount: 300 });
    expect([partial.amount, partial.status, partial.charge]).toEqual([
      300,
      "succeeded",
      pi.latest_charge,
    ]);
    let charge = await stripe.charges.retrieve(pi.latest_charge as string);
    expect([charge.amount_refunded, charge.refunded]).toEqual([300, false]);
    const rest = await stripe.refunds.create({ charge: charge.id });
    expect(rest.amount).toBe(700);
    charge = await stripe.charges.retrieve(charge.id);
    expect([charge.amount_refunded, charge.refunded]).toEqual([1000, true]);
    const error = await rejection(stripe.refunds.create({ payment_intent: pi.id, amount: 1 }));
    expect([error.type, error.code]).toEqual([
      "StripeInvalidRequestError",
      "charge_already_refunded",
    ]);
    const listed = await stripe.refunds.list({ payment_intent: pi.id });
    expect(listed.data.map((r) => r.id)).toEqual([rest.id, partial.id]);
    expect((await stripe.refunds.retrieve(partial.id)).amount).toBe(300);
  });

  it("never refunds more than was captured", async () => {
    const pi = await paid(1000);
    const error = await rejection(stripe.refunds.create({ payment_intent: pi.id, amount: 1001 }));
    expect([error.code, error.param, error.message]).toEqual([
      "amount_too_large",
      "amount",
      `[${error.requestId}] Refund amount ($10.01) is greater than unrefunded amount on ` +
        "charge ($10.00)",
    ]);
    const unpaid = await stripe.paymentIntents.create({ amount: 1000, currency: "usd" });
    const notPaid = await rejection(stripe.refunds.create({ payment_intent: unpaid.id }));
    expect(notPaid.type).toBe("StripeInvalidRequestError");
  });
});

describe("faults", () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await freshAccount();
  });

  it("error_500 answers StripeAPIError without doing the work", async () => {
    const { stripe, control } = sandbox;
    const email = "fault-500@example.com";
    await control.addFault({ kind: "error_500", method: "POST", path: "/v1/customers" });
    const error = await rejection(stripe.customers.create({ email }));
    expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(error.statusCode).toBe(500);
    expect((await stripe.customers.list({ email })).data).toEqual([]);
  });

  it("timeout holds the request until the client's own timeout fires", async () => {
    const { account, control } = sandbox;
    const impatient = openStripe(
      { secretKey: account.secretKey, apiBase: coordinates.url },
      { timeoutMs: 300 },
    );
    const email = "fault-timeout@example.com";
    await control.addFault({ kind: "timeout", path: "/v1/customers" });
    const error = await rejection(impatient.customers.create({ email }));
    expect(error).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect(error.message).toBe("Request aborted due to timeout being reached (300ms)");
    expect((await impatient.customers.list({ email })).data).toEqual([]);
  });

  it("drop_after_success charges, never answers; search finds it, a retry replays it", async () => {
    const { stripe, control } = sandbox;
    const { customer, paymentMethod } = await customerWithCard(stripe, "pm_card_visa");
    const key = `invoice-charge-${customer.id}`;
    await control.addFault({
      kind: "drop_after_success",
      path: "/v1/payment_intents",
      idempotencyKey: key,
    });
    const params = {
      amount: 4200,
      currency: "usd",
      customer: customer.id,
      payment_method: paymentMethod,
      confirm: true,
      off_session: true,
      metadata: { meterline_invoice: `inv-${customer.id}` },
    };
    const error = await rejection(stripe.paymentIntents.create(params, { idempotencyKey: key }));
    expect(error).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    const found = await stripe.paymentIntents.search({
      query: `metadata['meterline_invoice']:'inv-${customer.id}'`,
    });
    expect(found.data.map((pi) => pi.status)).toEqual(["succeeded"]);
    const retry = await stripe.paymentIntents.create(params, { idempotencyKey: key });
    expect([retry.id, header(retry, "idempotent-replayed")]).toEqual([found.data[0]?.id, "true"]);
    expect((await stripe.charges.list({ customer: customer.id })).data.length).toBe(1);
    const logged = await control.requests("/v1/payment_intents");
    expect(
      logged.filter((r) => r.idempotencyKey === key).map((r) => [r.fault, r.replayed]),
    ).toEqual([
      ["drop_after_success", false],
      [null, true],
    ]);
  });
});

describe("disputes and early fraud warnings", () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await freshAccount();
  });

  it("disputes a payment made with 4000000000000259; closing it records the outcome", async () => {
    const { stripe, control } = sandbox;
    const pi = await stripe.paymentIntents.create({
      amount: 3000,
      currency: "usd",
      payment_method: "pm_card_createDispute",
      confirm: true,
    });
    expect(pi.status).toBe("succeeded");
    const disputes = await stripe.disputes.list({ payment_intent: pi.id });
    expect(disputes.data.map((d) => [d.status, d.reason, d.amount, d.charge])).toEqual([
      ["needs_response", "fraudulent", 3000, pi.latest_charge],
    ]);
    const charge = await stripe.charges.retrieve(pi.latest_charge as string);
    expect(charge.disputed).toBe(true);
    const refund = await rejection(stripe.refunds.create({ payment_intent: pi.id }));
    expect(refund.code).toBe("charge_disputed");
    const dispute = disputes.data[0] as Stripe.Dispute;
    await control.closeDispute(dispute.id, "won");
    expect((await stripe.disputes.retrieve(dispute.id)).status).toBe("won");
    const events = await stripe.events.list({ type: "charge.dispute.*" });
    expect(events.data.map((e) => e.type).reverse()).toEqual([
      "charge.dispute.created",
      "charge.dispute.funds_withdrawn",
      "charge.dispute.closed",
      "charge.dispute.funds_reinstated",
    ]);
  });

  it("raises an early fraud warning for 4000000000005423; a full refund settles it", async () => {
    const { stripe } = sandbox;
    const pm = await stripe.paymentMethods.create({
      type: "card",
      card: { number: "4000000000005423", exp_month: 1, exp_year: 2099 },
    });
    const pi = await stripe.paymentIntents.create({
      amount: 3000,
      currency: "usd",
      payment_method: pm.id,
      confirm: true,
    });
    const warnings = await stripe.radar.earlyFraudWarnings.list({ payment_intent: pi.id });
    expect(warnings.data.map((w) => [w.actionable, w.charge, w.fraud_type])).toEqual([
      [true, pi.latest_charge, "made_with_stolen_card"],
    ]);
    const id = warnings.data[0]?.id as string;
    await stripe.refunds.create({ payment_intent: pi.id });
    expect((await stripe.radar.earlyFraudWarnings.retrieve(id)).actionable).toBe(false);
  });
});

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A local webhook endpoint that records raw bodies and answers with `statuses` in turn. */
async function webhookReceiver(statuses: number[] = []) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(statuses.shift() ?? 200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks/stripe`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

type Receiver = Awaited<ReturnType<typeof webhookReceiver>>;

function typeOf(delivery: Received): string {
  return (JSON.parse(delivery.body) as Stripe.Event).type;
}

describe("signed webhooks", () => {
  const verifier = new Stripe("sk_test_unused_for_verification");
  const opened: Receiver[] = [];
  let receiver: Receiver;
  let sandbox: Sandbox;
  /** A receiver closed after the block, whatever the tests' outcome. */
  async function open(statuses: number[] = []): Promise<Receiver> {
    const created = await webhookReceiver(statuses);
    opened.push(created);
    return created;
  }
  beforeAll(async () => {
    receiver = await open();
    sandbox = await freshAccount({ webhookUrl: receiver.url });
  });
  afterAll(async () => {
    await Promise.all(opened.map((each) => each.close()));
  });

  it("pushes each event with a signature constructEventAsync accepts", async () => {
    const { stripe, account } = sandbox;
    const customer = await stripe.customers.create({ email: "hooks@example.com" });
    await vi.waitFor(() => expect(receiver.received.length).toBeGreaterThanOrEqual(1));
    const delivery = receiver.received[0] as Received;
    const event = await verifier.webhooks.constructEventAsync(
      delivery.body,
      delivery.headers["stripe-signature"] as string,
      account.webhook.secret,
      undefined,
      subtle,
    );
    expect([event.type, (event.data.object as Stripe.Customer).id]).toEqual([
      "customer.created",
      customer.id,
    ]);
    expect(event.api_version).toBe("2026-11-18.endive");
    const wrongSecret = await rejection(
      verifier.webhooks.constructEventAsync(
        delivery.body,
        delivery.headers["stripe-signature"] as string,
        "whsec_not_the_secret",
        undefined,
        subtle,
      ),
    );
    expect(wrongSecret).toBeInstanceOf(Stripe.errors.StripeSignatureVerificationError);
  });

  it("retries a failed push with backoff until it is accepted", async () => {
    const failing = await open([500, 503]);
    const own = await freshAccount({ webhookUrl: failing.url });
    await own.control.configureWebhooks({ retryBaseMs: 20 });
    const customer = await own.stripe.customers.create({});
    await vi.waitFor(() => expect(failing.received.length).toBe(3), { timeout: 5_000 });
    const [delivery] = await own.control.deliveries({ relatedTo: customer.id });
    expect([delivery?.state, delivery?.attempts, delivery?.lastStatus]).toEqual([
      "delivered",
      3,
      200,
    ]);
    expect(new Set(failing.received.map((d) => (JSON.parse(d.body) as Stripe.Event).id)).size).toBe(
      1,
    );
  });

  it("holds deliveries and flushes them out of order, and duplicates one on demand", async () => {
    const local = await open();
    const own = await freshAccount({ webhookUrl: local.url, webhookMode: "pull" });
    const pi = await own.stripe.paymentIntents.create({
      amount: 1000,
      currency: "usd",
      payment_method: "pm_card_visa",
      confirm: true,
    });
    const results = await own.control.flushWebhooks({ relatedTo: pi.id, order: "reverse" });
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(local.received.map(typeOf)).toEqual([
      "payment_intent.succeeded",
      "charge.succeeded",
      "payment_intent.created",
    ]);
    await own.control.configureWebhooks({ mode: "push" });
    const first = JSON.parse(local.received[0]?.body as string) as Stripe.Event;
    await own.control.redeliver(first.id);
    await vi.waitFor(() => expect(local.received.length).toBe(4));
    expect((JSON.parse(local.received[3]?.body as string) as Stripe.Event).id).toBe(first.id);
  });

  it("pull mode hands over signed deliveries a test can give to the Worker itself", async () => {
    const own = await freshAccount({ webhookMode: "pull" });
    const customer = await own.stripe.customers.create({});
    await own.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    const pulled = await own.control.pullWebhooks({ relatedTo: customer.id });
    expect(pulled.map((d) => d.type)).toEqual(["customer.created", "payment_method.attached"]);
    for (const delivery of pulled) {
      const event = await verifier.webhooks.constructEventAsync(
        delivery.body,
        delivery.headers["stripe-signature"] as string,
        own.account.webhook.secret,
        undefined,
        subtle,
      );
      expect(event.id).toBe(delivery.eventId);
    }
    expect(await own.control.pullWebhooks({ relatedTo: customer.id })).toEqual([]);
    const events = await own.stripe.events.list({ type: "customer.created" });
    expect(events.data.map((e) => [e.id, e.pending_webhooks])).toEqual([[pulled[0]?.eventId, 0]]);
  });
});

describe("authentication and isolation", () => {
  it("answers a wrong key with 401 StripeAuthenticationError", async () => {
    const stranger = openStripe({ secretKey: "sk_test_not_a_real_key", apiBase: coordinates.url });
    const error = await rejection(stranger.customers.list());
    expect(error).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect(error.statusCode).toBe(401);
  });

  it("hides one account's objects from another account's key", async () => {
    const a = await freshAccount();
    const b = await freshAccount();
    const customer = await a.stripe.customers.create({});
    const error = await rejection(b.stripe.customers.retrieve(customer.id));
    expect([error.statusCode, error.code]).toEqual([404, "resource_missing"]);
  });
});

describe("persistence", () => {
  it("keeps objects, events and idempotency records across a restart", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "stripe-sandbox-"));
    const running: RunningService<StripeInfo>[] = [];
    const start = async () => {
      const service = await spawnService<StripeInfo>({
        name: "stripe-restart",
        script: fileURLToPath(new URL("../../../local-stack/stripe/main.ts", import.meta.url)),
        args: ["--data", join(dataDir, "data")],
        logDir: dataDir,
      });
      running.push(service);
      return service;
    };
    try {
      const first = await start();
      const stripe = openStripe({ secretKey: first.info.secretKey, apiBase: first.info.url });
      const customer = await stripe.customers.create({ email: "kept@example.com" });
      const params = {
        amount: 1000,
        currency: "usd",
        payment_method: "pm_card_visa",
        confirm: true,
      };
      const pi = await stripe.paymentIntents.create(params, { idempotencyKey: "restart-key" });
      await first.stop();

      const second = await start();
      expect([second.info.secretKey, second.info.webhookSecret]).toEqual([
        first.info.secretKey,
        first.info.webhookSecret,
      ]);
      const again = openStripe({ secretKey: second.info.secretKey, apiBase: second.info.url });
      expect((await again.customers.retrieve(customer.id)).id).toBe(customer.id);
      const replay = await again.paymentIntents.create(params, { idempotencyKey: "restart-key" });
      expect([replay.id, header(replay, "idempotent-replayed")]).toEqual([pi.id, "true"]);
      expect((await again.events.list({ limit: 10 })).data.length).toBe(4);
    } finally {
      for (const service of running) {
        await service.stop();
      }
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
