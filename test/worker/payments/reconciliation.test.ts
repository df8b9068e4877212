/**
 * Reconciliation against the Stripe sandbox: each kind of mismatch is seeded — a charge without
 * a record, an attempt Stripe never saw, a refund we missed, amount and currency mismatches —
 * repaired where safe, reported otherwise; a clean run reports 0.
 */
import { describe, expect, it } from "vitest";
import { collectInvoice } from "../../../lib/payments/collect.ts";
import { attemptKey } from "../../../lib/payments/keys.ts";
import { reconcilePayments, reconciliationRun } from "../../../lib/payments/reconcile.ts";
import { testDb } from "../support/catalogue.ts";
import {
  attemptSummary,
  capturingQueue,
  customerWithCard,
  defaultCard,
  depsFor,
  invoiceState,
  type Sandbox,
  sandbox,
  seedInvoice,
} from "./support.ts";

const HOUR_MS = 3_600_000;

async function paidInvoice(box: Sandbox, accountId: string, amountMinor: bigint) {
  const customerId = await customerWithCard(box.stripe);
  const seeded = await seedInvoice({
    customerId,
    amountMinor,
    accountId,
    finalizedAtMs: box.clock.nowMs(),
  });
  const deps = depsFor(box);
  try {
    const outcome = await collectInvoice(deps, seeded.invoiceId, { mode: "initial" });
    expect(outcome).toMatchObject({ status: "succeeded" });
    return { ...seeded, paymentIntentId: (outcome as { paymentIntentId: string }).paymentIntentId };
  } finally {
    await deps.db.end();
  }
}

async function reconcile(box: Sandbox, accountId: string, work = capturingQueue()) {
  const deps = depsFor(box, { work });
  try {
    return await reconcilePayments(deps, {
      fromMs: box.clock.nowMs() - 2 * HOUR_MS,
      toMs: box.clock.nowMs() + HOUR_MS,
      accountId,
      trigger: "admin",
    });
  } finally {
    await deps.db.end();
  }
}

describe("reconciliation", () => {
  it("reports 0 mismatches and repairs nothing after clean payments", async () => {
    const box = await sandbox();
    const accountId = `acct-rec-${crypto.randomUUID().slice(0, 8)}`;
    await paidInvoice(box, accountId, 1_000n);
    await paidInvoice(box, accountId, 2_000n);
    const report = await reconcile(box, accountId);
    expect(report).toMatchObject({
      checked: { paymentIntents: 2, attempts: 2, refunds: 0 },
      mismatches: [],
      repairs: [],
      skipped: [],
    });
    const db = testDb();
    try {
      expect(await reconciliationRun(db, report.id)).toEqual(report);
    } finally {
      await db.end();
    }
  });

  it("repairs what is safe and reports amount and currency mismatches", async () => {
    const box = await sandbox();
    const accountId = `acct-rec-${crypto.randomUUID().slice(0, 8)}`;

    // 1. A charge that succeeded while our record of it was lost.
    const unrecordedCustomer = await customerWithCard(box.stripe);
    const unrecorded = await seedInvoice({
      customerId: unrecordedCustomer,
      amountMinor: 3_000n,
      accountId,
      finalizedAtMs: box.clock.nowMs(),
    });
    const lost = await box.stripe.paymentIntents.create({
      amount: 3000,
      currency: "usd",
      customer: unrecordedCustomer,
      payment_method: await defaultCard(box.stripe, unrecordedCustomer),
      confirm: true,
      off_session: true,
      metadata: { invoice_id: unrecorded.invoiceId, account_id: accountId },
    });

    // 2. An attempt recorded as sent an hour ago that Stripe never received.
    const neverSeenCustomer = await customerWithCard(box.stripe);
    const neverSeen = await seedInvoice({
      customerId: neverSeenCustomer,
      amountMinor: 4_000n,
      accountId,
      finalizedAtMs: box.clock.nowMs() - HOUR_MS,
    });
    const db = testDb();
    const ghostId = `att_ghost${crypto.randomUUID().replaceAll("-", "").slice(0, 17)}`;
    const anHourAgo = new Date(box.clock.nowMs() - HOUR_MS).toISOString();
    await db.query(
      `insert into payment_attempts (id, invoice_id, account_id, attempt_no, idempotency_key, status,
         origin, amount_minor, currency, stripe_customer_id, key_first_used_at, created_at, updated_at)
       values ($1, $2, $3, 1, $4, 'unknown', 'charge', 4000, 'USD', $5, $6, $6, $6)`,
      [
        ghostId,
        neverSeen.invoiceId,
        accountId,
        attemptKey(neverSeen.invoiceId, 1),
        neverSeenCustomer,
        anHourAgo,
      ],
    );

    // 3. and 4. Recorded amounts and currencies that differ from Stripe's.
    const amountOff = await paidInvoice(box, accountId, 5_000n);
    const currencyOff = await paidInvoice(box, accountId, 6_000n);
    await db.query(
      "update payment_attempts set amount_minor = 5001 where stripe_payment_intent_id = $1",
      [amountOff.paymentIntentId],
    );
    await db.query(
      "update payment_attempts set currency = 'EUR' where stripe_payment_intent_id = $1",
      [currencyOff.paymentIntentId],
    );

    // 5. A refund made in Stripe's dashboard that no webhook told us about.
    const refunded = await paidInvoice(box, accountId, 7_000n);
    const refund = await box.stripe.refunds.create({
      payment_intent: refunded.paymentIntentId,
      amount: 2_500,
    });

    const work = capturingQueue();
    const report = await reconcile(box, accountId, work);
    const summary = (findings: { kind: string; invoiceId: string | null }[]) =>
      findings.map((finding) => [finding.kind, finding.invoiceId]).sort();
    expect(summary(report.repairs)).toEqual(
      [
        ["adopted_charge", unrecorded.invoiceId],
        ["attempt_not_at_stripe", neverSeen.invoiceId],
        ["refund_recorded", refunded.invoiceId],
      ].sort(),
    );
    expect(summary(report.mismatches)).toEqual(
      [
        ["amount_mismatch", amountOff.invoiceId],
        ["currency_mismatch", currencyOff.invoiceId],
      ].sort(),
    );
    expect(report.mismatches.find((m) => m.kind === "amount_mismatch")).toMatchObject({
      ours: "5001",
      stripe: "5000",
      stripeId: amountOff.paymentIntentId,
    });
    expect(report.mismatches.find((m) => m.kind === "currency_mismatch")).toMatchObject({
      ours: "EUR",
      stripe: "USD",
    });
    // The invoice whose attempt Stripe never saw is queued for collection again.
    expect(work.sent).toEqual([{ v: 1, kind: "payment.collect", invoiceId: neverSeen.invoiceId }]);
    try {
      expect(await invoiceState(db, unrecorded.invoiceId)).toMatchObject({
        status: "paid",
        amountPaidMinor: "3000",
      });
      expect(await attemptSummary(db, unrecorded.invoiceId)).toEqual([
        {
          no: 1,
          status: "succeeded",
          key: `${unrecorded.invoiceId}:adopted:${lost.id}`,
          origin: "adopted",
        },
      ]);
      expect((await attemptSummary(db, neverSeen.invoiceId)).map((a) => a.status)).toEqual([
        "canceled",
      ]);
      expect(await invoiceState(db, refunded.invoiceId)).toMatchObject({
        amountRefundedMinor: "2500",
      });
      const recorded = await db.query<{ id: string }>(
        "select id from payment_refunds where id = $1",
        [refund.id],
      );
      expect(recorded.rowCount).toBe(1);
    } finally {
      await db.end();
    }

    // The queued collection charges the never-seen invoice (after searching Stripe once more).
    const deps = depsFor(box);
    try {
      expect(await collectInvoice(deps, neverSeen.invoiceId, { mode: "initial" })).toMatchObject({
        status: "succeeded",
      });
    } finally {
      await deps.db.end();
    }

    // A second run repairs nothing more and still reports what only a human can settle.
    const again = await reconcile(box, accountId);
    expect(again.repairs).toEqual([]);
    expect(summary(again.mismatches)).toEqual(summary(report.mismatches));
  });
});
