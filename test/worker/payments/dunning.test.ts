/**
 * Dunning: a failed payment is retried 1, 3, 5 and 7 days after the first failure by the
 * payments tick; then the invoice becomes uncollectible. The account goes normal → grace →
 * restricted, each step audited and announced through QStash, and is restored by paying.
 */

import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { verifyAuditChain } from "../../../lib/audit/audit-log.ts";
import { billingStatusOf } from "../../../lib/payments/account-status.ts";
import { collectInvoice } from "../../../lib/payments/collect.ts";
import { runPaymentsTick } from "../../../lib/payments/tick.ts";
import { processStripeEvent } from "../../../lib/payments/webhook-events.ts";
import { testDb } from "../support/catalogue.ts";
import { BASE, unique } from "../support/http.ts";
import {
  attemptSummary,
  auditActions,
  config,
  customerWithCard,
  depsFor,
  invoiceState,
  type Sandbox,
  sandbox,
  seedInvoice,
} from "./support.ts";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** The QStash sandbox's control API (holds and pulled deliveries). */
async function qstash<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${config.qstash.url}/_sandbox${path}`, {
    method,
    headers: { authorization: `Bearer ${config.qstash.token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) {
    throw new Error(`qstash ${method} ${path}: ${response.status} ${await response.text()}`);
  }
  return (await response.json()) as T;
}

async function tick(box: Sandbox, accountId: string) {
  const deps = depsFor(box);
  try {
    return await runPaymentsTick(deps, { inline: true, accountId });
  } finally {
    await deps.db.end();
  }
}

describe("dunning", () => {
  it("retries on days 1, 3, 5 and 7, then gives up; paying restores the account", async () => {
    const box = await sandbox();
    const t0 = box.clock.nowMs();
    const prefix = `http://localhost/notify/${unique("dun")}/`;
    await qstash("POST", "/holds", { urlPrefix: prefix });
    const customerId = await customerWithCard(box.stripe, "tok_chargeCustomerFail");
    const seeded = await seedInvoice({
      customerId,
      amountMinor: 9_900n,
      finalizedAtMs: t0,
      notificationUrl: `${prefix}billing`,
    });

    const deps = depsFor(box);
    try {
      expect(await collectInvoice(deps, seeded.invoiceId, { mode: "initial" })).toMatchObject({
        status: "failed",
        nextRetryAtMs: t0 + DAY_MS,
      });
      expect((await billingStatusOf(deps.db, seeded.accountId)).status).toBe("grace");
    } finally {
      await deps.db.end();
    }

    await box.advance(HOUR_MS);
    expect((await tick(box, seeded.accountId)).retries).toEqual([]);

    const schedule = [
      { atMs: t0 + DAY_MS, next: t0 + 3 * DAY_MS },
      { atMs: t0 + 3 * DAY_MS, next: t0 + 5 * DAY_MS },
      { atMs: t0 + 5 * DAY_MS, next: t0 + 7 * DAY_MS },
      { atMs: t0 + 7 * DAY_MS, next: null },
    ];
    for (const step of schedule) {
      await box.advance(step.atMs - box.clock.nowMs());
      const report = await tick(box, seeded.accountId);
      expect(report.retries).toEqual([
        {
          invoiceId: seeded.invoiceId,
          outcome: expect.objectContaining({ status: "failed", nextRetryAtMs: step.next }),
        },
      ]);
    }
    await box.advance(DAY_MS);
    expect((await tick(box, seeded.accountId)).retries).toEqual([]);

    const db = testDb();
    try {
      expect(await invoiceState(db, seeded.invoiceId)).toMatchObject({ status: "uncollectible" });
      expect(await billingStatusOf(db, seeded.accountId)).toMatchObject({ status: "restricted" });
      expect(
        (await attemptSummary(db, seeded.invoiceId)).map((a) => [a.no, a.status, a.key]),
      ).toEqual([1, 2, 3, 4, 5].map((no) => [no, "failed", `${seeded.invoiceId}:att_${no}`]));
    } finally {
      await db.end();
    }
    // Dunning itself no longer touches an uncollectible invoice.
    const late = depsFor(box);
    try {
      expect(await collectInvoice(late, seeded.invoiceId, { mode: "dunning" })).toEqual({
        status: "not_collectible",
        reason: "dunning gave up on the invoice",
      });
    } finally {
      await late.db.end();
    }

    // The customer puts a working card on file; an admin retries now; the account is restored.
    const card = await box.stripe.paymentMethods.create({
      type: "card",
      card: { token: "tok_visa" },
    });
    await box.stripe.paymentMethods.attach(card.id, { customer: customerId });
    await box.stripe.customers.update(customerId, {
      invoice_settings: { default_payment_method: card.id },
    });
    const admin = depsFor(box);
    try {
      expect(
        await collectInvoice(admin, seeded.invoiceId, { mode: "manual", actor: "admin" }),
      ).toMatchObject({ status: "succeeded" });
      expect(await invoiceState(admin.db, seeded.invoiceId)).toEqual({
        status: "paid",
        amountPaidMinor: "9900",
        amountRefundedMinor: "0",
      });
      expect(await billingStatusOf(admin.db, seeded.accountId)).toMatchObject({ status: "normal" });
      const actions = (await auditActions(admin.db, seeded.accountId)).filter(
        (action) => action.startsWith("invoice.") || action === "account.status_changed",
      );
      expect(actions).toEqual([
        "account.status_changed",
        "invoice.marked_uncollectible",
        "account.status_changed",
        "invoice.paid",
        "account.status_changed",
      ]);
      const { rows } = await admin.db.query<{ kind: string; destination: string | null }>(
        `select kind, destination from payment_notifications where account_id = $1
          order by seq`,
        [seeded.accountId],
      );
      expect(rows.map((row) => row.kind)).toEqual([
        "payment.failed",
        "account.billing_status_changed",
        "payment.failed",
        "payment.failed",
        "payment.failed",
        "payment.failed",
        "account.billing_status_changed",
        "account.billing_status_changed",
      ]);
      expect(new Set(rows.map((row) => row.destination))).toEqual(new Set([`${prefix}billing`]));
      // Every one of those records is on the account's hash chain, unbroken.
      expect(await verifyAuditChain(admin.db, seeded.accountId)).toMatchObject({
        ok: true,
        problems: [],
      });
    } finally {
      await admin.db.end();
    }
    const pulled = await qstash<{ body: string }[]>(
      "GET",
      `/deliveries?urlPrefix=${encodeURIComponent(prefix)}&limit=50`,
    );
    const statusChanges = pulled
      .map((delivery) => JSON.parse(delivery.body) as { type: string; from?: string; to?: string })
      .filter((body) => body.type === "account.billing_status_changed")
      .map((body) => `${body.from}->${body.to}`);
    expect(statusChanges).toEqual(["normal->grace", "grace->restricted", "restricted->normal"]);
    await qstash("DELETE", `/holds?urlPrefix=${encodeURIComponent(prefix)}`).catch(() => undefined);
  });

  it("retries at the next tick when the customer sets a new default card", async () => {
    const box = await sandbox();
    const customerId = await customerWithCard(box.stripe, "tok_chargeCustomerFail");
    const seeded = await seedInvoice({
      customerId,
      amountMinor: 1_500n,
      finalizedAtMs: box.clock.nowMs(),
    });
    const deps = depsFor(box);
    try {
      await collectInvoice(deps, seeded.invoiceId, { mode: "initial" });
      await box.control.pullWebhooks({ relatedTo: customerId });
      const card = await box.stripe.paymentMethods.create({
        type: "card",
        card: { token: "tok_visa" },
      });
      await box.stripe.paymentMethods.attach(card.id, { customer: customerId });
      await box.stripe.customers.update(customerId, {
        invoice_settings: { default_payment_method: card.id },
      });
      const [updated] = await box.control.pullWebhooks({ type: "customer.updated" });
      if (!updated) {
        throw new Error("no customer.updated delivery");
      }
      const response = await exports.default.fetch(
        new Request(`${BASE}/webhooks/stripe`, {
          method: "POST",
          headers: updated.headers,
          body: updated.body,
        }),
      );
      expect(response.status).toBe(200);
      expect(await processStripeEvent(deps, updated.eventId)).toMatchObject({
        outcome: "customer updated: new default payment method; 1 retries brought forward",
      });
      await box.advance(HOUR_MS);
      const report = await runPaymentsTick(deps, { inline: true, accountId: seeded.accountId });
      expect(report.retries).toEqual([
        { invoiceId: seeded.invoiceId, outcome: expect.objectContaining({ status: "succeeded" }) },
      ]);
      expect(await billingStatusOf(deps.db, seeded.accountId)).toMatchObject({ status: "normal" });
    } finally {
      await deps.db.end();
    }
  });
});
