/**
 * The Worker's own Redis path inside workerd: `openRedis` (the @upstash/redis/cloudflare entry)
 * with the bindings the global stack provides, against the local Upstash stand-in.
 */
import { env } from "cloudflare:workers";
import { Ratelimit } from "@upstash/ratelimit";
import { afterEach, describe, expect, it, vi } from "vitest";
import { openRedis } from "../../../lib/adapters/redis.ts";

const redis = openRedis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN });

function key(name: string): string {
  return `worker-test:${crypto.randomUUID()}:${name}`;
}

describe("openRedis inside workerd", () => {
  it("round-trips JSON with non-ASCII text, counters, hashes and sorted sets", async () => {
    const [doc, counter, hash, zset] = [key("doc"), key("n"), key("h"), key("z")];
    const value = { customer: "Zoë 山田", note: "📈", seats: 3 };
    expect(await redis.set(doc, value, { ex: 300 })).toBe("OK");
    expect(await redis.get(doc)).toEqual(value);
    expect(await redis.incrby(counter, 7)).toBe(7);
    expect(await redis.decr(counter)).toBe(6);
    expect(await redis.hset(hash, { plan: "pro", seats: 2 })).toBe(2);
    expect(await redis.hgetall(hash)).toEqual({ plan: "pro", seats: 2 });
    await redis.zadd(zset, { score: 2, member: "b" }, { score: 1, member: "a" });
    expect(await redis.zrange(zset, 0, -1, { withScores: true })).toEqual(["a", 1, "b", 2]);
    expect(await redis.ping()).toBe("PONG");
  });

  it("runs multi as one transaction", async () => {
    const [usage, seen] = [key("usage"), key("seen")];
    const results = await redis
      .multi()
      .hincrby(usage, "api_calls", 5)
      .hincrby(usage, "api_calls", 2)
      .expire(usage, 600)
      .set(seen, "evt_1", { nx: true })
      .set(seen, "evt_2", { nx: true })
      .hgetall(usage)
      .exec();
    expect(results).toEqual([5, 7, 1, "OK", null, { api_calls: 7 }]);
  });

  it("surfaces Redis errors to the caller", async () => {
    const text = key("text");
    await redis.set(text, "words");
    await expect(redis.incr(text)).rejects.toThrow("ERR value is not an integer or out of range");
  });
});

describe("@upstash/ratelimit inside workerd", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("slidingWindow allows the limit, then denies until the window slides", async () => {
    const T = Date.UTC(2031, 0, 1, 5, 18);
    const HOUR = 3_600_000;
    const windowEnd = T - 18 * 60_000 + HOUR;
    vi.setSystemTime(T);
    const rl = new Ratelimit({
      redis,
      limiter: Ratelimit.slidingWindow(3, "1 h"),
      prefix: `rl:${crypto.randomUUID()}`,
      ephemeralCache: false,
    });
    const seen = [];
    for (let i = 0; i < 5; i++) {
      const { success, remaining, reset, limit } = await rl.limit("acct_w1");
      seen.push({ success, remaining, reset, limit });
    }
    expect(seen).toEqual([
      { success: true, remaining: 2, reset: windowEnd, limit: 3 },
      { success: true, remaining: 1, reset: windowEnd, limit: 3 },
      { success: true, remaining: 0, reset: windowEnd, limit: 3 },
      { success: false, remaining: 0, reset: windowEnd, limit: 3 },
      { success: false, remaining: 0, reset: windowEnd, limit: 3 },
    ]);

    // 30% into the next window: floor(0.7 × 3) = 2 earlier requests still count.
    vi.setSystemTime(T + HOUR);
    const after = await rl.limit("acct_w1");
    expect([after.success, after.remaining, after.reset]).toEqual([true, 0, windowEnd + HOUR]);
    expect((await rl.limit("acct_w1")).success).toBe(false);
  });
});
