/**
 * `POST /webhooks/stripe` and the processing of stored events: signatures over the exact bytes,
 * one stored row per event id however often and however concurrently it arrives, forward-only
 * state whatever the delivery order, and the fraud signals handed to lib/fraud.
 */

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../../functions/index.ts";
import { openStripe, stripeCrypto } from "../../../lib/adapters/stripe.ts";
import { RiskSignalSchema } from "../../../lib/fraud/signals.ts";
import { collectInvoice } from "../../../lib/payments/collect.ts";
import { processStripeEvent } from "../../../lib/payments/webhook-events.ts";
import { webhookSecret } from "../../../lib/payments/webhook-intake.ts";
import type { PulledDelivery } from "../../../local-stack/stripe/sandbox-client.ts";
import { testDb } from "../support/catalogue.ts";
import { BASE } from "../support/http.ts";
import {
  attemptSummary,
  auditActions,
  capturingLogger,
  capturingQueue,
  config,
  customerWithCard,
  defaultCard,
  depsFor,
  invoiceState,
  type Sandbox,
  sandbox,
  seedInvoice,
} from "./support.ts";

const AMOUNT = 2_500n;

function post(body: BodyInit, headers: Record<string, string>): Promise<Response> {
  return exports.default.fetch(
    new Request(`${BASE}/webhooks/stripe`, { method: "POST", headers, body }),
  );
}

function deliver(delivery: PulledDelivery): Promise<Response> {
  return post(delivery.body, delivery.headers);
}

async function storedRows(eventId: string): Promise<{ deliveries: number; processed: boolean }[]> {
  const db = testDb();
  try {
    const { rows } = await db.query<{ deliveries: number; processed: boolean }>(
      "select deliveries, processed_at is not null as processed from stripe_events where id = $1",
      [eventId],
    );
    return rows;
  } finally {
    await db.end();
  }
}

/** A signed payload made here (not by the sandbox), for the rejection cases. */
async function signed(payload: string, options: { secret?: string; timestamp?: number } = {}) {
  const stripe = openStripe(config.stripe);
  return stripe.webhooks.generateTestHeaderStringAsync({
    payload,
    secret: options.secret ?? config.stripe.webhookSecret,
    cryptoProvider: stripeCrypto,
    ...(options.timestamp === undefined ? {} : { timestamp: options.timestamp }),
  });
}

async function invoiceFor(box: Sandbox, token = "tok_visa") {
  const customerId = await customerWithCard(box.stripe, token);
  return seedInvoice({ customerId, amountMinor: AMOUNT, finalizedAtMs: box.clock.nowMs() });
}

/** Stores a delivery through the route, then applies it (as the queue consumer would). */
async function receiveAndApply(box: Sandbox, delivery: PulledDelivery, work = capturingQueue()) {
  const response = await deliver(delivery);
  expect(response.status).toBe(200);
  const deps = depsFor(box, { work });
  try {
    return await processStripeEvent(deps, delivery.eventId);
  } finally {
    await deps.db.end();
  }
}

describe("POST /webhooks/stripe: verification", () => {
  const event = JSON.stringify(
    {
      id: `evt_${crypto.randomUUID().replaceAll("-", "")}`,
      object: "event",
      type: "customer.created",
      created: 1,
      data: { object: { id: "cus_x", object: "customer" } },
    },
    null,
    2,
  );
  const eventId = (JSON.parse(event) as { id: string }).id;

  async function expectRejected(response: Response, detail: RegExp): Promise<void> {
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    const problem = (await response.json()) as { code: string; detail: string };
    expect(problem.code).toBe("WEBHOOK_SIGNATURE_INVALID");
    expect(problem.detail).toMatch(detail);
    expect(await storedRows(eventId)).toEqual([]);
  }

  it("rejects a missing signature and stores nothing", async () => {
    await expectRejected(await post(event, { "content-type": "application/json" }), /missing/);
  });

  it("rejects a body changed by one byte, or re-serialised", async () => {
    const header = await signed(event);
    await expectRejected(
      await post(event.replace("customer.created", "customer.createD"), {
        "stripe-signature": header,
      }),
      /does not match/,
    );
    await expectRejected(
      await post(JSON.stringify(JSON.parse(event)), { "stripe-signature": header }),
      /does not match/,
    );
  });

  it("rejects another secret's signature and a stale timestamp", async () => {
    await expectRejected(
      await post(event, { "stripe-signature": await signed(event, { secret: "whsec_other" }) }),
      /does not match/,
    );
    const staleSeconds = Math.floor(Date.now() / 1000) - 600;
    await expectRejected(
      await post(event, { "stripe-signature": await signed(event, { timestamp: staleSeconds }) }),
      /300-second tolerance/,
    );
  });

  it("rejects a correctly signed body that is not an event", async () => {
    const body = '{"hello":"world"}';
    const response = await post(body, { "stripe-signature": await signed(body) });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { detail: string }).detail).toMatch(/not a Stripe event/);
    const text = "not json at all";
    const notJson = await post(text, { "stripe-signature": await signed(text) });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { detail: string }).detail).toBe(
      "The signed body is not JSON.",
    );
  });

  it("trims a secret configured with stray whitespace, warning once", async () => {
    const log = capturingLogger();
    const padded = ` ${config.stripe.webhookSecret}\n`;
    expect(webhookSecret(padded, log)).toBe(config.stripe.webhookSecret);
    expect(webhookSecret(padded, log)).toBe(config.stripe.webhookSecret);
    expect(log.lines.map((line) => [line.level, line.strippedCharacters])).toEqual([["warn", 2]]);
    // Through the Worker with the padded secret: the webhook still verifies.
    const ctx = createExecutionContext();
    const response = await worker.fetch(
      new Request(`${BASE}/webhooks/stripe`, {
        method: "POST",
        headers: { "stripe-signature": await signed(event) },
        body: event,
      }),
      { ...env, STRIPE_WEBHOOK_SECRET: padded },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(response.status).toBe(200);
    expect(await storedRows(eventId)).toEqual([{ deliveries: 1, processed: expect.any(Boolean) }]);
  });
});

describe("POST /webhooks/stripe: storage and dedup", () => {
  it("stores an event once however often and however concurrently it arrives", async () => {
    const box = await sandbox();
    await box.stripe.customers.create({ email: "dedup@example.com" });
    const [delivery] = await box.control.pullWebhooks({ type: "customer.created" });
    if (!delivery) {
      throw new Error("no delivery");
    }
    const first = await deliver(delivery);
    expect(await first.json()).toEqual({
      received: true,
      eventId: delivery.eventId,
      duplicate: false,
    });
    const again = await Promise.all([1, 2, 3, 4].map(() => deliver(delivery)));
    expect(again.map((response) => response.status)).toEqual([200, 200, 200, 200]);
    const bodies = (await Promise.all(again.map((r) => r.json()))) as { duplicate: boolean }[];
    expect(bodies.map((body) => body.duplicate)).toEqual([true, true, true, true]);
    expect((await storedRows(delivery.eventId)).map((row) => row.deliveries)).toEqual([5]);
  });

  it("applies an event once even when processed concurrently", async () => {
    const box = await sandbox();
    const seeded = await invoiceFor(box);
    await box.stripe.paymentIntents.create({
      amount: Number(AMOUNT),
      currency: "usd",
      customer: seeded.customerId as string,
      payment_method: await defaultCard(box.stripe, seeded.customerId as string),
      confirm: true,
      off_session: true,
      metadata: { invoice_id: seeded.invoiceId, account_id: seeded.accountId },
    });
    const [delivery] = await box.control.pullWebhooks({ type: "payment_intent.succeeded" });
    if (!delivery) {
      throw new Error("no delivery");
    }
    expect((await deliver(delivery)).status).toBe(200);
    const results = await Promise.all(
      [1, 2, 3].map(async () => {
        const deps = depsFor(box);
        try {
          return await processStripeEvent(deps, delivery.eventId);
        } finally {
          await deps.db.end();
        }
      }),
    );
    // The Worker's own queue consumer may have applied it first; either way, once.
    expect(results.filter((result) => result.status === "applied").length).toBeLessThanOrEqual(1);
    const db = testDb();
    try {
      expect(await attemptSummary(db, seeded.invoiceId)).toEqual([
        {
          no: 1,
          status: "succeeded",
          key: expect.stringMatching(new RegExp(`^${seeded.invoiceId}:adopted:pi_`)),
          origin: "adopted",
        },
      ]);
      expect(await auditActions(db, seeded.accountId)).toEqual([
        "payment.adopted",
        "payment.succeeded",
        "invoice.paid",
      ]);
    } finally {
      await db.end();
    }
    expect(await storedRows(delivery.eventId)).toEqual([{ deliveries: 1, processed: true }]);
  });
});

describe("processing Stripe events", () => {
  it("moves state forward only: a late processing never undoes succeeded, equal times by rank", async () => {
    for (const order of ["succeeded first", "processing first"] as const) {
      const box = await sandbox({ frozen: true });
      const seeded = await invoiceFor(box, "tok_sandboxProcessingSucceeds");
      // The answer is lost, so the attempt's state comes only from the events.
      await box.control.addFault({
        kind: "drop_after_success",
        path: "/v1/payment_intents",
        method: "POST",
      });
      const deps = depsFor(box);
      try {
        expect(await collectInvoice(deps, seeded.invoiceId, { mode: "initial" })).toMatchObject({
          status: "pending",
        });
      } finally {
        await deps.db.end();
      }
      const [processing] = await box.control.pullWebhooks({ type: "payment_intent.processing" });
      const intentId = (
        JSON.parse(processing?.body ?? "{}") as { data: { object: { id: string } } }
      ).data.object.id;
      await box.control.settlePaymentIntent(intentId, "succeeded");
      const [succeeded] = await box.control.pullWebhooks({ type: "payment_intent.succeeded" });
      if (!processing || !succeeded) {
        throw new Error("missing deliveries");
      }
      // The clock is frozen: both events carry the same `created` second.
      const created = [processing, succeeded].map(
        (delivery) => (JSON.parse(delivery.body) as { created: number }).created,
      );
      expect(created[0]).toBe(created[1]);
      const sequence =
        order === "succeeded first" ? [succeeded, processing] : [processing, succeeded];
      const outcomes = [];
      for (const delivery of sequence) {
        outcomes.push(await receiveAndApply(box, delivery));
      }
      expect(outcomes.map((outcome) => (outcome as { outcome: string }).outcome)).toEqual(
        order === "succeeded first"
          ? ["applied: unknown -> succeeded", "stale: attempt stays succeeded"]
          : ["applied: unknown -> processing", "applied: processing -> succeeded"],
      );
      const db = testDb();
      try {
        expect((await attemptSummary(db, seeded.invoiceId)).map((a) => a.status)).toEqual([
          "succeeded",
        ]);
        expect((await invoiceState(db, seeded.invoiceId)).status).toBe("paid");
      } finally {
        await db.end();
      }
    }
  });

  it("records a refund against the invoice once, in whichever order its events arrive", async () => {
    const box = await sandbox();
    const seeded = await invoiceFor(box);
    const deps = depsFor(box);
    try {
      const paid = await collectInvoice(deps, seeded.invoiceId, { mode: "initial" });
      await box.stripe.refunds.create({
        payment_intent: (paid as { paymentIntentId: string }).paymentIntentId,
        amount: 700,
      });
    } finally {
      await deps.db.end();
    }
    const deliveries = await box.control.pullWebhooks({ type: "charge.refunded" });
    const refunds = await box.control.pullWebhooks({ type: "refund.created" });
    for (const delivery of [...deliveries, ...refunds, ...deliveries]) {
      await receiveAndApply(box, delivery);
    }
    const db = testDb();
    try {
      expect(await invoiceState(db, seeded.invoiceId)).toEqual({
        status: "paid",
        amountPaidMinor: "2500",
        amountRefundedMinor: "700",
      });
      expect(
        (await auditActions(db, seeded.accountId)).filter((a) => a === "payment.refunded"),
      ).toEqual(["payment.refunded"]);
      const { rows } = await db.query<{ amount_minor: string }>(
        "select amount_minor::text as amount_minor from payment_refunds where invoice_id = $1",
        [seeded.invoiceId],
      );
      expect(rows).toEqual([{ amount_minor: "700" }]);
    } finally {
      await db.end();
    }
  });

  it("records disputes forward only and hands them to the fraud module", async () => {
    const box = await sandbox();
    const seeded = await invoiceFor(box, "tok_createDispute");
    const deps = depsFor(box);
    try {
      expect(await collectInvoice(deps, seeded.invoiceId, { mode: "initial" })).toMatchObject({
        status: "succeeded",
      });
    } finally {
      await deps.db.end();
    }
    const [created] = await box.control.pullWebhooks({ type: "charge.dispute.created" });
    if (!created) {
      throw new Error("no dispute event");
    }
    const disputeId = (JSON.parse(created.body) as { data: { object: { id: string } } }).data.object
      .id;
    const work = capturingQueue();
    await receiveAndApply(box, created, work);
    expect(work.sent).toEqual([
      {
        v: 1,
        kind: "risk.signal",
        signal: expect.objectContaining({
          kind: "stripe.dispute",
          sourceId: disputeId,
          accountId: seeded.accountId,
          amountMinor: "2500",
          currency: "USD",
        }),
      },
    ]);
    await box.control.closeDispute(disputeId, "lost");
    const [closed] = await box.control.pullWebhooks({ type: "charge.dispute.closed" });
    if (!closed) {
      throw new Error("no close event");
    }
    await receiveAndApply(box, closed);
    // A late event from the opening (funds withdrawn, status needs_response) does not reopen it.
    const [withdrawn] = await box.control.pullWebhooks({ type: "charge.dispute.funds_withdrawn" });
    expect(await receiveAndApply(box, withdrawn as PulledDelivery)).toMatchObject({
      status: "applied",
      outcome: `dispute unchanged: ${disputeId} needs_response`,
    });
    const db = testDb();
    try {
      const { rows } = await db.query<{ status: string; amount_minor: string }>(
        "select status, amount_minor::text as amount_minor from payment_disputes where invoice_id = $1",
        [seeded.invoiceId],
      );
      expect(rows).toEqual([{ status: "lost", amount_minor: "2500" }]);
      expect(
        (await auditActions(db, seeded.accountId)).filter((a) => a.startsWith("payment.dispute")),
      ).toEqual(["payment.disputed", "payment.dispute_closed"]);
    } finally {
      await db.end();
    }
  });

  it("hands early fraud warnings and failed charges (with the card fingerprint) to fraud", async () => {
    const box = await sandbox();
    const warned = await invoiceFor(box, "tok_createEarlyFraudWarning");
    const declined = await invoiceFor(box, "tok_chargeCustomerFail");
    const deps = depsFor(box);
    try {
      await collectInvoice(deps, warned.invoiceId, { mode: "initial" });
      await collectInvoice(deps, declined.invoiceId, { mode: "initial" });
    } finally {
      await deps.db.end();
    }
    const [warning] = await box.control.pullWebhooks({ type: "radar.early_fraud_warning.created" });
    const [failed] = await box.control.pullWebhooks({ type: "payment_intent.payment_failed" });
    const work = capturingQueue();
    const warningOutcome = await receiveAndApply(box, warning as PulledDelivery, work);
    const failedOutcome = await receiveAndApply(box, failed as PulledDelivery, work);
    expect(warningOutcome).toMatchObject({
      status: "applied",
      outcome: expect.stringMatching(/^fraud signal sent: issfr_/),
    });
    expect(failedOutcome).toMatchObject({
      status: "applied",
      outcome: "stale: attempt stays failed",
    });
    const signals = work.sent.map((body) => (body as { signal: Record<string, unknown> }).signal);
    expect(signals).toEqual([
      expect.objectContaining({
        kind: "stripe.early_fraud_warning",
        accountId: warned.accountId,
        sourceId: expect.stringMatching(/^issfr_/),
      }),
      expect.objectContaining({
        kind: "stripe.charge_failed",
        accountId: declined.accountId,
        sourceId: expect.stringMatching(/^ch_/),
        cardFingerprint: expect.any(String),
        amountMinor: "2500",
        currency: "USD",
      }),
    ]);
    // What is handed over is exactly what lib/fraud accepts.
    for (const signal of signals) {
      expect(RiskSignalSchema.safeParse(signal).success).toBe(true);
    }
    // Canceling the declined intent afterwards does not turn the decline into something else.
    const intentId = (
      JSON.parse((failed as PulledDelivery).body) as { data: { object: { id: string } } }
    ).data.object.id;
    await box.stripe.paymentIntents.cancel(intentId);
    const [canceled] = await box.control.pullWebhooks({ type: "payment_intent.canceled" });
    expect(await receiveAndApply(box, canceled as PulledDelivery)).toMatchObject({
      status: "applied",
      outcome: "stale: attempt stays failed",
    });
  });

  it("follows a processing payment that later fails, counting one failure for dunning", async () => {
    const box = await sandbox();
    const seeded = await invoiceFor(box, "tok_sandboxProcessingFails");
    await box.control.addFault({
      kind: "drop_after_success",
      path: "/v1/payment_intents",
      method: "POST",
    });
    const deps = depsFor(box);
    try {
      await collectInvoice(deps, seeded.invoiceId, { mode: "initial" });
    } finally {
      await deps.db.end();
    }
    const [processing] = await box.control.pullWebhooks({ type: "payment_intent.processing" });
    expect(await receiveAndApply(box, processing as PulledDelivery)).toMatchObject({
      outcome: "applied: unknown -> processing",
    });
    await box.control.settlePaymentIntent(
      (JSON.parse((processing as PulledDelivery).body) as { data: { object: { id: string } } }).data
        .object.id,
      "failed",
    );
    const [failed] = await box.control.pullWebhooks({ type: "payment_intent.payment_failed" });
    expect(await receiveAndApply(box, failed as PulledDelivery)).toMatchObject({
      outcome: "applied: processing -> failed",
    });
    const db = testDb();
    try {
      expect((await attemptSummary(db, seeded.invoiceId)).map((a) => a.status)).toEqual(["failed"]);
      const { rows } = await db.query<{ state: string; failures: number }>(
        "select state, failures from payment_dunning where invoice_id = $1",
        [seeded.invoiceId],
      );
      expect(rows).toEqual([{ state: "active", failures: 1 }]);
    } finally {
      await db.end();
    }
  });

  it("records a canceled intent of an attempt whose answer was lost", async () => {
    const box = await sandbox();
    const seeded = await invoiceFor(box, "tok_chargeCustomerFail");
    await box.control.addFault({
      kind: "drop_after_success",
      path: "/v1/payment_intents",
      method: "POST",
    });
    const deps = depsFor(box);
    try {
      expect(await collectInvoice(deps, seeded.invoiceId, { mode: "initial" })).toMatchObject({
        status: "pending",
      });
    } finally {
      await deps.db.end();
    }
    const [failed] = await box.control.pullWebhooks({ type: "payment_intent.payment_failed" });
    const intentId = (
      JSON.parse((failed as PulledDelivery).body) as { data: { object: { id: string } } }
    ).data.object.id;
    await box.stripe.paymentIntents.cancel(intentId);
    const [canceled] = await box.control.pullWebhooks({ type: "payment_intent.canceled" });
    expect(await receiveAndApply(box, canceled as PulledDelivery)).toMatchObject({
      outcome: "applied: unknown -> canceled",
    });
    const db = testDb();
    try {
      expect((await attemptSummary(db, seeded.invoiceId)).map((a) => a.status)).toEqual([
        "canceled",
      ]);
    } finally {
      await db.end();
    }
  });

  it("acknowledges and records event types it does not handle", async () => {
    const box = await sandbox();
    await box.stripe.customers.create({ email: "unknown-type@example.com" });
    const [delivery] = await box.control.pullWebhooks({ type: "customer.created" });
    const outcome = await receiveAndApply(box, delivery as PulledDelivery);
    expect(outcome).toEqual({
      status: "applied",
      type: "customer.created",
      outcome: "ignored: no handler for customer.created",
    });
    expect(await storedRows((delivery as PulledDelivery).eventId)).toEqual([
      { deliveries: 1, processed: true },
    ]);
  });
});
