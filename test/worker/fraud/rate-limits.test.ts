/**
 * Per-key API rate limits that follow the throttle ladder: standard tier for normal and watch,
 * restricted tier for limited and suspended (usage still accepted), 429 problem+json with
 * Retry-After and RateLimit-* headers, the admin key exempt, one Redis round trip per check,
 * failing open without Redis, and the level mirror rebuilt from Postgres after a data loss.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { openRedis } from "../../../lib/adapters/redis.ts";
import { REDIS_KEYS } from "../../../lib/fraud/keys.ts";
import { checkRateLimit } from "../../../lib/fraud/rate-limit.ts";
import { call, callJson, unique } from "../support/http.ts";
import { accountKey, redis, seedRiskAccount } from "./support.ts";

afterEach(() => {
  vi.useRealTimers();
});

function setLevel(accountId: string, level: string, reason: string) {
  return callJson<{ level: string; previousLevel: string; transitionId: string | null }>(
    `/v1/accounts/${accountId}/risk/level`,
    200,
    { body: { level, reason } },
  );
}

function headersOf(response: Response): Record<string, string | null> {
  return {
    limit: response.headers.get("ratelimit-limit"),
    remaining: response.headers.get("ratelimit-remaining"),
    reset: response.headers.get("ratelimit-reset"),
    policy: response.headers.get("ratelimit-policy"),
    retryAfter: response.headers.get("retry-after"),
  };
}

describe("a limited account's key", () => {
  it("gets 60 requests a minute, then 429 problem+json with Retry-After", async () => {
    const accountId = await seedRiskAccount();
    const key = await accountKey(accountId);
    await setLevel(accountId, "limited", "manual review: suspicious signup cluster");
    // 15 s into a minute: the window resets in 45 s.
    const minute = Math.floor(Date.now() / 60_000) * 60_000 + 60_000;
    vi.setSystemTime(minute + 15_000);

    const statuses: number[] = [];
    let last: Response | null = null;
    for (let i = 0; i < 60; i += 1) {
      last = await call(`/v1/accounts/${accountId}/usage`, { key });
      statuses.push(last.status);
    }
    expect(statuses).toEqual(Array(60).fill(200));
    expect(headersOf(last as Response)).toEqual({
      limit: "60",
      remaining: "0",
      reset: "45",
      policy: "60;w=60",
      retryAfter: null,
    });

    const denied = await call(`/v1/accounts/${accountId}/usage`, { key });
    expect(denied.status).toBe(429);
    expect(denied.headers.get("content-type")).toBe("application/problem+json");
    expect(headersOf(denied)).toEqual({
      limit: "60",
      remaining: "0",
      reset: "45",
      policy: "60;w=60",
      retryAfter: "45",
    });
    const problem = (await denied.json()) as { code: string; status: number; retryable: boolean };
    expect([problem.code, problem.status, problem.retryable]).toEqual(["RATE_LIMITED", 429, true]);

    // An admin review moves the account back to normal: the standard tier applies at once.
    const moved = await setLevel(accountId, "normal", "reviewed: legitimate agency account");
    expect([moved.previousLevel, moved.level]).toEqual(["limited", "normal"]);
    const after = await call(`/v1/accounts/${accountId}/usage`, { key });
    expect([after.status, after.headers.get("ratelimit-limit")]).toEqual([200, "1200"]);
  });
});

describe("a suspended account", () => {
  it("still has its usage accepted, at the restricted rate", async () => {
    const accountId = await seedRiskAccount();
    const key = await accountKey(accountId);
    await setLevel(accountId, "suspended", "confirmed stolen card");
    const response = await call("/v1/events", {
      key,
      body: { id: unique("evt"), meter: "no-such-meter", value: "1" },
    });
    expect(response.status).toBe(202);
    expect(response.headers.get("ratelimit-limit")).toBe("60");
  });
});

describe("the admin key", () => {
  it("is not rate limited and gets no RateLimit headers", async () => {
    const accountId = await seedRiskAccount();
    const response = await call(`/v1/accounts/${accountId}/usage`);
    expect([response.status, response.headers.get("ratelimit-limit")]).toEqual([200, null]);
  });
});

describe("the limiter's Redis use", () => {
  it("takes one round trip per check", async () => {
    const input = { accountId: unique("acct-rt"), keyId: unique("key") };
    // Warm-up: the first use of a script may cost a NOSCRIPT round trip.
    await checkRateLimit(redis, input);
    const client = openRedis({
      url: env.UPSTASH_REDIS_REST_URL,
      token: env.UPSTASH_REDIS_REST_TOKEN,
    });
    const decision = await checkRateLimit(client, input);
    expect(decision?.allowed).toBe(true);
    expect((client as unknown as { pipelineCounter: number }).pipelineCounter).toBe(1);
  });

  it("fails open (null) when Redis is unreachable", async () => {
    const unreachable = openRedis({ url: "http://127.0.0.1:9", token: "none" });
    expect(await checkRateLimit(unreachable, { accountId: "a", keyId: "k" })).toBeNull();
  });

  it("rebuilds the level mirror from Postgres when Redis lost it", async () => {
    const accountId = await seedRiskAccount();
    const key = await accountKey(accountId);
    await setLevel(accountId, "limited", "manual review");
    // Simulate a Redis data loss of the mirror.
    await redis.del(
      REDIS_KEYS.level(accountId),
      REDIS_KEYS.levelsSynced,
      REDIS_KEYS.levelsSyncLock,
    );
    const blind = await call(`/v1/accounts/${accountId}/usage`, { key });
    expect(blind.headers.get("ratelimit-limit")).toBe("1200");
    await vi.waitFor(async () => {
      expect(await redis.get(REDIS_KEYS.level(accountId))).toBe("limited");
    });
    const restored = await call(`/v1/accounts/${accountId}/usage`, { key });
    expect(restored.headers.get("ratelimit-limit")).toBe("60");
  });
});
