/**
 * Sink benchmark (run: `npx node bench/sink.ts [--deliveries 8] [--lag-seconds 15]`).
 *
 * Environment: the full local stack and the Worker in workerd through Miniflare
 * (bench/support/environment.ts), on this machine's shared cores.
 *
 * 1. Throughput. Drives `consumeRatedUsage` — the function the rated-usage queue handler calls
 *    with each delivery batch — from Node against the local ClickHouse and Postgres, with
 *    production-shaped deliveries: 100 messages of 300 raw events and 6 rated records each
 *    (30,600 rows). Each delivery gets its own Postgres pool, as an invocation does. Interleaved
 *    with it, the same rows (another account prefix, so nothing deduplicates) are inserted
 *    directly with client-web, prebuilt, two inserts in parallel with the same settings. Reported:
 *    ClickHouse rows/s through the consumer (wall clock of the whole call, Postgres running
 *    beside it), ClickHouse rows/s of the insert inside the consumer, the direct rate, and the
 *    ledger's rated records/s and batches/s inside the consumer.
 *    The queue's own delivery overhead is not in this figure: a Worker harness cannot time it
 *    from outside, and locally it is dominated by the 1 s batch timeout.
 * 2. Lag. While the ingestion benchmark's batched load runs against the Worker (1,000-event
 *    requests over 1,000 accounts, 6 connections, closed loop), a probe event is sent every
 *    500 ms and ClickHouse is polled every 25 ms until the probe is queryable; the lag is from
 *    the request's start to the first poll that sees it (meter flush delay, queue batch
 *    timeout, consumer and insert included).
 */
import { parseArgs } from "node:util";
import { createClient } from "@clickhouse/client-web";
import { openClickHouse } from "../lib/adapters/clickhouse.ts";
import { openDatabase } from "../lib/adapters/postgres.ts";
import { eventRows, insertTokenFor, ratedRows } from "../lib/analytics/usage-sink.ts";
import { systemClock } from "../lib/clock/clock.ts";
import { createIdGenerator } from "../lib/ids/ids.ts";
import { silentLogger } from "../lib/log/logger.ts";
import { consumeRatedUsage, type Delivery } from "../lib/pipeline/consume-rated-usage.ts";
import type { RatedUsageMessage } from "../lib/pipeline/rated-usage-message.ts";
import { type BenchEnvironment, startBenchEnvironment } from "./support/environment.ts";
import { runLoad } from "./support/load.ts";
import { BENCH_METERS, benchAccountId, seedBenchCatalogue } from "./support/seed.ts";

export interface SinkBenchResult {
  deliveries: number;
  rowsPerDelivery: number;
  /** ClickHouse rows per second through the consumer (whole call, Postgres alongside). */
  clickhouseRowsPerSecond: number;
  /** ClickHouse rows per second of the inserts inside the consumer. */
  clickhouseSinkRowsPerSecond: number;
  /** The same rows inserted directly with client-web. */
  clickhouseDirectRowsPerSecond: number;
  /** clickhouseRowsPerSecond / clickhouseDirectRowsPerSecond. */
  ratioToDirect: number;
  /** Rated records applied to the ledger per second of its transactions, and batches. */
  postgresRowsPerSecond: number;
  postgresBatchesPerSecond: number;
  /** Ingest to queryable in ClickHouse, under the ingestion benchmark's load. */
  lagMs: { p50: number; p90: number; max: number; samples: number };
  /** The same with no other load (the pipeline's floor: flush delay, batch timeout). */
  idleLagMs: { p50: number; max: number; samples: number };
  ingestEventsPerSecond: number;
}

const MESSAGES_PER_DELIVERY = 100;
const EVENTS_PER_MESSAGE = 300;
const RECORDS_PER_MESSAGE = 6;
const PERIOD_START_MS = Date.UTC(2026, 10, 1);

function buildDelivery(prefix: string, delivery: number): RatedUsageMessage[] {
  return Array.from({ length: MESSAGES_PER_DELIVERY }, (_, m) => {
    const accountId = `${prefix}-${m}`;
    const seq = delivery * 1_000 + 1;
    const baseMs = PERIOD_START_MS + delivery * 60_000;
    return {
      v: 1,
      kind: "rated_usage",
      batchId: `${accountId}:${seq}`,
      accountId,
      sentMs: baseMs + 1_000,
      records: Array.from({ length: RECORDS_PER_MESSAGE }, (_, r) => ({
        recordId: `${accountId}:${seq}:${r}`,
        meter: r % 2 === 0 ? "tokens" : "requests",
        periodStartMs: PERIOD_START_MS,
        periodEndMs: Date.UTC(2026, 11, 1),
        segment: "planv_bench_1",
        planId: "plan_bench",
        day: `2026-11-${String(1 + (r % 3)).padStart(2, "0")}`,
        quantityDelta: "51234.5",
        amountDelta: "51.2345",
        currency: "USD",
        eventCount: 50,
        quantityTotal: "151234.5",
        amountTotal: "151.2345",
      })),
      events: Array.from({ length: EVENTS_PER_MESSAGE }, (_, e) => ({
        id: `${prefix}-${delivery}-${m}-${e}`,
        meter: e % 10 === 0 ? "requests" : "tokens",
        value: e % 10 === 0 ? null : String(100 + (e % 900)),
        timeMs: baseMs + e,
        receivedMs: baseMs + e + 3,
        periodStartMs: PERIOD_START_MS,
        properties: { model: e % 2 === 0 ? "gpt-4" : "llama-3", region: "eu" },
      })),
    };
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) {
    return 0;
  }
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

async function measureThroughput(
  env: BenchEnvironment,
  deliveries: number,
  log: (line: string) => void,
) {
  const { stack } = env;
  const chSettings = { ...stack.info.clickhouse, database: "meterline" };
  const dbSettings = {
    url: stack.info.postgres.appUrl,
    wsProxy: stack.info["neon-proxy"].wsProxy,
    httpEndpoint: undefined,
  };
  const direct = createClient({ ...chSettings, request_timeout: 60_000 });
  const run = `sink${Date.now().toString(36)}`;
  const totals = {
    consumerMs: 0,
    consumerRows: 0,
    clickhouseMs: 0,
    postgresMs: 0,
    records: 0,
    batches: 0,
    directMs: 0,
    directRows: 0,
  };

  async function viaConsumer(delivery: number, timed: boolean): Promise<void> {
    const messages = buildDelivery(`${run}-c`, delivery);
    const batch: Delivery[] = messages.map((body, i) => ({
      id: `${run}-c-${delivery}-${i}`,
      attempts: 1,
      body: structuredClone(body),
    }));
    const db = openDatabase(dbSettings, { max: 1 });
    const startedMs = performance.now();
    const report = await consumeRatedUsage(batch, {
      clickhouse: openClickHouse(chSettings),
      db,
      clock: systemClock,
      ids: createIdGenerator(),
      log: silentLogger,
      queue: "bench",
    });
    const elapsedMs = performance.now() - startedMs;
    await db.end();
    if (report.failures.size > 0 || report.applied !== MESSAGES_PER_DELIVERY) {
      throw new Error(
        `consumer did not land the delivery: ${JSON.stringify([...report.failures])}`,
      );
    }
    if (timed) {
      totals.consumerMs += elapsedMs;
      totals.consumerRows += report.clickhouseRows;
      totals.clickhouseMs += report.clickhouseMs;
      totals.postgresMs += report.postgresMs;
      totals.records += MESSAGES_PER_DELIVERY * RECORDS_PER_MESSAGE;
      totals.batches += report.applied;
    }
  }

  async function viaDirect(delivery: number, timed: boolean): Promise<void> {
    const messages = buildDelivery(`${run}-d`, delivery);
    const events = eventRows(messages);
    const rated = ratedRows(messages);
    const token = await insertTokenFor(messages.map((m) => m.batchId));
    const settings = { insert_deduplication_token: token, async_insert: 0 as const };
    const startedMs = performance.now();
    await Promise.all([
      direct.insert({
        table: "usage_events",
        values: events,
        format: "JSONEachRow",
        clickhouse_settings: settings,
      }),
      direct.insert({
        table: "usage_rated",
        values: rated,
        format: "JSONEachRow",
        clickhouse_settings: settings,
      }),
    ]);
    if (timed) {
      totals.directMs += performance.now() - startedMs;
      totals.directRows += events.length + rated.length;
    }
  }

  log("throughput: warming up both paths");
  await viaConsumer(0, false);
  await viaDirect(0, false);
  for (let d = 1; d <= deliveries; d += 1) {
    // Alternate which path goes first, so neither always follows the other's merge work.
    if (d % 2 === 0) {
      await viaConsumer(d, true);
      await viaDirect(d, true);
    } else {
      await viaDirect(d, true);
      await viaConsumer(d, true);
    }
    log(`  delivery ${d}/${deliveries}`);
  }
  await direct.close();
  return totals;
}

async function measureLag(env: BenchEnvironment, durationMs: number, log: (line: string) => void) {
  const accounts = 1_000;
  await seedBenchCatalogue(env.stack.info.postgres.appUrl, accounts);
  const ch = createClient({ ...env.stack.info.clickhouse, database: "meterline" });
  const headers = { authorization: `Bearer ${env.adminKey}`, "content-type": "application/json" };
  const run = `lag${Date.now().toString(36)}`;
  log("lag: warming up the account meters");
  for (let n = 0; n < accounts / 10; n += 10) {
    await Promise.all(
      Array.from({ length: 10 }, async (_, k) => {
        const body = Array.from({ length: 10 }, (_, a) => ({
          id: `${run}-warm-${n + k}-${a}`,
          account: benchAccountId(((n + k) * 10 + a) % accounts),
          meter: BENCH_METERS.requests,
        }));
        const response = await fetch(`${env.url}/v1/events`, {
          method: "POST",
          headers,
          body: JSON.stringify(body),
        });
        await response.arrayBuffer();
      }),
    );
  }
  const probe = benchAccountId(accounts - 1);
  let probeNumber = 0;
  /** Sends one probe event and returns the milliseconds until ClickHouse answers with it. */
  async function probeOnce(): Promise<number> {
    const id = `${run}-probe-${probeNumber}`;
    probeNumber += 1;
    const startedMs = performance.now();
    const response = await fetch(`${env.url}/v1/events`, {
      method: "POST",
      headers,
      body: JSON.stringify({ id, account: probe, meter: BENCH_METERS.tokens, value: "1" }),
    });
    await response.arrayBuffer();
    const acceptedMs = performance.now() - startedMs;
    for (;;) {
      const result = await ch.query({
        query: `SELECT count() AS n FROM usage_events
                WHERE account_id = {a:String} AND event_id = {e:String}`,
        query_params: { a: probe, e: id },
        format: "JSONEachRow",
      });
      const [row] = await result.json<{ n: string | number }>();
      const lagMs = performance.now() - startedMs;
      if (Number(row?.n) > 0) {
        log(
          `  probe ${probeNumber}: ${Math.round(lagMs)} ms (accepted after ${Math.round(acceptedMs)} ms)`,
        );
        return lagMs;
      }
      if (lagMs > 120_000) {
        throw new Error(`probe ${id} not queryable after 120 s`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  log("lag: 5 probes with no other load");
  const idle: number[] = [];
  for (let i = 0; i < 5; i += 1) {
    idle.push(await probeOnce());
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const lags: number[] = [];
  let loading = true;
  async function probes(): Promise<void> {
    while (loading) {
      lags.push(await probeOnce());
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  log(`lag: ${durationMs / 1000} s of batched load with probes`);
  const probing = probes();
  const time = new Date().toISOString();
  const load = await runLoad({
    connections: 6,
    durationMs,
    request: (n) => ({
      url: `${env.url}/v1/events`,
      init: {
        method: "POST",
        headers,
        body: JSON.stringify(
          Array.from({ length: 1_000 }, (_, i) => ({
            id: `${run}-${n}-${i}`,
            account: benchAccountId((n * 10 + Math.floor(i / 100)) % (accounts - 1)),
            meter: i % 10 === 0 ? BENCH_METERS.requests : BENCH_METERS.tokens,
            value: String(100 + ((n + i) % 900)),
            time,
            properties: { model: i % 2 === 0 ? "gpt-4" : "llama-3", region: "eu" },
          })),
        ),
      },
    }),
  });
  loading = false;
  await probing;
  await ch.close();
  lags.sort((a, b) => a - b);
  idle.sort((a, b) => a - b);
  return {
    lags,
    idle,
    ingestEventsPerSecond: load.requestsPerSecond * 1_000,
    errors: load.errors,
  };
}

/**
 * Runs both measurements in one environment and returns the figures: `env` when given (left
 * running), else one started and stopped here.
 */
export async function benchSink(
  options: {
    deliveries?: number;
    lagSeconds?: number;
    log?: (line: string) => void;
    env?: BenchEnvironment;
  } = {},
): Promise<SinkBenchResult> {
  const log = options.log ?? (() => {});
  const deliveries = options.deliveries ?? 8;
  const env = options.env ?? (await startBenchEnvironment(log));
  try {
    const t = await measureThroughput(env, deliveries, log);
    const lagSeconds = options.lagSeconds ?? 15;
    // --lag-seconds 0 measures throughput only.
    const lag =
      lagSeconds > 0
        ? await measureLag(env, lagSeconds * 1_000, log)
        : { lags: [], idle: [], ingestEventsPerSecond: 0, errors: 0 };
    if (lag.errors > 0) {
      log(`  warning: ${lag.errors} ingest requests failed during the lag run`);
    }
    const clickhouseRowsPerSecond = (t.consumerRows / t.consumerMs) * 1_000;
    const clickhouseDirectRowsPerSecond = (t.directRows / t.directMs) * 1_000;
    return {
      deliveries,
      rowsPerDelivery: MESSAGES_PER_DELIVERY * (EVENTS_PER_MESSAGE + RECORDS_PER_MESSAGE),
      clickhouseRowsPerSecond,
      clickhouseSinkRowsPerSecond: (t.consumerRows / t.clickhouseMs) * 1_000,
      clickhouseDirectRowsPerSecond,
      ratioToDirect: clickhouseRowsPerSecond / clickhouseDirectRowsPerSecond,
      postgresRowsPerSecond: (t.records / t.postgresMs) * 1_000,
      postgresBatchesPerSecond: (t.batches / t.postgresMs) * 1_000,
      lagMs: {
        p50: percentile(lag.lags, 50),
        p90: percentile(lag.lags, 90),
        max: lag.lags.at(-1) ?? 0,
        samples: lag.lags.length,
      },
      idleLagMs: {
        p50: percentile(lag.idle, 50),
        max: lag.idle.at(-1) ?? 0,
        samples: lag.idle.length,
      },
      ingestEventsPerSecond: lag.ingestEventsPerSecond,
    };
  } finally {
    if (!options.env) {
      await env.stop();
    }
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      deliveries: { type: "string", default: "8" },
      "lag-seconds": { type: "string", default: "15" },
    },
  });
  const result = await benchSink({
    deliveries: Number(values.deliveries),
    lagSeconds: Number(values["lag-seconds"]),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const n = (x: number) => Math.round(x).toLocaleString("en-US");
  console.log(`deliveries ${result.deliveries} x ${n(result.rowsPerDelivery)} rows`);
  console.log(`clickhouse via consumer   ${n(result.clickhouseRowsPerSecond)} rows/s`);
  console.log(`clickhouse insert inside  ${n(result.clickhouseSinkRowsPerSecond)} rows/s`);
  console.log(`clickhouse direct         ${n(result.clickhouseDirectRowsPerSecond)} rows/s`);
  console.log(`consumer / direct         ${(result.ratioToDirect * 100).toFixed(1)} %`);
  console.log(
    `postgres ledger           ${n(result.postgresRowsPerSecond)} records/s, ${n(result.postgresBatchesPerSecond)} batches/s`,
  );
  console.log(
    `lag with no load          p50 ${n(result.idleLagMs.p50)} ms, max ${n(result.idleLagMs.max)} ms (${result.idleLagMs.samples} probes)`,
  );
  console.log(
    `lag ingest->queryable     p50 ${n(result.lagMs.p50)} ms, p90 ${n(result.lagMs.p90)} ms, max ${n(result.lagMs.max)} ms (${result.lagMs.samples} probes) at ${n(result.ingestEventsPerSecond)} events/s`,
  );
}
