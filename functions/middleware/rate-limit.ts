import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { openRedis, type Redis } from "../../lib/adapters/redis.ts";
import { accountOfKey, hashApiKey } from "../../lib/auth/api-keys.ts";
import type { Config } from "../../lib/env/config.ts";
import { AppError } from "../../lib/errors/index.ts";
import { REDIS_KEYS } from "../../lib/fraud/keys.ts";
import { rebuildRiskCache } from "../../lib/fraud/level-cache.ts";
import {
  checkRateLimit,
  type RateDecision,
  rateLimitHeaders,
  retryAfterSeconds,
} from "../../lib/fraud/rate-limit.ts";
import { openHttpSql } from "../../lib/fraud/sql-http.ts";
import type { Logger } from "../../lib/log/logger.ts";
import type { AppEnv } from "../context.ts";
import { problemResponse } from "./errors.ts";

/**
 * After a failed rate-limit check, further checks are skipped until this isolate-local time, so
 * a Redis outage costs one slow request per isolate and interval rather than every request.
 * Lifetime: the isolate.
 */
let limiterDownUntilMs = 0;
const LIMITER_DOWN_MS = 10_000;
/** How long one isolate holds the lock while it rebuilds the Redis mirrors. */
const REBUILD_LOCK_SECONDS = 60;

function bearerKey(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1] ?? null;
}

/**
 * Per-key API rate limits on `/v1/*`, by the account's rung on the throttle ladder
 * (lib/fraud/rate-limit.ts). Account keys only: the admin key is the platform's own and is not
 * limited, and a request without a usable key is left to the auth middleware. Answers 429
 * problem+json with `Retry-After` and the `RateLimit-*` headers; allowed responses carry the
 * `RateLimit-*` headers too. Fails open when Redis is unavailable: usage must keep flowing.
 */
export const rateLimit = createMiddleware<AppEnv>(async (c, next) => {
  const key = bearerKey(c.req.header("authorization"));
  const accountId = key === null ? null : accountOfKey(key);
  if (key === null || accountId === null || c.get("clock").nowMs() < limiterDownUntilMs) {
    await next();
    return;
  }
  const keyId = (await hashApiKey(key)).slice(0, 32);
  const redis = openRedis(c.get("config").redis);
  const decision = await checkRateLimit(redis, { accountId, keyId });
  if (decision === null) {
    limiterDownUntilMs = c.get("clock").nowMs() + LIMITER_DOWN_MS;
    c.get("log").warn("rate limiter unavailable; requests pass unchecked for a while", {
      accountId,
      skipMs: LIMITER_DOWN_MS,
    });
    await next();
    return;
  }
  c.executionCtx.waitUntil(decision.pending);
  if (decision.mirrorMissing) {
    c.executionCtx.waitUntil(
      rebuildMirror(c.get("config"), redis, c.get("clock").nowMs(), c.get("log")),
    );
  }
  const headers = rateLimitHeaders(decision, c.get("clock").nowMs());
  if (!decision.allowed) {
    return tooManyRequests(c, decision, headers);
  }
  await next();
  for (const [name, value] of Object.entries(headers)) {
    c.res.headers.set(name, value);
  }
});

function tooManyRequests(
  c: Context<AppEnv>,
  decision: RateDecision,
  headers: Record<string, string>,
): Response {
  const response = problemResponse(
    c,
    new AppError("RATE_LIMITED", "Too many requests", {
      detail:
        `This API key may make ${decision.limit} requests per ${decision.windowSeconds} s ` +
        `(${decision.tier} tier, account level ${decision.level}). Retry after the Retry-After ` +
        "delay; events sent meanwhile are not counted.",
      retryAfterSeconds: retryAfterSeconds(decision, c.get("clock").nowMs()),
    }),
  );
  for (const [name, value] of Object.entries(headers)) {
    response.headers.set(name, value);
  }
  return response;
}

/** Rebuilds the level and flag mirrors from Postgres, once across isolates (a short lock). */
async function rebuildMirror(
  config: Config,
  redis: Redis,
  nowMs: number,
  log: Logger,
): Promise<void> {
  try {
    const locked = await redis.set(REDIS_KEYS.levelsSyncLock, String(nowMs), {
      nx: true,
      ex: REBUILD_LOCK_SECONDS,
    });
    if (locked !== "OK") {
      return;
    }
    const { levels } = await rebuildRiskCache(openHttpSql(config.database), redis, nowMs);
    log.warn("risk level mirror was missing; rebuilt from Postgres", { levels });
  } catch (error) {
    log.error("risk level mirror rebuild failed", { error });
  }
}
