/**
 * The local Upstash stand-in, driven only through the official SDKs (@upstash/redis and
 * @upstash/ratelimit) exactly as production code uses them. Most tests use the global stack's
 * instance; the lifecycle tests start private instances so they can stop and kill them.
 */
import { createHash, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ratelimit } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis";
import { afterAll, afterEach, describe, expect, inject, it, vi } from "vitest";
import { spawnService } from "../../../local-stack/process.ts";
import type { RedisInfo } from "../../../local-stack/stack.ts";

const { url, token } = inject("stack").redis;
const redis = new Redis({ url, token });

/** A key no other test (or earlier run against a dev database) uses. */
function key(name: string): string {
  return `test:${randomUUID()}:${name}`;
}

function sha1(text: string): string {
  return createHash("sha1").update(text).digest("hex");
}

describe("core commands", () => {
  it("stores JSON with non-ASCII text and emoji and returns it unchanged", async () => {
    const k = key("json");
    const value = { customer: "Zoë Łukasz 山田", note: "usage 📈 over 💯", seats: 3, ok: true };
    expect(await redis.set(k, value)).toBe("OK");
    expect(await redis.get(k)).toEqual(value);

    const plain = key("plain");
    await redis.set(plain, "héllo wörld 😀");
    expect(await redis.get(plain)).toBe("héllo wörld 😀");
  });

  it("expires a key set with ex, and reports its ttl", async () => {
    const k = key("ttl");
    // One transaction, so no time passes between SET and TTL.
    const [set, ttl] = await redis.multi().set(k, "v", { ex: 60 }).ttl(k).exec();
    expect([set, ttl]).toEqual(["OK", 60]);
    expect(await redis.ttl(key("missing"))).toBe(-2);
  });

  it("counts with incrby and decr", async () => {
    const k = key("counter");
    expect(await redis.incrby(k, 5)).toBe(5);
    expect(await redis.decr(k)).toBe(4);
    expect(await redis.incrby(k, -10)).toBe(-6);
    expect(await redis.get(k)).toBe(-6);
  });

  it("keeps hashes", async () => {
    const k = key("hash");
    expect(await redis.hset(k, { plan: "pro", seats: 3, region: "eu-west" })).toBe(3);
    expect(await redis.hincrby(k, "seats", 2)).toBe(5);
    expect(await redis.hget(k, "plan")).toBe("pro");
    expect(await redis.hgetall(k)).toEqual({ plan: "pro", seats: 5, region: "eu-west" });
  });

  it("orders sorted sets and returns scores", async () => {
    const k = key("zset");
    const added = await redis.zadd(
      k,
      { score: 2.5, member: "beta" },
      { score: 1, member: "alpha" },
      { score: 10, member: "gamma" },
    );
    expect(added).toBe(3);
    expect(await redis.zrange(k, 0, -1, { withScores: true })).toEqual([
      "alpha",
      1,
      "beta",
      2.5,
      "gamma",
      10,
    ]);
    expect(await redis.zscore(k, "beta")).toBe(2.5);
  });

  it("scans every key matching a pattern", async () => {
    const prefix = key("scan");
    const names = ["a", "b", "c", "d", "e"].map((n) => `${prefix}:${n}`);
    await Promise.all(names.map((name) => redis.set(name, 1)));
    const found: string[] = [];
    let cursor: string | number = "0";
    do {
      const [next, keys]: [string | number, string[]] = await redis.scan(cursor, {
        match: `${prefix}:*`,
        count: 2,
      });
      found.push(...keys);
      cursor = next;
    } while (String(cursor) !== "0");
    expect([...new Set(found)].sort()).toEqual(names);
  });

  it("reads several keys with mget, nil for missing ones", async () => {
    const [a, b] = [key("a"), key("b")];
    await redis.set(a, { n: 1 });
    await redis.set(b, "two");
    expect(await redis.mget(a, key("missing"), b)).toEqual([{ n: 1 }, null, "two"]);
  });

  it("runs a pipeline in order and reports a failing command on its own", async () => {
    const k = key("pipe");
    expect(await redis.pipeline().set(k, 1).incr(k).get(k).exec()).toEqual(["OK", 2, 2]);

    const text = key("text");
    const results = await redis
      .pipeline()
      .set(text, "words")
      .incr(text)
      .get(text)
      .exec({ keepErrors: true });
    expect(results).toEqual([
      { result: "OK", error: undefined },
      { result: undefined, error: "ERR value is not an integer or out of range" },
      { result: "words", error: undefined },
    ]);
  });

  it("runs multi atomically: nothing applies when a command is rejected while queueing", async () => {
    const k = key("atomic");
    // HSET with no field/value pairs is rejected at queue time, which aborts the transaction.
    await expect(redis.multi().set(k, "written").hset(key("empty"), {}).exec()).rejects.toThrow(
      "EXECABORT Transaction discarded because of previous errors.",
    );
    expect(await redis.get(k)).toBeNull();

    const [a, b] = [key("a"), key("b")];
    expect(await redis.multi().incr(a).incr(b).get(a).exec()).toEqual([1, 1, 1]);
  });

  it("isolates transactions: concurrent readers never see half of another transaction", async () => {
    const [a, b] = [key("a"), key("b")];
    const writers = Array.from({ length: 25 }, () => redis.multi().incr(a).incr(b).exec());
    const readers = Array.from({ length: 25 }, () => redis.multi().get(a).get(b).exec());
    const [, snapshots] = await Promise.all([Promise.all(writers), Promise.all(readers)]);
    for (const [seenA, seenB] of snapshots) {
      expect(seenA).toBe(seenB);
    }
    expect(await redis.mget(a, b)).toEqual([25, 25]);
  });

  it("batches concurrent calls into one pipeline request (auto-pipelining)", async () => {
    const own = new Redis({ url, token });
    const ks = [1, 2, 3, 4, 5].map((i) => key(`auto${i}`));
    await redis.mset(Object.fromEntries(ks.map((k, i) => [k, i * 10])));
    const values = await Promise.all(ks.map((k) => own.get(k)));
    expect(values).toEqual([0, 10, 20, 30, 40]);
    // The SDK's own count of HTTP pipeline requests it made.
    expect((own as unknown as { pipelineCounter: number }).pipelineCounter).toBe(1);
  });

  it("echoes an upstash-sync-token for read-your-writes", async () => {
    const own = new Redis({ url, token });
    await own.set(key("sync"), 1);
    expect(own.readYourWritesSyncToken).toMatch(/^\d+$/);
  });

  it("evaluates Lua with keys and arguments", async () => {
    const k = key("eval");
    const result = await redis.eval("return {KEYS[1], ARGV[1], 7}", [k], ["arg"]);
    expect(result).toEqual([k, "arg", 7]);
  });

  it("accepts Upstash-only shebang flags and keeps the client's script hash working", async () => {
    const k = key("locking");
    const script = "#!lua flags=allow-key-locking\nreturn redis.call('INCR', KEYS[1])";
    expect(await redis.eval(script, [k], [])).toBe(1);
    expect(await redis.scriptLoad(script)).toBe(sha1(script));
    expect(await redis.evalsha(sha1(script), [k], [])).toBe(2);
    expect(await redis.scriptExists(sha1(script))).toEqual([1]);
  });
});

describe("errors", () => {
  it("rejects a wrong token with Upstash's 401 message", async () => {
    const wrong = new Redis({ url, token: "not-the-token", retry: false });
    await expect(wrong.get("anything")).rejects.toThrow(
      'WRONGPASS invalid or missing auth token, command was: [["get","anything"]]',
    );
  });

  it("reports incr on a string as Redis does", async () => {
    const k = key("string");
    await redis.set(k, "not a number");
    await expect(redis.incr(k)).rejects.toThrow(
      "Command failed: ERR value is not an integer or out of range",
    );
  });

  it("reports NOSCRIPT for an unknown script hash", async () => {
    await expect(redis.evalsha(sha1(randomUUID()), [], [])).rejects.toThrow(
      "NOSCRIPT No matching script",
    );
  });
});

describe("@upstash/ratelimit against the stand-in", () => {
  // 00:18 past an hour: 30% into a one-hour window, so the sliding weight is exact.
  const T = Date.UTC(2031, 0, 1, 5, 18);
  const HOUR = 3_600_000;
  const windowEnd = T - 18 * 60_000 + HOUR;

  afterEach(() => {
    vi.useRealTimers();
  });

  function limiter(algorithm: ConstructorParameters<typeof Ratelimit>[0]["limiter"]): Ratelimit {
    return new Ratelimit({
      redis,
      limiter: algorithm,
      prefix: `rl:${randomUUID()}`,
      // The in-memory block cache would answer denials without asking Redis.
      ephemeralCache: false,
    });
  }

  async function run(rl: Ratelimit, id: string, times: number) {
    const out: { success: boolean; remaining: number; reset: number; limit: number }[] = [];
    for (let i = 0; i < times; i++) {
      const { success, remaining, reset, limit } = await rl.limit(id);
      out.push({ success, remaining, reset, limit });
    }
    return out;
  }

  it("slidingWindow allows the limit, denies the rest, and weighs the previous window", async () => {
    vi.setSystemTime(T);
    const rl = limiter(Ratelimit.slidingWindow(5, "1 h"));
    const first = await run(rl, "acct_1", 8);
    expect(first.map((r) => r.success)).toEqual([
      true,
      true,
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
    expect(first.map((r) => r.remaining)).toEqual([4, 3, 2, 1, 0, 0, 0, 0]);
    expect(new Set(first.map((r) => `${r.reset}/${r.limit}`))).toEqual(new Set([`${windowEnd}/5`]));

    // 30% into the next window, 70% of the previous window's 5 (floored: 3) still count.
    vi.setSystemTime(T + HOUR);
    const next = await run(rl, "acct_1", 3);
    expect(next).toEqual([
      { success: true, remaining: 1, reset: windowEnd + HOUR, limit: 5 },
      { success: true, remaining: 0, reset: windowEnd + HOUR, limit: 5 },
      { success: false, remaining: 0, reset: windowEnd + HOUR, limit: 5 },
    ]);
  });

  it("tokenBucket spends the burst, denies, and refills per interval", async () => {
    vi.setSystemTime(T);
    const rl = limiter(Ratelimit.tokenBucket(2, "1 h", 4));
    const first = await run(rl, "acct_2", 6);
    expect(first.map((r) => r.success)).toEqual([true, true, true, true, false, false]);
    expect(first.map((r) => r.remaining)).toEqual([3, 2, 1, 0, 0, 0]);
    expect(new Set(first.map((r) => r.reset))).toEqual(new Set([T + HOUR]));

    vi.setSystemTime(T + HOUR);
    expect(await run(rl, "acct_2", 3)).toEqual([
      { success: true, remaining: 1, reset: T + 2 * HOUR, limit: 4 },
      { success: true, remaining: 0, reset: T + 2 * HOUR, limit: 4 },
      { success: false, remaining: 0, reset: T + 2 * HOUR, limit: 4 },
    ]);
  });

  it("fixedWindow counts within the window", async () => {
    vi.setSystemTime(T);
    const rl = limiter(Ratelimit.fixedWindow(3, "1 h"));
    expect(await run(rl, "acct_3", 5)).toEqual([
      { success: true, remaining: 2, reset: windowEnd, limit: 3 },
      { success: true, remaining: 1, reset: windowEnd, limit: 3 },
      { success: true, remaining: 0, reset: windowEnd, limit: 3 },
      { success: false, remaining: 0, reset: windowEnd, limit: 3 },
      { success: false, remaining: 0, reset: windowEnd, limit: 3 },
    ]);
  });

  it("reports remaining tokens and resets them", async () => {
    vi.setSystemTime(T);
    const rl = limiter(Ratelimit.slidingWindow(5, "1 h"));
    await run(rl, "acct_4", 3);
    expect(await rl.getRemaining("acct_4")).toEqual({ remaining: 2, reset: windowEnd, limit: 5 });
    await rl.resetUsedTokens("acct_4");
    expect(await rl.getRemaining("acct_4")).toEqual({ remaining: 5, reset: windowEnd, limit: 5 });
    expect((await rl.limit("acct_4")).remaining).toBe(4);
  });
});

describe("service lifecycle", () => {
  const MAIN = fileURLToPath(new URL("../../../local-stack/redis/main.ts", import.meta.url));
  const scratch = mkdtempSync(join(tmpdir(), "meterline-redis-test-"));
  const started: { stop(signal?: NodeJS.Signals): Promise<void> }[] = [];
  const redisPids: number[] = [];

  interface Announced extends RedisInfo {
    port: number;
    redisPid: number;
    diesWithParent: boolean;
  }

  async function start(name: string, args: string[], env?: Record<string, string>) {
    const service = await spawnService<Announced>({
      name,
      script: MAIN,
      args: ["--data", join(scratch, name), ...args],
      logDir: join(scratch, "logs"),
      ...(env ? { env } : {}),
    });
    started.push(service);
    redisPids.push(service.info.redisPid);
    return service;
  }

  /** Whether a process still runs; a zombie awaiting its reaper has already exited. */
  function running(pid: number): boolean {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
    } catch {
      return false;
    }
  }

  afterAll(async () => {
    for (const service of started) {
      await service.stop("SIGKILL");
    }
    // Should a test fail half-way, leave no redis-server behind either.
    for (const pid of redisPids.filter(running)) {
      process.kill(pid, "SIGKILL");
    }
    rmSync(scratch, { recursive: true, force: true });
  });

  it("fails calls while stopped, then serves the same data on the same port after a restart", async () => {
    const first = await start("outage", ["--port", "0"]);
    const client = new Redis({ url: first.info.url, token: first.info.token, retry: false });
    const k = key("durable");
    await client.set(k, { plan: "pro" });

    await first.stop();
    await expect(client.get(k)).rejects.toThrow("fetch failed");

    const second = await start("outage", ["--port", String(first.info.port)]);
    expect(second.info.url).toBe(first.info.url);
    expect(second.info.token).toBe(first.info.token);
    // The append-only file carried the value across the restart.
    expect(await client.get(k)).toEqual({ plan: "pro" });
  });

  it("does not leave redis-server running when the service is SIGKILLed", async () => {
    const service = await start("orphan", ["--port", "0", "--fast"]);
    expect(service.info.diesWithParent).toBe(true);
    expect(running(service.info.redisPid)).toBe(true);
    process.kill(service.pid, "SIGKILL");
    await service.exited;
    await vi.waitFor(() => expect(running(service.info.redisPid)).toBe(false), {
      timeout: 10_000,
      interval: 20,
    });
  });

  it("exits non-zero with the install command when redis-server is missing", async () => {
    await expect(start("missing", ["--port", "0"], { PATH: "/nonexistent" })).rejects.toThrow(
      "missing exited with code 1 before it was ready",
    );
    // The log file is written asynchronously from the child's stderr.
    await vi.waitFor(() =>
      expect(readFileSync(join(scratch, "logs", "missing.log"), "utf8")).toContain(
        "apt-get install redis-server",
      ),
    );
  });
});
