/**
 * The Stripe sandbox from inside workerd, through openStripe exactly as the Worker calls it,
 * with the stack's default account (whose webhooks are held for pulling: the Worker has no
 * port the sandbox could reach in these tests).
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { openStripe, type Stripe, stripeCrypto } from "../../../lib/adapters/stripe.ts";
import { configFor } from "../../../lib/env/config.ts";
import { StripeSandboxControl } from "../../../local-stack/stripe/sandbox-client.ts";

/** The Worker's own Stripe settings: secret key, webhook secret and the sandbox URL. */
const settings = configFor(env).stripe;

function client(): Stripe {
  return openStripe(settings);
}

describe("Stripe sandbox inside workerd", () => {
  it("creates customer, card and off-session payment; replays it by idempotency key", async () => {
    const stripe = client();
    const customer = await stripe.customers.create({
      email: "worker@example.com",
      metadata: { suite: "worker" },
    });
    const card = await stripe.paymentMethods.create({ type: "card", card: { token: "tok_visa" } });
    await stripe.paymentMethods.attach(card.id, { customer: customer.id });
    const updated = await stripe.customers.update(customer.id, {
      invoice_settings: { default_payment_method: card.id },
    });
    const paymentMethod = updated.invoice_settings.default_payment_method as string;
    expect([paymentMethod, card.card?.last4]).toEqual([card.id, "4242"]);
    const params = {
      amount: 2599,
      currency: "usd",
      customer: customer.id,
      payment_method: paymentMethod,
      confirm: true,
      off_session: true,
      metadata: { meterline_invoice: `inv-${customer.id}` },
    };
    const key = `worker-charge-${customer.id}`;
    const first = await stripe.paymentIntents.create(params, { idempotencyKey: key });
    expect([first.status, first.amount_received]).toEqual(["succeeded", 2599]);
    const replay = await stripe.paymentIntents.create(params, { idempotencyKey: key });
    expect(replay.id).toBe(first.id);
    expect((replay.lastResponse.headers as unknown as Headers).get("idempotent-replayed")).toBe(
      "true",
    );

    const found = await stripe.paymentIntents.search({
      query: `metadata['meterline_invoice']:'inv-${customer.id}' AND status:'succeeded'`,
    });
    expect(found.data.map((pi) => pi.id)).toEqual([first.id]);
    expect((await stripe.charges.list({ customer: customer.id })).data.length).toBe(1);
  });

  it("verifies a pulled webhook with constructEventAsync and Web Crypto", async () => {
    const stripe = client();
    const pi = await stripe.paymentIntents.create({
      amount: 1250,
      currency: "usd",
      payment_method: "pm_card_visa",
      confirm: true,
    });
    const control = new StripeSandboxControl({
      url: settings.apiBase as string,
      secretKey: settings.secretKey,
    });
    const [delivery] = await control.pullWebhooks({
      relatedTo: pi.id,
      type: "payment_intent.succeeded",
    });
    if (!delivery) {
      throw new Error("no held delivery for the payment");
    }
    const signature = delivery.headers["stripe-signature"] as string;
    const event = await stripe.webhooks.constructEventAsync(
      delivery.body,
      signature,
      settings.webhookSecret,
      undefined,
      stripeCrypto,
    );
    expect([event.type, (event.data.object as Stripe.PaymentIntent).id]).toEqual([
      "payment_intent.succeeded",
      pi.id,
    ]);
    // The same bytes with one character changed no longer verify.
    const tampered = delivery.body.replace("1250", "1251");
    await expect(
      stripe.webhooks.constructEventAsync(
        tampered,
        signature,
        settings.webhookSecret,
        undefined,
        stripeCrypto,
      ),
    ).rejects.toThrow(/No signatures found matching the expected signature/);
  });
});
