/**
 * The throttle ladder's rules of motion and its visibility: signals only move accounts up, an
 * admin moves them down with a reason (audited, notified, and earlier signals stop counting),
 * the status endpoint shows the admin everything and the account only its level, and the
 * scoring configuration is changed through the admin API.
 */
import { describe, expect, it } from "vitest";
import type { RiskConfig } from "../../../lib/fraud/config.ts";
import { call, callJson, unique } from "../support/http.ts";
import {
  accountKey,
  heldNotificationUrl,
  postSignal,
  pullNotifications,
  releaseNotificationUrl,
  riskStatus,
  rulesOf,
  seedRiskAccount,
  type Verdict,
} from "./support.ts";

const now = () => new Date().toISOString();

function dispute(accountId: string) {
  return postSignal({
    kind: "stripe.dispute",
    sourceId: unique("dp"),
    accountId,
    amountMinor: 1000,
    currency: "USD",
    occurredAt: now(),
  });
}

describe("moving down", () => {
  it("is an admin action with a reason; earlier signals no longer count", async () => {
    const hook = await heldNotificationUrl("ladder");
    const accountId = await seedRiskAccount({ notificationUrl: `${hook}hook` });
    expect((await dispute(accountId)).level).toBe("limited");

    const lowered = await callJson<{ level: string; previousLevel: string; transitionId: string }>(
      `/v1/accounts/${accountId}/risk/level`,
      200,
      { body: { level: "normal", reason: "dispute won: customer confirmed the charge" } },
    );
    expect([lowered.previousLevel, lowered.level]).toEqual(["limited", "normal"]);

    const status = await riskStatus(accountId);
    expect([status.level, status.score, status.reasons]).toEqual(["normal", 0, []]);
    expect(status.transitions.map((t) => [t.action, t.actor, t.from, t.to, t.reason])).toEqual([
      ["level.set", "admin", "limited", "normal", "dispute won: customer confirmed the charge"],
      [
        "level.raised",
        "system",
        "normal",
        "limited",
        "Account score 50 reached the limited threshold (50) after a stripe.dispute signal",
      ],
    ]);

    // A new, unrelated failed charge is scored alone: the old dispute was reviewed.
    const failed = await postSignal({
      kind: "stripe.charge_failed",
      sourceId: unique("ch"),
      accountId,
      amountMinor: 90_000,
      currency: "USD",
      occurredAt: now(),
    });
    expect([failed.level, failed.score]).toEqual(["normal", 5]);
    // A new dispute counts again.
    expect((await dispute(accountId)).level).toBe("limited");

    const sent = await pullNotifications(hook);
    expect(sent.map((n) => [n.body.from, n.body.to, n.body.actor])).toEqual([
      ["normal", "limited", "system"],
      ["limited", "normal", "admin"],
      ["normal", "limited", "system"],
    ]);
    await releaseNotificationUrl(hook);
  });

  it("needs the admin key and a reason", async () => {
    const accountId = await seedRiskAccount();
    const key = await accountKey(accountId);
    const forbidden = await call(`/v1/accounts/${accountId}/risk/level`, {
      key,
      body: { level: "normal", reason: "let me out" },
    });
    expect(forbidden.status).toBe(403);
    const invalid = await callJson<{ code: string; errors: { field: string }[] }>(
      `/v1/accounts/${accountId}/risk/level`,
      422,
      { body: { level: "lenient", reason: "" } },
    );
    expect([invalid.code, invalid.errors.map((e) => e.field).sort()]).toEqual([
      "VALIDATION_FAILED",
      ["/level", "/reason"],
    ]);
  });
});

describe("the status endpoint", () => {
  it("shows an account key only its own level and restrictions", async () => {
    const accountId = await seedRiskAccount();
    await dispute(accountId);
    const key = await accountKey(accountId);
    const own = await callJson<Record<string, unknown>>(`/v1/accounts/${accountId}/risk`, 200, {
      key,
    });
    expect(Object.keys(own).sort()).toEqual(["accountId", "level", "levelSince", "restrictions"]);
    expect(own.level).toBe("limited");

    const other = await seedRiskAccount();
    expect((await call(`/v1/accounts/${other}/risk`, { key })).status).toBe(404);
    expect((await call(`/v1/accounts/${accountId}/risk`, { key: null })).status).toBe(401);
  });

  it("knows accounts without risk history, and 404s unknown ones", async () => {
    const accountId = await seedRiskAccount();
    const status = await riskStatus(accountId);
    expect([status.level, status.score, status.transitions]).toEqual(["normal", 0, []]);
    expect((await call(`/v1/accounts/${unique("ghost")}/risk`)).status).toBe(404);
  });
});

describe("the scoring configuration", () => {
  it("changes weights and lists through the admin API, versioned", async () => {
    // Touches only a list no other test uses (AS64496 is reserved for documentation).
    const before = await callJson<{ version: number }>("/v1/risk/config", 200);
    const fromDataCentre = () => ({
      accountId: unique("acct-cfg"),
      email: `${unique("dev")}@example.net`,
      asn: 64496,
    });
    expect(
      rulesOf(await callJson<Verdict>("/v1/risk/signups", 200, { body: fromDataCentre() })),
    ).toEqual([]);
    const updated = await callJson<{ version: number; config: RiskConfig }>(
      "/v1/risk/config",
      200,
      {
        method: "PUT",
        body: {
          config: {
            signup: { rules: { hosting_network: { weight: 35 } } },
            lists: { hostingAsns: [64496] },
          },
          reason: "signups from a bulletproof host",
        },
      },
    );
    expect(updated.version).toBeGreaterThan(before.version);
    expect(updated.config.signup.rules.hosting_network).toEqual({ weight: 35 });
    expect(updated.config.signup.rules.young_identity).toEqual({ weight: 15, threshold: 7 });
    const scored = await callJson<Verdict>("/v1/risk/signups", 200, { body: fromDataCentre() });
    expect([scored.decision, rulesOf(scored), scored.configVersion]).toEqual([
      "challenge",
      ["hosting_network:35"],
      updated.version,
    ]);
    expect(scored.reasons[0]?.detail).toBe("AS64496 is a hosting network");

    const restored = await callJson<{ version: number }>("/v1/risk/config", 200, {
      method: "PUT",
      body: {
        config: {
          signup: { rules: { hosting_network: { weight: 15 } } },
          lists: { hostingAsns: [] },
        },
        reason: "host cleaned up",
      },
    });
    expect(restored.version).toBe(updated.version + 1);
  });

  it("refuses invalid changes, naming the field", async () => {
    const problem = await callJson<{ code: string; errors: { field: string }[] }>(
      "/v1/risk/config",
      422,
      {
        method: "PUT",
        body: {
          config: { signup: { decisions: { challenge: 90, review: 55, deny: 80 } } },
          reason: "oops",
        },
      },
    );
    expect([problem.code, problem.errors.map((e) => e.field)]).toEqual([
      "VALIDATION_FAILED",
      ["/config/signup/decisions"],
    ]);
    const pattern = await callJson<{ errors: { field: string }[] }>("/v1/risk/config", 422, {
      method: "PUT",
      body: { config: { deployment: { minerPatterns: ["(unclosed"] } }, reason: "typo" },
    });
    expect(pattern.errors.map((e) => e.field)).toEqual(["/config/deployment/minerPatterns/0"]);
  });
});
