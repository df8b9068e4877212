/**
 * Scenarios driven by Stripe's fraud signals, as the webhook function will report them: an early
 * fraud warning suspends the account, a dispute limits it, a burst of small failed charges (card
 * testing) suspends it. Each transition is audited, mirrored to the rate limiter, enforced at
 * admission and notified to the platform through QStash exactly once.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { signalMessage } from "../../../lib/fraud/messages.ts";
import { callJson, unique } from "../support/http.ts";
import {
  deployment,
  heldNotificationUrl,
  postSignal,
  pullNotifications,
  releaseNotificationUrl,
  riskStatus,
  rulesOf,
  seedPaidPlan,
  seedRiskAccount,
  type Verdict,
  waitForLevel,
} from "./support.ts";

const now = () => new Date().toISOString();

describe("an early fraud warning", () => {
  it("suspends the account, denies its deployments and notifies the platform once", async () => {
    const hook = await heldNotificationUrl("efw");
    const accountId = await seedRiskAccount({
      planId: await seedPaidPlan(),
      notificationUrl: `${hook}platform`,
    });
    const warning = {
      kind: "stripe.early_fraud_warning",
      sourceId: unique("issfr"),
      accountId,
      cardFingerprint: unique("fp"),
      amountMinor: 4999,
      currency: "usd",
      occurredAt: now(),
    };

    const recorded = await postSignal(warning);
    expect([recorded.status, recorded.level, recorded.score]).toEqual([
      "recorded",
      "suspended",
      90,
    ]);

    // The webhook may deliver the same event again: nothing changes, nothing is sent twice.
    const again = await postSignal(warning);
    expect([again.status, again.signalId, again.level]).toEqual([
      "duplicate",
      recorded.signalId,
      "suspended",
    ]);

    const status = await riskStatus(accountId);
    expect(status.level).toBe("suspended");
    expect(status.restrictions).toEqual({
      rateTier: "restricted",
      deployments: "denied",
      usageAccepted: true,
    });
    expect(status.reasons).toEqual([
      { rule: "early_fraud_warning", points: 90, detail: "1 signal (90 points)" },
    ]);
    expect(
      status.transitions.map((t) => [t.action, t.actor, t.from, t.to, rulesOf(t).join()]),
    ).toEqual([["level.raised", "system", "normal", "suspended", "early_fraud_warning:90"]]);
    expect(status.signals.map((s) => s.kind)).toEqual(["stripe.early_fraud_warning"]);

    const admission = await callJson<Verdict>("/v1/risk/deployments", 200, {
      body: deployment(accountId),
    });
    expect([admission.decision, admission.score, rulesOf(admission)]).toEqual([
      "deny",
      0,
      ["account_suspended:0"],
    ]);

    const notifications = await pullNotifications(hook);
    expect(notifications).toHaveLength(1);
    const [notification] = notifications as [(typeof notifications)[number]];
    expect(notification.body).toMatchObject({
      type: "risk.level_changed",
      id: recorded.transitionId,
      accountId,
      from: "normal",
      to: "suspended",
      actor: "system",
      score: 90,
      restrictions: { rateTier: "restricted", deployments: "denied", usageAccepted: true },
    });
    expect(notification.headers["content-type"]).toBe("application/json");
    await releaseNotificationUrl(hook);

    // The move is in the account's hash-chained audit trail, once, and the chain verifies.
    const trail = await callJson<{
      data: { action: string; actor: string; before: unknown; after: unknown }[];
    }>(`/v1/accounts/${accountId}/audit?action=account.risk_level_changed`, 200);
    expect(trail.data.map((r) => [r.action, r.actor, r.before])).toEqual([
      ["account.risk_level_changed", "system:fraud", { level: "normal" }],
    ]);
    expect(trail.data[0]?.after).toMatchObject({ level: "suspended", score: 90 });
    expect(await callJson(`/v1/accounts/${accountId}/audit/verify`, 200)).toMatchObject({
      ok: true,
      records: 1,
    });
  });

  it("also flags the card: a new signup with it is denied", async () => {
    const accountId = await seedRiskAccount();
    const card = unique("fp-efw");
    await postSignal({
      kind: "stripe.early_fraud_warning",
      sourceId: unique("issfr"),
      accountId,
      cardFingerprint: card,
      occurredAt: now(),
    });
    const signup = await callJson<Verdict>("/v1/risk/signups", 200, {
      body: {
        accountId: unique("acct-new"),
        email: `${unique("someone")}@example.org`,
        cardFingerprint: card,
      },
    });
    expect([signup.decision, rulesOf(signup)]).toEqual(["deny", ["flagged_card:80"]]);
  });
});

describe("a dispute", () => {
  it("limits the account: new deployments need review, usage keeps being accepted", async () => {
    const accountId = await seedRiskAccount({ planId: await seedPaidPlan() });
    const recorded = await postSignal({
      kind: "stripe.dispute",
      sourceId: unique("dp"),
      accountId,
      cardFingerprint: unique("fp"),
      amountMinor: "12000",
      currency: "EUR",
      occurredAt: now(),
      evidence: { reason: "fraudulent" },
    });
    expect([recorded.level, recorded.score]).toEqual(["limited", 50]);

    const admission = await callJson<Verdict>("/v1/risk/deployments", 200, {
      body: deployment(accountId),
    });
    expect([admission.decision, rulesOf(admission)]).toEqual(["review", ["account_limited:0"]]);

    // A second dispute pushes the score to 100: suspended.
    const second = await postSignal({
      kind: "stripe.dispute",
      sourceId: unique("dp"),
      accountId,
      amountMinor: "3000",
      currency: "EUR",
      occurredAt: now(),
    });
    expect([second.level, second.score]).toEqual(["suspended", 100]);
    const status = await riskStatus(accountId);
    expect(status.transitions.map((t) => `${t.from}->${t.to}`)).toEqual([
      "limited->suspended",
      "normal->limited",
    ]);
  });
});

describe("card testing", () => {
  it("a burst of small failed charges on one card suspends the account", async () => {
    const accountId = await seedRiskAccount();
    const card = unique("fp-testing");
    const levels: string[] = [];
    for (let i = 0; i < 6; i += 1) {
      const outcome = await postSignal({
        kind: "stripe.charge_failed",
        sourceId: unique("ch"),
        accountId,
        cardFingerprint: card,
        amountMinor: 100,
        currency: "USD",
        occurredAt: now(),
        evidence: { declineCode: "card_declined" },
      });
      levels.push(`${outcome.level}:${outcome.score}`);
    }
    // 5 points per failed charge; the fifth small failure within the hour is card testing (90).
    expect(levels).toEqual([
      "normal:5",
      "normal:10",
      "normal:15",
      "normal:20",
      "suspended:100",
      "suspended:100",
    ]);
    const status = await riskStatus(accountId);
    expect(status.reasons.map((r) => `${r.rule}:${r.points}`)).toEqual([
      "card_testing:90",
      "charge_failed:30",
    ]);
    expect(status.signals.filter((s) => s.kind === "velocity.card_testing")).toHaveLength(1);
  });

  it("failed charges above the small-amount line count, but are not card testing", async () => {
    const accountId = await seedRiskAccount();
    const card = unique("fp-big");
    let last = { level: "", score: 0 };
    for (let i = 0; i < 6; i += 1) {
      last = await postSignal({
        kind: "stripe.charge_failed",
        sourceId: unique("ch"),
        accountId,
        cardFingerprint: card,
        amountMinor: 25_000,
        currency: "USD",
        occurredAt: now(),
      });
    }
    // 6 × 5 points: on watch, no card testing.
    expect([last.level, last.score]).toEqual(["watch", 30]);
  });
});

describe("signals through the work queue", () => {
  it("a risk.signal message from the webhook is applied by the consumer", async () => {
    const accountId = await seedRiskAccount();
    await env.WORK.send(
      signalMessage({
        kind: "stripe.early_fraud_warning",
        sourceId: unique("issfr"),
        accountId,
        occurredAt: now(),
      }),
      { contentType: "json" },
    );
    const status = await waitForLevel(accountId, "suspended");
    expect(status.transitions.map((t) => t.to)).toEqual(["suspended"]);
  });

  it("resolves the account from the Stripe customer id", async () => {
    const accountId = await seedRiskAccount();
    const customer = unique("cus");
    const { testDb } = await import("../support/catalogue.ts");
    const db = testDb();
    await db.query("update accounts set stripe_customer_id = $2 where id = $1", [
      accountId,
      customer,
    ]);
    await db.end();
    const recorded = await postSignal({
      kind: "stripe.dispute",
      sourceId: unique("dp"),
      stripeCustomerId: customer,
      occurredAt: now(),
    });
    expect(recorded.level).toBe("limited");
    expect((await riskStatus(accountId)).level).toBe("limited");
  });

  it("rejects a signal naming no account", async () => {
    const response = await callJson<{ code: string }>("/v1/risk/signals", 404, {
      body: {
        kind: "stripe.dispute",
        sourceId: unique("dp"),
        stripeCustomerId: unique("cus-nobody"),
        occurredAt: now(),
      },
    });
    expect(response.code).toBe("NOT_FOUND");
  });
});
