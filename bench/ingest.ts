/**
 * Ingestion benchmark (run: `npx node bench/ingest.ts`, or via `npm run bench`).
 *
 * Runtime: workerd through Miniflare's API, Durable Object SQLite state on disk (ext4), the full
 * local stack running (the rated-usage consumer drains the queue meanwhile). Scenarios, measured
 * in one run with one load generator:
 *   batched  — requests of 1,000 events, each carrying 100 events for each of 10 accounts, over
 *              1,000 accounts;
 *   ceiling  — the same requests to a route that only parses and discards them;
 *   write ceiling — the same requests to a route that parses them and makes one minimal durable
 *              write in each named account's meter: what Durable Object storage itself allows;
 *   single   — one event per request, accounts spread over the same 1,000; and its write
 *              ceiling (one minimal write per request, same accounts).
 * Set BENCH_DATA_DIR to put the state elsewhere (e.g. /dev/shm, to see what the disk costs).
 */
import { type BenchEnvironment, startBenchEnvironment } from "./support/environment.ts";
import { BATCH_CONNECTIONS, SINGLE_CONNECTIONS } from "./support/ingest-load.ts";
import { type LoadResult, runLoad } from "./support/load.ts";
import { BENCH_METERS, benchAccountId, seedBenchCatalogue } from "./support/seed.ts";

export interface IngestBenchResult {
  eventsPerSecond: number;
  ceilingEventsPerSecond: number;
  ratioToCeiling: number;
  /** One minimal durable write per account of each request, same requests. */
  writeCeilingEventsPerSecond: number;
  ratioToWriteCeiling: number;
  singleWriteCeilingRequestsPerSecond: number;
  singleRatioToWriteCeiling: number;
  /** After the batched phase: seconds until the pipeline had landed everything (sampled accounts). */
  drainSeconds: number;
  p50Ms: number;
  p99Ms: number;
  singleRequestsPerSecond: number;
  singleP50Ms: number;
  singleP99Ms: number;
  batched: LoadResult;
  ceiling: LoadResult;
  writeCeiling: LoadResult;
  single: LoadResult;
  singleWriteCeiling: LoadResult;
}

const ACCOUNTS = 1_000;
const ACCOUNTS_PER_REQUEST = 10;
const EVENTS_PER_ACCOUNT = 100;

function batchBody(runId: string, n: number, nowIso: string): string {
  const events: unknown[] = [];
  for (let a = 0; a < ACCOUNTS_PER_REQUEST; a += 1) {
    const account = benchAccountId((n * ACCOUNTS_PER_REQUEST + a) % ACCOUNTS);
    for (let i = 0; i < EVENTS_PER_ACCOUNT; i += 1) {
      events.push({
        id: `${runId}-${n}-${a}-${i}`,
        account,
        meter: i % 10 === 0 ? BENCH_METERS.requests : BENCH_METERS.tokens,
        value: String(100 + ((n + i) % 900)),
        time: nowIso,
        properties: { model: i % 2 === 0 ? "gpt-4" : "llama-3", region: "eu" },
      });
    }
  }
  return JSON.stringify(events);
}

/**
 * Waits until sampled accounts have nothing in flight (their meters' outboxes confirmed by the
 * sinks); returns the seconds it took, or the limit when it did not happen.
 */
async function drain(
  env: BenchEnvironment,
  log: (line: string) => void,
  limitMs = 180_000,
): Promise<number> {
  const startedMs = performance.now();
  const sample = [0, 137, 421, 689, 999].map(benchAccountId);
  for (;;) {
    const reports = await Promise.all(
      sample.map(async (account) => {
        const response = await fetch(`${env.url}/v1/admin/drift?account=${account}`, {
          headers: { authorization: `Bearer ${env.adminKey}` },
        });
        const body = (await response.json()) as {
          accounts: { lag: { outboxRows: number; retryingBatches: number } }[];
        };
        return body.accounts[0]?.lag;
      }),
    );
    const inFlight = reports.reduce(
      (n, lag) => n + (lag ? lag.outboxRows + lag.retryingBatches : 1),
      0,
    );
    const seconds = (performance.now() - startedMs) / 1000;
    if (inFlight === 0 || seconds * 1000 > limitMs) {
      log(
        `  pipeline drained in ${seconds.toFixed(1)} s${inFlight === 0 ? "" : " (limit reached)"}`,
      );
      return seconds;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function requestInit(adminKey: string, body: string): RequestInit {
  return {
    method: "POST",
    headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
    body,
  };
}

export async function benchIngest(
  env: BenchEnvironment,
  options: { durationMs?: number; log?: (line: string) => void } = {},
): Promise<IngestBenchResult> {
  const log = options.log ?? (() => {});
  const durationMs = options.durationMs ?? 15_000;
  await seedBenchCatalogue(env.stack.info.postgres.appUrl, ACCOUNTS);
  const runId = `r${Date.now().toString(36)}`;
  const nowIso = () => new Date().toISOString();
  const batchUrl = `${env.url}/v1/events`;

  log("warming up every account meter (one small request per 10 accounts)");
  const warmStarted = performance.now();
  for (let n = 0; n < ACCOUNTS / ACCOUNTS_PER_REQUEST; n += 8) {
    await Promise.all(
      Array.from({ length: 8 }, async (_, k) => {
        const events = Array.from({ length: ACCOUNTS_PER_REQUEST }, (_, a) => ({
          id: `${runId}-warm-${n + k}-${a}`,
          account: benchAccountId(((n + k) * ACCOUNTS_PER_REQUEST + a) % ACCOUNTS),
          meter: BENCH_METERS.requests,
        }));
        const response = await fetch(batchUrl, requestInit(env.adminKey, JSON.stringify(events)));
        await response.arrayBuffer();
      }),
    );
  }
  log(`  warm in ${((performance.now() - warmStarted) / 1000).toFixed(1)} s`);

  await drain(env, log);
  // The ceiling first, on an idle pipeline: the discard route must not share the CPU with the
  // queue consumer catching up on the batched phase.
  log(`ceiling: ${durationMs / 1000} s, the same requests to the discard route`);
  const ceiling = await runLoad({
    connections: BATCH_CONNECTIONS,
    durationMs,
    request: (n) => ({
      url: `${env.url}/_bench/discard`,
      init: requestInit(env.adminKey, batchBody(`${runId}c`, n, nowIso())),
    }),
  });
  log(`write ceiling: ${durationMs / 1000} s, the same requests, one minimal write per account`);
  const writeCeiling = await runLoad({
    connections: BATCH_CONNECTIONS,
    durationMs,
    request: (n) => ({
      url: `${env.url}/_bench/write`,
      init: requestInit(env.adminKey, batchBody(`${runId}w`, n, nowIso())),
    }),
  });
  log(`batched: ${durationMs / 1000} s, 1,000 events per request`);
  const batched = await runLoad({
    connections: BATCH_CONNECTIONS,
    durationMs,
    request: (n) => ({
      url: batchUrl,
      init: requestInit(env.adminKey, batchBody(`${runId}b`, n, nowIso())),
    }),
  });
  const drainSeconds = await drain(env, log);
  log(`single: ${durationMs / 1000} s, one event per request`);
  const single = await runLoad({
    connections: SINGLE_CONNECTIONS,
    durationMs,
    request: (n) => ({
      url: batchUrl,
      init: requestInit(
        env.adminKey,
        JSON.stringify({
          id: `${runId}-s-${n}`,
          account: benchAccountId((n * 7919) % ACCOUNTS),
          meter: BENCH_METERS.tokens,
          value: "512",
        }),
      ),
    }),
  });
  log(`single write ceiling: ${durationMs / 1000} s, one minimal write per request`);
  const singleWriteCeiling = await runLoad({
    connections: SINGLE_CONNECTIONS,
    durationMs,
    request: (n) => ({
      url: `${env.url}/_bench/write`,
      init: requestInit(
        env.adminKey,
        JSON.stringify({ id: `${runId}-sw-${n}`, account: benchAccountId((n * 7919) % ACCOUNTS) }),
      ),
    }),
  });
  const events = ACCOUNTS_PER_REQUEST * EVENTS_PER_ACCOUNT;
  const eventsPerSecond = batched.requestsPerSecond * events;
  const ceilingEventsPerSecond = ceiling.requestsPerSecond * events;
  return {
    eventsPerSecond,
    ceilingEventsPerSecond,
    ratioToCeiling: eventsPerSecond / ceilingEventsPerSecond,
    writeCeilingEventsPerSecond: writeCeiling.requestsPerSecond * events,
    ratioToWriteCeiling: eventsPerSecond / (writeCeiling.requestsPerSecond * events),
    singleWriteCeilingRequestsPerSecond: singleWriteCeiling.requestsPerSecond,
    singleRatioToWriteCeiling: single.requestsPerSecond / singleWriteCeiling.requestsPerSecond,
    drainSeconds,
    p50Ms: batched.p50Ms,
    p99Ms: batched.p99Ms,
    singleRequestsPerSecond: single.requestsPerSecond,
    singleP50Ms: single.p50Ms,
    singleP99Ms: single.p99Ms,
    batched,
    ceiling,
    writeCeiling,
    single,
    singleWriteCeiling,
  };
}

if (import.meta.main) {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const env = await startBenchEnvironment(log);
  try {
    const result = await benchIngest(env, { log });
    const fixed = (value: number, digits: number, width: number) =>
      value.toFixed(digits).padStart(width);
    const row = (name: string, r: LoadResult, perRequest: number) =>
      [
        `${name.padEnd(9)} ${fixed(r.requestsPerSecond, 1, 9)} req/s`,
        `${fixed(r.requestsPerSecond * perRequest, 0, 9)} events/s`,
        `p50 ${fixed(r.p50Ms, 1, 7)} ms`,
        `p99 ${fixed(r.p99Ms, 1, 7)} ms`,
        `errors ${r.errors} ${JSON.stringify(r.statusCounts)}`,
      ].join("  ");
    console.log(row("batched", result.batched, 1000));
    console.log(row("ceiling", result.ceiling, 1000));
    console.log(row("writes", result.writeCeiling, 1000));
    console.log(row("single", result.single, 1));
    console.log(row("1-writes", result.singleWriteCeiling, 1));
    console.log(`batched / ceiling = ${(result.ratioToCeiling * 100).toFixed(1)} %`);
    console.log(`batched / write ceiling = ${(result.ratioToWriteCeiling * 100).toFixed(1)} %`);
    const singleRatio = (result.singleRatioToWriteCeiling * 100).toFixed(1);
    console.log(`single / single write ceiling = ${singleRatio} %`);
    console.log(`pipeline drained ${result.drainSeconds.toFixed(1)} s after the batched phase`);
  } finally {
    await env.stop();
  }
}
