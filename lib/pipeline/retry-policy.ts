/** Exponential backoff for queue retries: base × 2^(attempt − 1), capped. */
export interface RetryPolicy {
  baseSeconds: number;
  maxSeconds: number;
}

/**
 * The rated-usage consumer's backoff. With the queue's 8 retries (wrangler.toml) a message is
 * tried over about 15 minutes (5, 10, 20, … 300, 300 s) before it is dead-lettered, so a sink
 * outage of several minutes costs retries, not dead letters. Well inside ClickHouse Cloud's
 * one-hour insert-deduplication window.
 */
export const RATED_USAGE_RETRY: RetryPolicy = { baseSeconds: 5, maxSeconds: 300 };

/**
 * The dead-letter consumer's backoff: it only fails when Postgres is unreachable, and the DLQ
 * has no queue behind it, so its 10 retries are spread over about 4 hours (30 s doubling to 1 h).
 */
export const DEAD_LETTER_RETRY: RetryPolicy = { baseSeconds: 30, maxSeconds: 3_600 };

/**
 * Seconds to wait before the next delivery of a message that failed on delivery `attempts`
 * (1 for the first delivery, as the queue counts). No jitter: a batch's messages fail together
 * because a sink is down, and retrying them together keeps inserts large.
 */
export function retryDelaySeconds(attempts: number, policy: RetryPolicy): number {
  const exponent = Math.min(Math.max(Math.floor(attempts) - 1, 0), 30);
  return Math.min(policy.maxSeconds, policy.baseSeconds * 2 ** exponent);
}
