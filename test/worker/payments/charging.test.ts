/**
 * Charging an invoice through the Stripe sandbox: exactly one successful charge per invoice,
 * whatever fails — a 5xx, a timeout, a success whose answer is dropped, our own Postgres write
 * failing right after the charge — and however the job runs again: at once, concurrently, or
 * 25 hours later when Stripe has forgotten the idempotency key.
 */
import { describe, expect, it } from "vitest";
import { type CollectOutcome, collectInvoice } from "../../../lib/payments/collect.ts";
import {
  attemptSummary,
  auditActions,
  customerWithCard,
  depsFor,
  failingOnce,
  invoiceState,
  type Sandbox,
  type SeededInvoice,
  sandbox,
  seedInvoice,
  successfulCharges,
} from "./support.ts";

const HOUR_MS = 3_600_000;
const AMOUNT = 4_200n;

async function setUp(token = "tok_visa"): Promise<{ box: Sandbox; seeded: SeededInvoice }> {
  const box = await sandbox();
  const customerId = await customerWithCard(box.stripe, token);
  const seeded = await seedInvoice({
    customerId,
    amountMinor: AMOUNT,
    finalizedAtMs: box.clock.nowMs(),
  });
  return { box, seeded };
}

/** Collects once with fresh dependencies (a new isolate, in effect) and closes them. */
async function collectOnce(
  box: Sandbox,
  invoiceId: string,
  mode: "initial" | "dunning" | "manual" = "initial",
): Promise<CollectOutcome> {
  const deps = depsFor(box);
  try {
    return await collectInvoice(deps, invoiceId, { mode });
  } finally {
    await deps.db.end();
  }
}

/** The sandbox's log of PaymentIntent creations: key and whether Stripe replayed it. */
async function intentRequests(box: Sandbox) {
  const requests = await box.control.requests("/v1/payment_intents");
  return requests
    .filter((request) => request.method === "POST" && request.path === "/v1/payment_intents")
    .map((request) => ({
      key: request.idempotencyKey,
      status: request.status,
      replayed: request.replayed,
      fault: request.fault,
    }));
}

describe("charging an invoice", () => {
  it("charges once with a key derived from the invoice and attempt, and pays the invoice", async () => {
    const { box, seeded } = await setUp();
    const outcome = await collectOnce(box, seeded.invoiceId);
    expect(outcome).toMatchObject({ status: "succeeded", adopted: false });
    const deps = depsFor(box);
    try {
      expect(await attemptSummary(deps.db, seeded.invoiceId)).toEqual([
        { no: 1, status: "succeeded", key: `${seeded.invoiceId}:att_1`, origin: "charge" },
      ]);
      expect(await invoiceState(deps.db, seeded.invoiceId)).toEqual({
        status: "paid",
        amountPaidMinor: "4200",
        amountRefundedMinor: "0",
      });
      expect(await auditActions(deps.db, seeded.accountId)).toEqual([
        "payment.attempted",
        "payment.succeeded",
        "invoice.paid",
      ]);
      // Running again finds the invoice paid and asks Stripe for nothing.
      expect(await collectInvoice(deps, seeded.invoiceId, { mode: "initial" })).toEqual({
        status: "already_paid",
        attemptId: (outcome as { attemptId: string }).attemptId,
      });
    } finally {
      await deps.db.end();
    }
    expect(await intentRequests(box)).toEqual([
      { key: `${seeded.invoiceId}:att_1`, status: 200, replayed: false, fault: null },
    ]);
    expect((await successfulCharges(box.stripe, seeded.customerId as string)).length).toBe(1);
    const [intent] = (
      await box.stripe.paymentIntents.search({
        query: `metadata['invoice_id']:'${seeded.invoiceId}'`,
      })
    ).data;
    expect(intent).toMatchObject({
      amount: 4200,
      currency: "usd",
      customer: seeded.customerId,
      metadata: { invoice_id: seeded.invoiceId, account_id: seeded.accountId, attempt_no: "1" },
    });
  });

  it("records a decline as a failed attempt and starts dunning", async () => {
    const { box, seeded } = await setUp("tok_chargeCustomerFail");
    const outcome = await collectOnce(box, seeded.invoiceId);
    expect(outcome).toMatchObject({
      status: "failed",
      failureCode: "generic_decline",
      nextRetryAtMs: box.clock.nowMs() + 24 * HOUR_MS,
    });
    const deps = depsFor(box);
    try {
      expect(await attemptSummary(deps.db, seeded.invoiceId)).toEqual([
        { no: 1, status: "failed", key: `${seeded.invoiceId}:att_1`, origin: "charge" },
      ]);
      expect((await invoiceState(deps.db, seeded.invoiceId)).status).toBe("open");
      // The first payment: never retried by the finalization job itself.
      expect(await collectInvoice(deps, seeded.invoiceId, { mode: "initial" })).toMatchObject({
        status: "awaiting_retry",
        nextRetryAtMs: box.clock.nowMs() + 24 * HOUR_MS,
      });
    } finally {
      await deps.db.end();
    }
    expect((await successfulCharges(box.stripe, seeded.customerId as string)).length).toBe(0);
  });

  it("fails without calling Stripe when the customer has no default payment method", async () => {
    const box = await sandbox();
    const customer = await box.stripe.customers.create({ email: "nocard@example.com" });
    const seeded = await seedInvoice({
      customerId: customer.id,
      amountMinor: AMOUNT,
      finalizedAtMs: box.clock.nowMs(),
    });
    expect(await collectOnce(box, seeded.invoiceId)).toMatchObject({
      status: "failed",
      failureCode: "no_payment_method",
    });
    expect(await intentRequests(box)).toEqual([]);
  });

  it("follows a processing payment until it settles", async () => {
    const { box, seeded } = await setUp("tok_sandboxProcessingSucceeds");
    const first = await collectOnce(box, seeded.invoiceId);
    expect(first).toMatchObject({ status: "processing" });
    expect(await collectOnce(box, seeded.invoiceId)).toMatchObject({ status: "processing" });
    await box.control.settlePaymentIntent(
      (first as { paymentIntentId: string }).paymentIntentId,
      "succeeded",
    );
    expect(await collectOnce(box, seeded.invoiceId)).toMatchObject({ status: "succeeded" });
    expect((await intentRequests(box)).length).toBe(1);
    expect((await successfulCharges(box.stripe, seeded.customerId as string)).length).toBe(1);
  });
});

describe("a key Stripe can no longer answer", () => {
  it("a 5xx saved for the key is replayed; after search catches up, the invoice gets a new key", async () => {
    const { box, seeded } = await setUp();
    const key = `${seeded.invoiceId}:att_1`;
    await box.control.addFault({
      kind: "error_500",
      path: "/v1/payment_intents",
      method: "POST",
      idempotencyKey: key,
      storeIdempotency: true,
    });
    expect(await collectOnce(box, seeded.invoiceId)).toMatchObject({ status: "pending" });
    // Stripe replays the saved 500; too soon to trust a search that finds nothing.
    expect(await collectOnce(box, seeded.invoiceId)).toMatchObject({ status: "pending" });
    await box.advance(10 * 60_000);
    expect(await collectOnce(box, seeded.invoiceId)).toMatchObject({ status: "succeeded" });
    expect(await intentRequests(box)).toEqual([
      { key, status: 500, replayed: false, fault: "error_500" },
      { key, status: 500, replayed: true, fault: null },
      { key, status: 500, replayed: true, fault: null },
      { key: `${seeded.invoiceId}:att_2`, status: 200, replayed: false, fault: null },
    ]);
    const deps = depsFor(box);
    try {
      expect((await attemptSummary(deps.db, seeded.invoiceId)).map((a) => a.status)).toEqual([
        "canceled",
        "succeeded",
      ]);
    } finally {
      await deps.db.end();
    }
    expect((await successfulCharges(box.stripe, seeded.customerId as string)).length).toBe(1);
  });
});

type Fault = "error_500" | "timeout" | "drop_after_success" | "postgres_write";
type Rerun = "immediately" | "concurrently" | "25 hours later";

/** The attempts each fault and rerun leave behind: same key while Stripe remembers it. */
function expectedAttempts(fault: Fault, rerun: Rerun, invoiceId: string) {
  const first = { no: 1, key: `${invoiceId}:att_1`, origin: "charge" };
  if (rerun === "25 hours later" && (fault === "error_500" || fault === "timeout")) {
    // Stripe never ran the first request and has forgotten its key: closed, then a new key.
    return [
      { ...first, status: "canceled" },
      { no: 2, status: "succeeded", key: `${invoiceId}:att_2`, origin: "charge" },
    ];
  }
  return [{ ...first, status: "succeeded" }];
}

const FAULTS: Fault[] = ["error_500", "timeout", "drop_after_success", "postgres_write"];
const RERUNS: Rerun[] = ["immediately", "concurrently", "25 hours later"];

describe("exactly one successful charge per invoice under faults", () => {
  for (const fault of FAULTS) {
    for (const rerun of RERUNS) {
      it(`${fault}, then the job runs ${rerun}`, async () => {
        const { box, seeded } = await setUp();
        const key = `${seeded.invoiceId}:att_1`;
        let first: CollectOutcome | Error;
        if (fault === "postgres_write") {
          const deps = depsFor(box);
          const db = failingOnce(
            deps.db,
            (sql, params) =>
              sql.includes("payment_attempt.apply_state") && params[1] === "succeeded",
          );
          first = await collectInvoice({ ...deps, db }, seeded.invoiceId, {
            mode: "initial",
          }).catch((error: Error) => error);
          await deps.db.end();
          expect(db.tripped()).toBe(true);
          expect(first).toBeInstanceOf(Error);
        } else {
          await box.control.addFault({
            kind: fault,
            path: "/v1/payment_intents",
            method: "POST",
            idempotencyKey: key,
          });
          first = await collectOnce(box, seeded.invoiceId);
          expect(first).toMatchObject({ status: "pending", attemptId: expect.any(String) });
        }

        if (rerun === "immediately") {
          expect(await collectOnce(box, seeded.invoiceId)).toMatchObject({ status: "succeeded" });
        } else if (rerun === "concurrently") {
          const outcomes = await Promise.all(
            [1, 2, 3].map(() => collectOnce(box, seeded.invoiceId)),
          );
          const statuses = outcomes.map((outcome) => outcome.status).sort();
          expect(statuses.filter((status) => status === "succeeded")).toEqual(["succeeded"]);
          expect(statuses.every((s) => ["succeeded", "busy", "already_paid"].includes(s))).toBe(
            true,
          );
        } else {
          await box.advance(25 * HOUR_MS);
          expect(await collectOnce(box, seeded.invoiceId)).toMatchObject({ status: "succeeded" });
        }
        // And once more for good measure: nothing left to do.
        expect(await collectOnce(box, seeded.invoiceId)).toMatchObject({ status: "already_paid" });

        expect((await successfulCharges(box.stripe, seeded.customerId as string)).length).toBe(1);
        const deps = depsFor(box);
        try {
          expect(await attemptSummary(deps.db, seeded.invoiceId)).toEqual(
            expectedAttempts(fault, rerun, seeded.invoiceId),
          );
          expect(await invoiceState(deps.db, seeded.invoiceId)).toEqual({
            status: "paid",
            amountPaidMinor: "4200",
            amountRefundedMinor: "0",
          });
          const succeeded = (await auditActions(deps.db, seeded.accountId)).filter(
            (action) => action === "payment.succeeded" || action === "invoice.paid",
          );
          expect(succeeded).toEqual(["payment.succeeded", "invoice.paid"]);
        } finally {
          await deps.db.end();
        }
        const sent = await intentRequests(box);
        if (rerun !== "25 hours later") {
          // Within Stripe's key window every send reuses the first key.
          expect(new Set(sent.map((request) => request.key))).toEqual(new Set([key]));
        }
        if (fault === "drop_after_success" || fault === "postgres_write") {
          // The first send charged; any later send of the same key was a replay.
          expect(sent.filter((request) => !request.replayed && request.status === 200).length).toBe(
            1,
          );
        }
      });
    }
  }
});
