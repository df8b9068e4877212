/**
 * The pure parts of fraud scoring, table-driven: email normalisation, the mining detector, the
 * signup and deployment rules, the account score and the ladder and decision bands.
 */
import { describe, expect, it } from "vitest";
import { accountRuleFor, scoreAccount } from "../../../lib/fraud/account-score.ts";
import { DEFAULT_RISK_CONFIG, mergeConfig, parseRiskConfig } from "../../../lib/fraud/config.ts";
import { type DeploymentFacts, evaluateDeployment } from "../../../lib/fraud/deployment.ts";
import { hashIdentifier, normaliseEmail } from "../../../lib/fraud/identity.ts";
import { levelForScore, restrictionsFor } from "../../../lib/fraud/levels.ts";
import { rateLimitHeaders, retryAfterSeconds } from "../../../lib/fraud/rate-limit.ts";
import { decisionForScore } from "../../../lib/fraud/rules.ts";
import type { SignupFacts } from "../../../lib/fraud/signup-facts.ts";
import { evaluateSignup, initialLevelFor } from "../../../lib/fraud/signup-rules.ts";
import { detectSustainedCpu } from "../../../lib/fraud/usage-pattern.ts";
import { isCpuMeter } from "../../../lib/fraud/usage-screen.ts";

describe("normaliseEmail", () => {
  it.each([
    ["Jane.Doe+cloud@Gmail.com", "janedoe@gmail.com"],
    ["j.a.n.e@googlemail.com", "jane@gmail.com"],
    ["jane.doe+x+y@outlook.com", "jane.doe@outlook.com"],
    ["  JANE@Example.ORG. ", "jane@example.org"],
    ["a@sub.mail.example.co.uk", "a@sub.mail.example.co.uk"],
  ])("%s → %s", (raw, address) => {
    expect(normaliseEmail(raw)?.address).toBe(address);
  });

  it.each([["no-at-sign"], ["@example.com"], ["jane@"], ["jane@localhost"], ["+tag@gmail.com"]])(
    "refuses %s",
    (raw) => {
      expect(normaliseEmail(raw)).toBeNull();
    },
  );

  it("lists parent domains nearest first, for disposable-list checks", () => {
    expect(normaliseEmail("x@a.b.mailinator.com")?.parentDomains).toEqual([
      "b.mailinator.com",
      "mailinator.com",
    ]);
  });

  it("hashes identifiers per kind, 32 hex characters, never the raw value", async () => {
    const card = await hashIdentifier("card", "fp_123");
    expect(card).toMatch(/^[0-9a-f]{32}$/);
    expect(await hashIdentifier("device", "fp_123")).not.toBe(card);
  });
});

const MINUTE = 60_000;
const END = Date.UTC(2026, 11, 4, 12, 0);

function minutes(levelAt: (i: number) => number, count = 180) {
  return Array.from({ length: count }, (_, i) => ({
    minuteMs: END - (count - i) * MINUTE,
    quantity: String(levelAt(i) * 60),
  }));
}

describe("detectSustainedCpu", () => {
  it.each([
    ["flat near-full for three hours", minutes(() => 0.97), true, 180, 0.97, 0],
    ["flat but half idle", minutes(() => 0.5), false, 0, 0.5, -1],
    ["bursty", minutes((i) => (i % 20 < 10 ? 4 : 0.5)), false, 90, 2.25, 0],
    ["always busy but bursty", minutes((i) => (i % 20 < 10 ? 4 : 1)), false, 180, 2.5, 0.6],
    ["mining with a five-minute restart", minutes((i) => (i < 5 ? 0 : 1)), true, 175, 0.972, 0],
    ["mining jitter", minutes((i) => (i % 2 === 0 ? 0.95 : 1)), true, 180, 0.975, 0.026],
    ["only two hours of data", minutes(() => 1, 120), false, 120, 0.667, 0],
  ])("%s", (_name, buckets, flagged, busy, mean, variation) => {
    const result = detectSustainedCpu(buckets, END);
    expect(result).toEqual({
      flagged,
      finding: {
        windowStartMs: END - 180 * MINUTE,
        windowEndMs: END,
        minutes: 180,
        busyMinutes: busy,
        meanVcpu: mean,
        variation,
      },
    });
  });

  it("adds up several CPU meters in the same minute and ignores minutes outside the window", () => {
    const buckets = [
      ...minutes(() => 0.5),
      ...minutes(() => 0.5),
      { minuteMs: END, quantity: "9999" },
      { minuteMs: END - 181 * MINUTE, quantity: "9999" },
    ];
    expect(detectSustainedCpu(buckets, END + 30_000)).toMatchObject({
      flagged: true,
      finding: { windowEndMs: END, busyMinutes: 180, meanVcpu: 1, variation: 0 },
    });
  });

  it("recognises CPU meters by aggregation and unit", () => {
    expect(isCpuMeter({ aggregation: "time_weighted", unit: "vCPU" })).toBe(true);
    expect(isCpuMeter({ aggregation: "time_weighted", unit: "cores" })).toBe(true);
    expect(isCpuMeter({ aggregation: "sum", unit: "vcpu" })).toBe(false);
    expect(isCpuMeter({ aggregation: "time_weighted", unit: "GB" })).toBe(false);
  });
});

const quietSignup: SignupFacts = {
  email: { address: "a@example.org", domain: "example.org", parentDomains: [] },
  disposableDomain: false,
  accountsWithEmail: 1,
  signupsFromIp: 1,
  signupsFromDevice: 1,
  signupsWithCard: 1,
  signupsFromDomain: 1,
  accountsWithCard: 1,
  accountsWithDevice: 1,
  cardFlagged: false,
  deviceFlagged: false,
  identityAgeDays: 400,
  country: "NL",
  asn: 1136,
  cardCountry: "NL",
};

describe("evaluateSignup", () => {
  it.each([
    ["a quiet signup", {}, "allow", 0, []],
    ["a disposable domain", { disposableDomain: true }, "challenge", 40, ["disposable_email:40"]],
    [
      "a flagged card from a busy IP",
      { cardFlagged: true, signupsFromIp: 5 },
      "deny",
      100,
      ["ip_velocity:20", "flagged_card:80"],
    ],
    [
      "a shared device bursting",
      { signupsFromDevice: 3, accountsWithDevice: 3 },
      "challenge",
      45,
      ["device_velocity:30", "device_shared:15"],
    ],
    [
      "a reused mailbox on a young identity, paid from abroad",
      { accountsWithEmail: 2, identityAgeDays: 0, cardCountry: "US" },
      "review",
      45 + 10,
      ["email_reused:30", "young_identity:15", "country_mismatch:10"],
    ],
  ])("%s", (_name, overrides, decision, score, rules) => {
    const facts = { ...quietSignup, ...overrides } as SignupFacts;
    const verdict = evaluateSignup(facts, DEFAULT_RISK_CONFIG);
    expect([
      verdict.decision,
      verdict.score,
      verdict.reasons.map((r) => `${r.rule}:${r.points}`),
    ]).toEqual([decision, score, rules]);
  });

  it("drops rules an admin weighted 0", () => {
    const config = parseRiskConfig({ signup: { rules: { disposable_email: { weight: 0 } } } });
    if (!config.ok) {
      throw new Error("config should be valid");
    }
    const verdict = evaluateSignup({ ...quietSignup, disposableDomain: true }, config.config);
    expect([verdict.decision, verdict.reasons]).toEqual(["allow", []]);
  });

  it("starts accounts on the ladder by decision", () => {
    expect(
      ["allow", "challenge", "review", "deny"].map((d) => initialLevelFor(d as never)),
    ).toEqual(["normal", "watch", "limited", "suspended"]);
  });
});

const paidFacts: DeploymentFacts = {
  level: "normal",
  freeTier: false,
  limits: null,
  spend: "ok",
  deploymentsLastHour: 1,
};
const request = {
  accountId: "acct",
  deploymentId: null,
  image: "ghcr.io/acme/web:3",
  command: ["node", "server.js"],
  resources: { vcpus: 2, memoryMb: 2048, gpus: 0, instances: 2 },
  regions: ["iad"],
};

describe("evaluateDeployment", () => {
  it.each([
    ["an ordinary deployment", {}, {}, "allow", []],
    ["a miner image", { image: "xmrig/xmrig:latest" }, {}, "deny", ["miner_image:90"]],
    [
      "a stratum URL in the command",
      { command: ["./run", "-o", "stratum+ssl://pool:443"] },
      {},
      "deny",
      ["miner_command:90"],
    ],
    ["a watched account", {}, { level: "watch" }, "allow", ["account_watch:15"]],
    ["a limited account", {}, { level: "limited" }, "review", ["account_limited:0"]],
    ["a suspended account", {}, { level: "suspended" }, "deny", ["account_suspended:0"]],
    ["a capped spend", {}, { spend: "capped" }, "deny", ["spend_capped:0"]],
    ["an unknown spend", {}, { spend: "unknown" }, "review", ["spend_status_unknown:0"]],
    ["a deployment storm", {}, { deploymentsLastHour: 30 }, "allow", ["deployment_velocity:25"]],
  ])("%s", (_name, overrides, facts, decision, rules) => {
    const verdict = evaluateDeployment(
      { ...request, ...overrides },
      { ...paidFacts, ...facts } as DeploymentFacts,
      DEFAULT_RISK_CONFIG,
    );
    expect([verdict.decision, verdict.reasons.map((r) => `${r.rule}:${r.points}`)]).toEqual([
      decision,
      rules,
    ]);
  });
});

describe("account score and bands", () => {
  it("adds every signal's weight, caps at 100, one reason per rule", () => {
    const signal = (kind: string, evidence: Record<string, unknown> = {}) => ({
      id: kind,
      kind: kind as never,
      sourceId: kind,
      occurredAtMs: 0,
      recordedAtMs: 0,
      amountMinor: null,
      currency: null,
      evidence,
    });
    expect(
      scoreAccount(
        [signal("stripe.charge_failed"), signal("stripe.charge_failed"), signal("stripe.dispute")],
        DEFAULT_RISK_CONFIG,
      ),
    ).toEqual({
      score: 60,
      reasons: [
        { rule: "charge_failed", points: 10, detail: "2 signals × 5 points" },
        { rule: "dispute", points: 50, detail: "1 signal (50 points)" },
      ],
    });
    expect(accountRuleFor(signal("usage.sustained_cpu", { freeTier: true }))).toBe(
      "mining_free_tier",
    );
    expect(accountRuleFor(signal("usage.sustained_cpu", { freeTier: false }))).toBe(
      "sustained_cpu_paid",
    );
    expect(scoreAccount([signal("usage.sustained_cpu")], DEFAULT_RISK_CONFIG).reasons).toEqual([]);
  });

  it.each([
    [0, "normal", "allow"],
    [24, "normal", "allow"],
    [25, "watch", "allow"],
    [30, "watch", "challenge"],
    [50, "limited", "challenge"],
    [55, "limited", "review"],
    [80, "limited", "deny"],
    [85, "suspended", "deny"],
    [100, "suspended", "deny"],
  ])("score %i → level %s, signup decision %s", (score, level, decision) => {
    expect(levelForScore(score, DEFAULT_RISK_CONFIG.account.ladder)).toBe(level);
    expect(decisionForScore(score, DEFAULT_RISK_CONFIG.signup.decisions)).toBe(decision);
  });

  it("maps levels to restrictions", () => {
    expect(
      ["normal", "watch", "limited", "suspended"].map((l) => restrictionsFor(l as never)),
    ).toEqual([
      { rateTier: "standard", deployments: "allowed", usageAccepted: true },
      { rateTier: "standard", deployments: "allowed", usageAccepted: true },
      { rateTier: "restricted", deployments: "review", usageAccepted: true },
      { rateTier: "restricted", deployments: "denied", usageAccepted: true },
    ]);
  });
});

describe("configuration", () => {
  it("merges objects and replaces arrays", () => {
    expect(mergeConfig({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] } })).toEqual({
      a: { b: 1, c: [3] },
      d: 1,
    });
  });

  it("fills fields a stored version predates from the defaults", () => {
    const parsed = parseRiskConfig({ account: { lookbackDays: 30 } });
    expect(parsed.ok && parsed.config.account.lookbackDays).toBe(30);
    expect(parsed.ok && parsed.config.account.ladder).toEqual({
      watch: 25,
      limited: 50,
      suspended: 85,
    });
  });
});

describe("rate-limit headers", () => {
  it("count down to the window's end in whole seconds", () => {
    const decision = {
      allowed: false,
      level: "limited" as const,
      tier: "restricted" as const,
      limit: 60,
      remaining: 0,
      resetMs: 1_000_000 + 44_001,
      windowSeconds: 60,
      mirrorMissing: false,
      pending: Promise.resolve(),
    };
    expect(rateLimitHeaders(decision, 1_000_000)).toEqual({
      "RateLimit-Limit": "60",
      "RateLimit-Remaining": "0",
      "RateLimit-Reset": "45",
      "RateLimit-Policy": "60;w=60",
    });
    expect(retryAfterSeconds(decision, 1_000_000)).toBe(45);
    expect(retryAfterSeconds({ ...decision, resetMs: 1_000_000 }, 1_000_000)).toBe(1);
  });
});
