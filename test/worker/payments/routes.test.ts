/**
 * The payment endpoints and the work-queue entry point, through the Worker itself, against the
 * stack's default Stripe sandbox account (the Worker's own configuration): collect, read
 * payments, refund idempotently, billing status, reconciliation for a window, and the
 * `payment.collect` message lib/billing sends.
 */
import {
  createExecutionContext,
  createMessageBatch,
  getQueueResult,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../../functions/index.ts";
import { openStripe } from "../../../lib/adapters/stripe.ts";
import { StripeSandboxControl } from "../../../local-stack/stripe/sandbox-client.ts";
import { call, callJson, unique } from "../support/http.ts";
import { config, customerWithCard, seedInvoice } from "./support.ts";

const stripe = openStripe(config.stripe);
/** Syntactically an account key (so auth gets past "who are you?" to "not yours"). */
const ACCOUNT_KEY = `mlk_${btoa("acct-someone").replaceAll("=", "")}.${"a".repeat(32)}`;

async function paidViaRoute() {
  const customerId = await customerWithCard(stripe);
  const seeded = await seedInvoice({ customerId, amountMinor: 12_345n, finalizedAtMs: Date.now() });
  const collected = await callJson<{ outcome: { status: string; paymentIntentId: string } }>(
    `/v1/invoices/${seeded.invoiceId}/collect`,
    200,
    { method: "POST" },
  );
  expect(collected.outcome.status).toBe("succeeded");
  return { ...seeded, paymentIntentId: collected.outcome.paymentIntentId };
}

async function deliverWork(messages: { id: string; body: unknown }[]) {
  const batch = createMessageBatch(
    "meterline-work",
    messages.map((m) => ({ id: m.id, timestamp: new Date(), attempts: 1, body: m.body })),
  );
  const ctx = createExecutionContext();
  await (worker.queue as (b: MessageBatch, e: Env, c: ExecutionContext) => Promise<void>)(
    batch,
    env,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  const result = (await getQueueResult(batch, ctx)) as {
    explicitAcks: string[];
    retryMessages: { msgId: string }[];
  };
  return { acked: result.explicitAcks, retried: result.retryMessages.map((m) => m.msgId) };
}

describe("payment endpoints", () => {
  it("need the admin key (billing status: the account's own key too)", async () => {
    const paths: [string, string][] = [
      ["POST", "/v1/invoices/inv_x/collect"],
      ["GET", "/v1/invoices/inv_x/payments"],
      ["POST", "/v1/invoices/inv_x/refunds"],
      ["POST", "/v1/admin/reconciliation"],
      ["GET", "/v1/admin/reconciliation/rcn_x"],
    ];
    for (const [method, path] of paths) {
      expect([path, (await call(path, { method, key: null })).status]).toEqual([path, 401]);
      expect([path, (await call(path, { method, key: ACCOUNT_KEY })).status]).toEqual([path, 403]);
    }
    expect((await call("/v1/accounts/acct-x/billing-status", { key: null })).status).toBe(401);
  });

  it("are documented in the OpenAPI document", async () => {
    const doc = await callJson<{ paths: Record<string, unknown> }>("/openapi.json", 200);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/webhooks/stripe",
        "/v1/invoices/{invoiceId}/collect",
        "/v1/invoices/{invoiceId}/payments",
        "/v1/invoices/{invoiceId}/refunds",
        "/v1/accounts/{accountId}/billing-status",
        "/v1/admin/reconciliation",
        "/v1/admin/reconciliation/{runId}",
      ]),
    );
  });

  it("collect, read and refund (idempotently) an invoice", async () => {
    const paid = await paidViaRoute();
    const again = await callJson<{ outcome: { status: string } }>(
      `/v1/invoices/${paid.invoiceId}/collect`,
      200,
      { method: "POST" },
    );
    expect(again.outcome.status).toBe("already_paid");

    const refundKey = unique("refund");
    const first = await callJson(`/v1/invoices/${paid.invoiceId}/refunds`, 200, {
      body: { amountMinor: "345", reason: "requested_by_customer" },
      headers: { "idempotency-key": refundKey },
    });
    expect(first).toMatchObject({ amountMinor: "345", currency: "USD", replayed: false });
    const repeat = await callJson(`/v1/invoices/${paid.invoiceId}/refunds`, 200, {
      body: { amountMinor: "345", reason: "requested_by_customer" },
      headers: { "idempotency-key": refundKey },
    });
    expect(repeat).toEqual({ ...first, replayed: true });
    expect(
      (
        await call(`/v1/invoices/${paid.invoiceId}/refunds`, {
          body: { amountMinor: "999" },
          headers: { "idempotency-key": refundKey },
        })
      ).status,
    ).toBe(409);
    expect((await stripe.refunds.list({ payment_intent: paid.paymentIntentId })).data.length).toBe(
      1,
    );

    const payments = await callJson<{
      attempts: { status: string; idempotencyKey: string; amountRefundedMinor: string }[];
      refunds: { amountMinor: string }[];
      dunning: unknown;
    }>(`/v1/invoices/${paid.invoiceId}/payments`, 200);
    expect(
      payments.attempts.map((a) => [a.status, a.idempotencyKey, a.amountRefundedMinor]),
    ).toEqual([["succeeded", `${paid.invoiceId}:att_1`, "345"]]);
    expect(payments.refunds.map((r) => r.amountMinor)).toEqual(["345"]);
    expect(payments.dunning).toBeNull();
    expect((await call("/v1/invoices/inv_missing/payments")).status).toBe(404);

    expect(await callJson(`/v1/accounts/${paid.accountId}/billing-status`, 200)).toEqual({
      accountId: paid.accountId,
      status: "normal",
      reason: "",
      since: null,
    });
  });

  it("reconciles a window through the admin endpoint and stores the report", async () => {
    const fromMs = Date.now() - 60_000;
    const paid = await paidViaRoute();
    const body = {
      from: new Date(fromMs).toISOString(),
      to: new Date(Date.now() + 60_000).toISOString(),
      accountId: paid.accountId,
    };
    const report = await callJson<{
      id: string;
      mismatchCount: number;
      repairCount: number;
      checked: unknown;
    }>("/v1/admin/reconciliation", 200, { body });
    expect(report).toMatchObject({
      mismatchCount: 0,
      repairCount: 0,
      checked: { paymentIntents: 1, attempts: 1, refunds: 0 },
    });
    expect(await callJson(`/v1/admin/reconciliation/${report.id}`, 200)).toEqual(report);
    const backwards = await call("/v1/admin/reconciliation", { body: { ...body, to: body.from } });
    expect(backwards.status).toBe(422);
    const notInstant = await call("/v1/admin/reconciliation", {
      body: { ...body, from: "yesterday" },
    });
    expect(notInstant.status).toBe(422);
    expect((await call("/v1/admin/reconciliation/rcn_missing")).status).toBe(404);
  });
});

describe("payment.collect on the work queue", () => {
  it("acks a collected invoice, drops a malformed message and acks an unknown invoice", async () => {
    const customerId = await customerWithCard(stripe);
    const seeded = await seedInvoice({ customerId, amountMinor: 900n, finalizedAtMs: Date.now() });
    const outcome = await deliverWork([
      { id: "collect", body: { v: 1, kind: "payment.collect", invoiceId: seeded.invoiceId } },
      { id: "malformed", body: { v: 1, kind: "payment.collect" } },
      { id: "unknown", body: { v: 1, kind: "payment.collect", invoiceId: "inv_does_not_exist" } },
    ]);
    expect(outcome).toEqual({ acked: ["collect", "malformed", "unknown"], retried: [] });
    const payments = await callJson<{ attempts: { status: string }[] }>(
      `/v1/invoices/${seeded.invoiceId}/payments`,
      200,
    );
    expect(payments.attempts.map((a) => a.status)).toEqual(["succeeded"]);
  });

  it("retries while Stripe does not answer", async () => {
    const customerId = await customerWithCard(stripe);
    const seeded = await seedInvoice({ customerId, amountMinor: 901n, finalizedAtMs: Date.now() });
    const control = new StripeSandboxControl({
      url: config.stripe.apiBase as string,
      secretKey: config.stripe.secretKey,
    });
    await control.addFault({
      kind: "error_500",
      path: "/v1/payment_intents",
      method: "POST",
      idempotencyKey: `${seeded.invoiceId}:att_1`,
    });
    const message = { v: 1, kind: "payment.collect", invoiceId: seeded.invoiceId };
    expect(await deliverWork([{ id: "m", body: message }])).toEqual({ acked: [], retried: ["m"] });
    expect(await deliverWork([{ id: "m", body: message }])).toEqual({ acked: ["m"], retried: [] });
    expect(
      (await stripe.charges.list({ customer: customerId })).data.filter(
        (c) => c.status === "succeeded",
      ).length,
    ).toBe(1);
  });
});
