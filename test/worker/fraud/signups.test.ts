/**
 * Signup scoring: ten signups sharing a card or a device (free-tier farming) are allowed, then
 * challenged, then denied, and every account of the farm is moved up the ladder; disposable and
 * re-used (normalised) emails; explainable reasons; admin-only access.
 */
import { beforeAll, describe, expect, it, vi } from "vitest";
import { hashIdentifier } from "../../../lib/fraud/identity.ts";
import { REDIS_KEYS } from "../../../lib/fraud/keys.ts";
import { call, callJson, unique } from "../support/http.ts";
import {
  accountKey,
  ensureDisposableDomains,
  redis,
  riskStatus,
  rulesOf,
  seedRiskAccount,
  type Verdict,
  waitForLevel,
} from "./support.ts";

beforeAll(async () => {
  await ensureDisposableDomains();
});

function signup(body: Record<string, unknown>): Promise<Verdict> {
  return callJson<Verdict>("/v1/risk/signups", 200, { body });
}

/** A distinct plausible address per call (dots and case vary; Gmail ignores both). */
function gmail(): string {
  return `Farmer.${crypto.randomUUID().slice(0, 8)}@gmail.com`;
}

describe("ten signups sharing a card fingerprint", () => {
  it("are allowed, then challenged, then denied; the whole farm is limited", async () => {
    const card = unique("fp-farm");
    const accounts = Array.from({ length: 10 }, () => unique("acct-farm"));
    const verdicts: Verdict[] = [];
    for (const accountId of accounts) {
      verdicts.push(await signup({ accountId, email: gmail(), cardFingerprint: card }));
    }
    expect(verdicts.map((v) => `${v.decision}:${v.score}`)).toEqual([
      "allow:0",
      "allow:15",
      "challenge:50",
      "deny:100",
      "deny:100",
      "deny:100",
      "deny:100",
      "deny:100",
      "deny:100",
      "deny:100",
    ]);
    expect(rulesOf(verdicts[2] as Verdict)).toEqual(["card_velocity:35", "card_shared:15"]);
    expect(verdicts[3]?.reasons.map((r) => r.detail)).toEqual([
      "4 signups with this card in 24 h (threshold 3)",
      "4 accounts share this card (threshold 2)",
      "4 accounts share this card (threshold 4)",
    ]);
    // Signup decisions start accounts on the ladder: challenge → watch, deny → suspended.
    expect(verdicts.map((v) => v.level)).toEqual([
      "normal",
      "normal",
      "watch",
      ...Array(7).fill("suspended"),
    ]);

    // The farm is propagated through the work queue: the early accounts are limited too.
    for (const accountId of accounts.slice(0, 3)) {
      const status = await waitForLevel(accountId, "limited");
      expect(status.signals.map((s) => s.kind)).toEqual(["link.farm"]);
      expect(status.reasons).toEqual([
        { rule: "linked_farm", points: 50, detail: "1 signal (50 points)" },
      ]);
    }
    // Already suspended accounts stay suspended: signals never lower a level.
    expect((await riskStatus(accounts[9] as string)).level).toBe("suspended");
  });

  it("a retried signup for the same account is counted once", async () => {
    const card = unique("fp-retry");
    const accountId = unique("acct-retry");
    const first = await signup({ accountId, email: gmail(), cardFingerprint: card });
    const retry = await signup({ accountId, email: gmail(), cardFingerprint: card });
    expect([first.score, retry.score, retry.decision]).toEqual([0, 0, "allow"]);
    expect(retry.decisionId).not.toBe(first.decisionId);
  });
});

describe("ten signups sharing a device", () => {
  it("are allowed, then challenged, then denied", async () => {
    const device = unique("device");
    const verdicts: Verdict[] = [];
    const signupOn = async (i: number) =>
      verdicts.push(
        await signup({
          accountId: unique("acct-dev"),
          email: gmail(),
          deviceId: device,
          ip: `10.${i}.${Math.floor(Math.random() * 250)}.${i + 1}`,
        }),
      );
    for (let i = 0; i < 4; i += 1) {
      await signupOn(i);
    }
    // The fourth was denied, so its account starts suspended and, right after the response, its
    // device is flagged.
    const deviceHash = await hashIdentifier("device", device);
    await vi.waitFor(async () => {
      expect(await redis.sismember(REDIS_KEYS.flagged("device"), deviceHash)).toBe(1);
    });
    for (let i = 4; i < 10; i += 1) {
      await signupOn(i);
    }
    expect(verdicts.map((v) => `${v.decision}:${v.score}`)).toEqual([
      "allow:0",
      "allow:15",
      "challenge:45",
      "deny:95",
      ...Array(6).fill("deny:100"),
    ]);
    expect(rulesOf(verdicts[4] as Verdict)).toEqual([
      "device_velocity:30",
      "device_shared:15",
      "device_farm:50",
      "flagged_device:60",
    ]);
  });
});

describe("email signals", () => {
  it("a disposable domain (and its subdomains) is challenged", async () => {
    const verdict = await signup({
      accountId: unique("acct-temp"),
      email: `someone+${unique("x")}@mailinator.com`,
    });
    expect([verdict.decision, rulesOf(verdict)]).toEqual(["challenge", ["disposable_email:40"]]);
    const sub = await signup({
      accountId: unique("acct-temp"),
      email: `${unique("someone")}@inbox.mailinator.com`,
    });
    expect(rulesOf(sub)).toEqual(["disposable_email:40"]);
  });

  it("the same mailbox under plus-addressing, dots and case is one email", async () => {
    const local = `jane.doe.${crypto.randomUUID().slice(0, 6)}`;
    const first = await signup({ accountId: unique("acct-jane"), email: `${local}@gmail.com` });
    const second = await signup({
      accountId: unique("acct-jane"),
      email: `${local.replaceAll(".", "").toUpperCase()}+cloud@googlemail.com`,
    });
    expect(rulesOf(first)).toEqual([]);
    expect([second.decision, rulesOf(second)]).toEqual(["challenge", ["email_reused:30"]]);
  });

  it("refuses an address that is not one", async () => {
    const problem = await callJson<{ code: string; errors: { field: string }[] }>(
      "/v1/risk/signups",
      422,
      { body: { accountId: unique("acct"), email: "not-an-email@" } },
    );
    expect([problem.code, problem.errors.map((e) => e.field)]).toEqual([
      "VALIDATION_FAILED",
      ["/email"],
    ]);
  });
});

describe("network and identity signals", () => {
  it("a young linked identity and mismatched countries add up", async () => {
    const verdict = await signup({
      accountId: unique("acct-young"),
      email: gmail(),
      country: "nl",
      cardCountry: "BR",
      cardFingerprint: unique("fp"),
      linkedIdentity: {
        provider: "github",
        createdAt: new Date(Date.now() - 2 * 86_400_000).toISOString(),
      },
    });
    expect([verdict.decision, verdict.score, rulesOf(verdict)]).toEqual([
      "allow",
      25,
      ["young_identity:15", "country_mismatch:10"],
    ]);
    expect(verdict.reasons[0]?.detail).toBe("linked identity is 2 days old (threshold 7)");
  });

  it("signups per IP are counted in a one-hour window", async () => {
    const ip = `192.0.2.${Math.floor(Math.random() * 250) + 1}`;
    const scores: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      scores.push((await signup({ accountId: unique("acct-ip"), email: gmail(), ip })).score);
    }
    expect(scores).toEqual([0, 0, 0, 0, 20]);
  });
});

describe("access", () => {
  it("needs the admin key: no key is 401, an account key is 403", async () => {
    const body = { accountId: unique("acct"), email: gmail() };
    expect((await call("/v1/risk/signups", { key: null, body })).status).toBe(401);
    const accountId = await seedRiskAccount();
    const key = await accountKey(accountId);
    expect((await call("/v1/risk/signups", { key, body })).status).toBe(403);
  });
});
