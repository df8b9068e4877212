import { Ratelimit } from "@upstash/ratelimit";
import type { Redis } from "../adapters/redis.ts";
import { withinDeadline } from "../clock/deadline.ts";

/**
 * Failed dashboard sign-ins per client address: after `attempts` wrong keys within the sliding
 * window, every sign-in from that address is refused (429) until the window lets one through.
 * The admin key is a long random secret, so this is defence in depth against guessing and a
 * brake on noise, not the only protection. Redis unavailable: the check is skipped (fails open)
 * so an outage never locks the operators out.
 */
export const SIGN_IN_FAILURES = { attempts: 10, windowSeconds: 900 } as const;

/** How long a sign-in waits for Redis before going ahead unchecked. */
const THROTTLE_TIMEOUT_MS = 1_000;

function limiter(redis: Redis): Ratelimit {
  return new Ratelimit({
    redis,
    limiter: Ratelimit.slidingWindow(
      SIGN_IN_FAILURES.attempts,
      `${SIGN_IN_FAILURES.windowSeconds} s`,
    ),
    prefix: "auth:sign-in-failures",
    timeout: 0,
    analytics: false,
    enableTelemetry: false,
  });
}

/**
 * Whether `client` has used up its failed attempts: the seconds to wait, or 0 when it may try.
 * Null when Redis did not answer in time (the caller lets the attempt through).
 */
export async function signInWaitSeconds(
  redis: Redis,
  client: string,
  nowMs: number,
): Promise<number | null> {
  const state = await withinDeadline(limiter(redis).getRemaining(client), THROTTLE_TIMEOUT_MS);
  if (state === null) {
    return null;
  }
  return state.remaining > 0 ? 0 : Math.max(1, Math.ceil((state.reset - nowMs) / 1000));
}

/** Counts one failed attempt of `client`; false when Redis did not take it. */
export async function recordSignInFailure(redis: Redis, client: string): Promise<boolean> {
  return (await withinDeadline(limiter(redis).limit(client), THROTTLE_TIMEOUT_MS)) !== null;
}
