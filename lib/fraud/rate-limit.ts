import { Ratelimit } from "@upstash/ratelimit";
import type { Redis } from "../adapters/redis.ts";
import { withinDeadline } from "../clock/deadline.ts";
import { REDIS_KEYS } from "./keys.ts";
import { isRiskLevel, type RiskLevel, restrictionsFor } from "./levels.ts";

/**
 * Per-key API rate limits with @upstash/ratelimit sliding windows, following the throttle
 * ladder: normal and watch accounts get the standard tier, limited and suspended ones the
 * restricted tier. Suspended accounts are slowed, never cut off, so usage is still metered.
 */
export const RATE_TIERS = {
  standard: { requests: 1200, windowSeconds: 60 },
  restricted: { requests: 60, windowSeconds: 60 },
} as const;
export type RateTier = keyof typeof RATE_TIERS;
const TIER_NAMES = Object.keys(RATE_TIERS) as RateTier[];

/**
 * The limiters' ephemeral caches (identifier → blocked-until ms), one per tier. Module scope on
 * purpose: a Worker builds its Redis client per request, and a cache created with the limiter
 * would die with the request, so repeated denials would all reach Redis. Lifetime: the isolate
 * (many requests, never shared between isolates); entries expire at the window's reset.
 */
const BLOCKED_UNTIL: Record<RateTier, Map<string, number>> = {
  standard: new Map(),
  restricted: new Map(),
};
/** Past this many blocked identifiers a cache is cleared, bounding isolate memory. */
const MAX_BLOCKED_ENTRIES = 10_000;

/** How long the hot path waits for Redis before letting the request through (fail open). */
export const RATE_LIMIT_TIMEOUT_MS = 1_000;

/** The rate-limit verdict for one request. */
export interface RateDecision {
  allowed: boolean;
  level: RiskLevel;
  tier: RateTier;
  limit: number;
  remaining: number;
  /** When the current window ends (ms); a sliding window may keep denying a little longer. */
  resetMs: number;
  windowSeconds: number;
  /** The ladder-level mirror is missing in Redis (data loss): it should be rebuilt. */
  mirrorMissing: boolean;
  /** Work the limiter continues in the background; hand it to `waitUntil`. */
  pending: Promise<unknown>;
}

function limiterFor(redis: Redis, tier: RateTier): Ratelimit {
  const cache = BLOCKED_UNTIL[tier];
  if (cache.size > MAX_BLOCKED_ENTRIES) {
    cache.clear();
  }
  const { requests, windowSeconds } = RATE_TIERS[tier];
  return new Ratelimit({
    redis,
    limiter: Ratelimit.slidingWindow(requests, `${windowSeconds} s`),
    prefix: REDIS_KEYS.rateLimit(tier),
    ephemeralCache: cache,
    // The deadline is applied once, below, around the whole round trip.
    timeout: 0,
    analytics: false,
    enableTelemetry: false,
  });
}

/**
 * Checks one request of an API key in one Redis round trip: the account's ladder level, the
 * level mirror's marker and both tiers' sliding windows are issued in the same tick, so the
 * client's auto-pipelining sends them as one request. Counting in both tiers keeps a level
 * change effective at once (the restricted window already holds the recent traffic); the tier
 * the level selects decides. The level is read with GETEX rather than GET because the client
 * sends reads and writes in separate pipelines, and the limiter's scripts are writes.
 * Resolves null when Redis fails or exceeds RATE_LIMIT_TIMEOUT_MS (the caller lets the request
 * through: a Redis outage must not stop metering).
 */
export async function checkRateLimit(
  redis: Redis,
  input: { accountId: string; keyId: string },
): Promise<RateDecision | null> {
  const round = Promise.all([
    redis.getex(REDIS_KEYS.level(input.accountId)),
    redis.getex(REDIS_KEYS.levelsSynced),
    ...TIER_NAMES.map((tier) => limiterFor(redis, tier).limit(input.keyId)),
  ]);
  const answered = await withinDeadline(round, RATE_LIMIT_TIMEOUT_MS);
  if (answered === null) {
    return null;
  }
  const [levelValue, synced, ...responses] = answered;
  const level = isRiskLevel(levelValue) ? levelValue : "normal";
  const tier = restrictionsFor(level).rateTier;
  const response = responses[TIER_NAMES.indexOf(tier)];
  if (!response) {
    return null;
  }
  return {
    allowed: response.success,
    level,
    tier,
    limit: response.limit,
    remaining: response.remaining,
    resetMs: response.reset,
    windowSeconds: RATE_TIERS[tier].windowSeconds,
    mirrorMissing: synced === null,
    pending: Promise.all(responses.map((r) => r.pending)),
  };
}

/**
 * Response headers for a verdict: `RateLimit-Limit`, `RateLimit-Remaining` and
 * `RateLimit-Reset` (seconds until the window resets), the draft IETF fields most clients read,
 * plus `RateLimit-Policy` (`<limit>;w=<window seconds>`). 429s also carry `Retry-After`.
 */
export function rateLimitHeaders(decision: RateDecision, nowMs: number): Record<string, string> {
  const resetSeconds = Math.max(0, Math.ceil((decision.resetMs - nowMs) / 1000));
  return {
    "RateLimit-Limit": String(decision.limit),
    "RateLimit-Remaining": String(decision.remaining),
    "RateLimit-Reset": String(resetSeconds),
    "RateLimit-Policy": `${decision.limit};w=${decision.windowSeconds}`,
  };
}

/** Seconds a denied client should wait: until the window resets, at least one. */
export function retryAfterSeconds(decision: RateDecision, nowMs: number): number {
  return Math.max(1, Math.ceil((decision.resetMs - nowMs) / 1000));
}
