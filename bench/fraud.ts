/**
 * Fraud decision benchmark (run: `npx node bench/fraud.ts`).
 *
 * Runtime: the Worker bundle in workerd through Miniflare's API, with the full local stack
 * (Postgres behind the Neon WebSocket proxy, Redis behind the Upstash REST gateway, QStash
 * sandbox). Latency is measured by the load generator in Node around each HTTP request, so it
 * includes HTTP, the Worker, every Redis round trip (REST gateway → redis-server) and the
 * Postgres writes of the audit record. Scenarios:
 *   decisions   — signups and deployment admissions alternating (the headline figures);
 *   signups     — POST /v1/risk/signups only, identifiers drawn from pools so rules fire;
 *   deployments — POST /v1/risk/deployments only (Postgres, account meter and Redis in parallel);
 *   keyed/admin — GET usage with account keys (rate limiter on) vs the admin key (exempt): the
 *                 difference is the rate limiter's cost on the hot path.
 *
 * `--lib` (or when the Worker cannot be started) measures the same decisions one level down:
 * `decideSignup` / `decideDeployment` and `checkRateLimit` called from Node through the same
 * lib code, against the same local stack, with the same round trips (Redis REST gateway,
 * Postgres over HTTP and WebSocket). It leaves out workerd and the account-meter RPC of the
 * admission check (spend status is given as "ok"); `mode` in the result says which ran.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { openRedis } from "../lib/adapters/redis.ts";
import { systemClock } from "../lib/clock/clock.ts";
import { parseConfig } from "../lib/env/config.ts";
import { decideDeployment } from "../lib/fraud/deployment.ts";
import { openRiskDeps } from "../lib/fraud/deps.ts";
import { replaceDisposableDomains } from "../lib/fraud/disposable-domains.ts";
import { normaliseEmail } from "../lib/fraud/identity.ts";
import { checkRateLimit } from "../lib/fraud/rate-limit.ts";
import { decideSignup } from "../lib/fraud/signup.ts";
import { createIdGenerator } from "../lib/ids/ids.ts";
import { createLogger } from "../lib/log/logger.ts";
import { startStack, workerEnv } from "../local-stack/stack.ts";
import { migratePostgres } from "../migrations/postgres.ts";
import {
  BENCH_ADMIN_KEY,
  type BenchEnvironment,
  startBenchEnvironment,
} from "./support/environment.ts";
import { type LoadResult, runLoad } from "./support/load.ts";
import { benchAccountId, seedBenchCatalogue } from "./support/seed.ts";

export interface FraudBenchResult {
  /** `worker`: HTTP through workerd; `lib`: the lib functions called from Node. */
  mode: "worker" | "lib";
  /** Over signups and deployment admissions together. */
  p50Ms: number;
  p99Ms: number;
  decisionsPerSecond: number;
  decisions: LoadResult;
  signups: LoadResult;
  deployments: LoadResult;
  keyed: LoadResult;
  admin: LoadResult;
}

const ACCOUNTS = 200;
const KEYED_ACCOUNTS = 20;
const CONNECTIONS = Number(process.env.FRAUD_BENCH_CONNECTIONS ?? 8);

function pick(n: number, pool: number): number {
  // A fixed scramble so consecutive requests do not share identifiers.
  return (n * 2_654_435_761) % pool;
}

/** Admissions use the accounts after the keyed ones: miner attempts limit their accounts. */
function admissionAccount(n: number): string {
  return benchAccountId(KEYED_ACCOUNTS + pick(n, ACCOUNTS - KEYED_ACCOUNTS));
}

function json(key: string, body: unknown): RequestInit {
  return {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  };
}

async function createKeys(env: BenchEnvironment): Promise<string[]> {
  const keys: string[] = [];
  for (let n = 0; n < KEYED_ACCOUNTS; n += 1) {
    const response = await fetch(
      `${env.url}/v1/accounts/${benchAccountId(n)}/api-keys`,
      json(env.adminKey, { name: "bench" }),
    );
    if (response.status !== 201) {
      throw new Error(`api key: ${response.status} ${await response.text()}`);
    }
    keys.push(((await response.json()) as { key: string }).key);
  }
  return keys;
}

async function loadDisposableDomains(env: BenchEnvironment): Promise<void> {
  const domains = createRequire(import.meta.url)("disposable-email-domains") as string[];
  const response = await fetch(`${env.url}/v1/risk/disposable-domains`, {
    ...json(env.adminKey, domains),
    method: "PUT",
  });
  if (response.status !== 200) {
    throw new Error(`disposable domains: ${response.status} ${await response.text()}`);
  }
}

export interface FraudBenchOptions {
  durationMs?: number;
  log?: (line: string) => void;
  /** Skip the Worker and measure the lib functions from Node. */
  lib?: boolean;
}

/** Runs the fraud benchmark: through the Worker when it starts, else (or with `lib`) from Node. */
export async function benchFraud(
  given?: BenchEnvironment,
  options: FraudBenchOptions = {},
): Promise<FraudBenchResult> {
  const log = options.log ?? (() => {});
  if (options.lib) {
    return benchFraudLib(options);
  }
  let env: BenchEnvironment;
  try {
    env = given ?? (await startBenchEnvironment(log));
  } catch (error) {
    log(`the Worker did not start (${String(error).split("\n")[0]}); measuring the lib instead`);
    return benchFraudLib(options);
  }
  return benchFraudWorker(env, !given, options);
}

async function benchFraudWorker(
  env: BenchEnvironment,
  owned: boolean,
  options: FraudBenchOptions,
): Promise<FraudBenchResult> {
  const log = options.log ?? (() => {});
  const durationMs = options.durationMs ?? Number(process.env.FRAUD_BENCH_DURATION_MS ?? 10_000);
  try {
    await seedBenchCatalogue(env.stack.info.postgres.appUrl, ACCOUNTS);
    await loadDisposableDomains(env);
    const keys = await createKeys(env);
    const run = Date.now().toString(36);

    const signup = (n: number) => ({
      url: `${env.url}/v1/risk/signups`,
      init: json(env.adminKey, {
        accountId: `bench-su-${run}-${n}`,
        email: `user.${run}.${n}@${n % 10 === 0 ? "mailinator.com" : "gmail.com"}`,
        ip: `10.${pick(n, 64)}.${pick(n + 1, 250)}.${(n % 250) + 1}`,
        deviceId: `device-${pick(n, 5_000)}`,
        cardFingerprint: `card-${run}-${pick(n, 3_000)}`,
        country: "NL",
        cardCountry: n % 7 === 0 ? "US" : "NL",
      }),
    });
    const admission = (n: number) => ({
      url: `${env.url}/v1/risk/deployments`,
      init: json(env.adminKey, {
        accountId: admissionAccount(n),
        deploymentId: `bench-dep-${run}-${n}`,
        image: n % 50 === 0 ? "xmrig/xmrig:6" : "ghcr.io/acme/api:1.4.2",
        command: ["node", "server.js"],
        resources: { vcpus: 2, memoryMb: 2048, gpus: 0, instances: 2 },
        regions: ["iad", "fra"],
      }),
    });
    const usage = (n: number, key: string) => ({
      url: `${env.url}/v1/accounts/${benchAccountId(n % KEYED_ACCOUNTS)}/usage`,
      init: { headers: { authorization: `Bearer ${key}` } },
    });

    // Steady state: every account meter the admissions reach is started once beforehand (a
    // meter's first call pays its start-up and configuration load; see docs/fraud.md).
    log("warming up (every account meter, 100 of each request)");
    for (let a = KEYED_ACCOUNTS; a < ACCOUNTS; a += 1) {
      const warm = admission(5e6 + a);
      const body = JSON.parse(String(warm.init.body)) as Record<string, unknown>;
      const init = json(env.adminKey, { ...body, accountId: benchAccountId(a) });
      await (await fetch(warm.url, init)).arrayBuffer();
    }
    for (let n = 0; n < 100; n += 1) {
      for (const { url, init } of [signup(1e6 + n), admission(1e6 + n)]) {
        await (await fetch(url, init)).arrayBuffer();
      }
      await (
        await fetch(
          usage(n, keys[n % KEYED_ACCOUNTS] as string).url,
          usage(n, keys[n % KEYED_ACCOUNTS] as string).init,
        )
      ).arrayBuffer();
    }

    const scenario = async (
      name: string,
      request: (n: number) => { url: string; init: RequestInit },
    ) => {
      log(`${name}: ${durationMs / 1000} s, ${CONNECTIONS} connections`);
      return runLoad({ connections: CONNECTIONS, durationMs, okStatus: 200, request });
    };
    const decisions = await scenario("decisions", (n) =>
      n % 2 === 0 ? signup(2e6 + n) : admission(2e6 + n),
    );
    const signups = await scenario("signups", (n) => signup(3e6 + n));
    const deployments = await scenario("deployments", (n) => admission(3e6 + n));
    const keyed = await scenario("keyed", (n) => usage(n, keys[n % KEYED_ACCOUNTS] as string));
    const admin = await scenario("admin", (n) => usage(n, env.adminKey));
    return {
      mode: "worker",
      p50Ms: decisions.p50Ms,
      p99Ms: decisions.p99Ms,
      decisionsPerSecond: decisions.requestsPerSecond,
      decisions,
      signups,
      deployments,
      keyed,
      admin,
    };
  } finally {
    if (owned) {
      await env.stop();
    }
  }
}

function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? 0;
}

/** A closed loop over an async operation: `CONNECTIONS` loops, each starting the next at once. */
async function runCalls(
  durationMs: number,
  call: (n: number) => Promise<unknown>,
): Promise<LoadResult> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const startedMs = performance.now();
  const endMs = startedMs + durationMs;
  const loop = async () => {
    while (performance.now() < endMs) {
      const n = next;
      next += 1;
      const t0 = performance.now();
      try {
        await call(n);
      } catch {
        errors += 1;
      }
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, loop));
  const seconds = (performance.now() - startedMs) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    statusCounts: { ok: latencies.length - errors, error: errors },
    seconds,
    requestsPerSecond: latencies.length / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies[latencies.length - 1] ?? 0,
  };
}

async function benchFraudLib(options: FraudBenchOptions): Promise<FraudBenchResult> {
  const log = options.log ?? (() => {});
  const durationMs = options.durationMs ?? Number(process.env.FRAUD_BENCH_DURATION_MS ?? 10_000);
  const dataDir = mkdtempSync(join(tmpdir(), "meterline-bench-fraud-"));
  log(`starting Postgres, the Neon proxy and Redis in ${dataDir}`);
  const stack = await startStack({ dataDir, ephemeral: true, only: ["neon-proxy", "redis"] });
  try {
    await migratePostgres({
      url: stack.info.postgres.appUrl,
      wsProxy: stack.info["neon-proxy"].wsProxy,
    });
    await seedBenchCatalogue(stack.info.postgres.appUrl, ACCOUNTS);
    const config = parseConfig(workerEnv(stack.info, BENCH_ADMIN_KEY));
    const ids = createIdGenerator(systemClock.nowMs);
    const quiet = createLogger({ level: "error" });
    const open = () => openRiskDeps(config, { work: null, clock: systemClock, ids, log: quiet });
    const domains = createRequire(import.meta.url)("disposable-email-domains") as string[];
    await replaceDisposableDomains(openRedis(config.redis), domains, systemClock.nowMs());
    const run = Date.now().toString(36);

    // As in the Worker: dependencies are opened per decision and closed after it.
    const signup = async (n: number) => {
      const deps = open();
      try {
        await decideSignup(deps, {
          accountId: `bench-su-${run}-${n}`,
          email: normaliseEmail(
            `user.${run}.${n}@${n % 10 === 0 ? "mailinator.com" : "gmail.com"}`,
          ) as NonNullable<ReturnType<typeof normaliseEmail>>,
          ip: `10.${pick(n, 64)}.${pick(n + 1, 250)}.${(n % 250) + 1}`,
          country: "NL",
          asn: null,
          deviceId: `device-${pick(n, 5_000)}`,
          cardFingerprint: `card-${run}-${pick(n, 3_000)}`,
          cardCountry: n % 7 === 0 ? "US" : "NL",
          linkedIdentity: null,
        });
      } finally {
        await deps.close();
      }
    };
    const admission = async (n: number) => {
      const deps = open();
      try {
        await decideDeployment(
          deps,
          {
            accountId: admissionAccount(n),
            deploymentId: `bench-dep-${run}-${n}`,
            image: n % 50 === 0 ? "xmrig/xmrig:6" : "ghcr.io/acme/api:1.4.2",
            command: ["node", "server.js"],
            resources: { vcpus: 2, memoryMb: 2048, gpus: 0, instances: 2 },
            regions: ["iad", "fra"],
          },
          Promise.resolve("ok"),
        );
      } finally {
        await deps.close();
      }
    };
    const limit = async (n: number) => {
      await checkRateLimit(openRedis(config.redis), {
        accountId: benchAccountId(n % KEYED_ACCOUNTS),
        keyId: `bench-key-${n % KEYED_ACCOUNTS}`,
      });
    };

    log("warming up (100 of each call)");
    for (let n = 0; n < 100; n += 1) {
      await signup(1e6 + n);
      await admission(1e6 + n);
      await limit(n);
    }
    const scenario = (name: string, call: (n: number) => Promise<unknown>) => {
      log(`${name}: ${durationMs / 1000} s, ${CONNECTIONS} concurrent calls`);
      return runCalls(durationMs, call);
    };
    const decisions = await scenario("decisions", (n) =>
      n % 2 === 0 ? signup(2e6 + n) : admission(2e6 + n),
    );
    const signups = await scenario("signups", (n) => signup(3e6 + n));
    const deployments = await scenario("deployments", (n) => admission(3e6 + n));
    const keyed = await scenario("rate-limit check", limit);
    const admin = await scenario("one Redis GET (baseline)", async (n) => {
      await openRedis(config.redis).get(`bench:${n % 100}`);
    });
    return {
      mode: "lib",
      p50Ms: decisions.p50Ms,
      p99Ms: decisions.p99Ms,
      decisionsPerSecond: decisions.requestsPerSecond,
      decisions,
      signups,
      deployments,
      keyed,
      admin,
    };
  } finally {
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  // The machine's load before and after: other processes on a small host skew every figure.
  const before = loadavg()[0]?.toFixed(2);
  const result = await benchFraud(undefined, { log, lib: process.argv.includes("--lib") });
  console.log(`mode: ${result.mode}, connections: ${CONNECTIONS}`);
  console.log(`load average (1 min): ${before} before, ${loadavg()[0]?.toFixed(2)} after`);
  const fixed = (value: number, width: number) => value.toFixed(1).padStart(width);
  const row = (name: string, r: LoadResult) =>
    [
      `${name.padEnd(12)} ${fixed(r.requestsPerSecond, 8)} req/s`,
      `p50 ${fixed(r.p50Ms, 6)} ms`,
      `p99 ${fixed(r.p99Ms, 6)} ms`,
      `max ${fixed(r.maxMs, 7)} ms`,
      `errors ${r.errors} ${JSON.stringify(r.statusCounts)}`,
    ].join("  ");
  for (const name of ["decisions", "signups", "deployments", "keyed", "admin"] as const) {
    console.log(row(name, result[name]));
  }
  console.log(
    `headline: p50 ${result.p50Ms.toFixed(1)} ms, p99 ${result.p99Ms.toFixed(1)} ms, ` +
      `${result.decisionsPerSecond.toFixed(1)} decisions/s`,
  );
}
