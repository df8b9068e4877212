/**
 * `npm run bench [-- --only ingest,sink] [--quick] [--json]`: runs the benchmarks in bench/,
 * every figure measured in this run, and prints one table (progress goes to stderr). `--json`
 * adds the figures as one JSON object on the last line of stdout; `--quick` shortens every load
 * phase and invoices 1,000 accounts instead of 10,000 (`BENCH_ACCOUNTS` overrides either).
 *
 * Order and environments:
 *   rating       first, in pure Node, while nothing else runs on the machine;
 *   ingest, sink, fraud
 *                share one benchmark environment (local stack + the Worker in workerd through
 *                Miniflare's API, Durable Objects on disk); before each of them the rated-usage
 *                pipeline is left to drain, so one benchmark's backlog does not load the next;
 *   invoice run  last, in a fresh environment: it moves every `bench-` account's creation date
 *                and plan start into last month, which account meters warmed by the other
 *                benchmarks would still hold as loaded, and it counts the invoices of them all.
 * Ctrl-C (or SIGTERM) stops the environment (every process group, the scratch folder) first.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { benchFraud } from "./fraud.ts";
import { benchIngest } from "./ingest.ts";
import { benchInvoiceRun } from "./invoice-run.ts";
import { waitForQuietPipeline } from "./quiet-pipeline.ts";
import { benchRating } from "./rating.ts";
import { benchSink } from "./sink.ts";
import {
  type Row,
  RUNTIMES,
  renderTable,
  type Summary,
  summariseFraud,
  summariseIngest,
  summariseInvoiceRun,
  summariseRating,
  summariseSink,
} from "./summaries.ts";
import { type BenchEnvironment, startBenchEnvironment } from "./support/environment.ts";

const BENCHMARKS = ["rating", "ingest", "sink", "fraud", "invoice_run"] as const;
type BenchmarkName = (typeof BENCHMARKS)[number];
/** Benchmarks that share one environment, in this order. */
const SHARED: BenchmarkName[] = ["ingest", "sink", "fraud"];

const { values } = parseArgs({
  options: {
    only: { type: "string" },
    quick: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}
const indented = (line: string) => log(`    ${line}`);

function selection(): BenchmarkName[] {
  if (!values.only) {
    return [...BENCHMARKS];
  }
  const wanted = values.only.split(",").map((name) => name.trim().replaceAll("-", "_"));
  const unknown = wanted.filter((name) => !(BENCHMARKS as readonly string[]).includes(name));
  if (unknown.length > 0) {
    log(`unknown benchmark ${unknown.join(", ")}; choose from ${BENCHMARKS.join(", ")}`);
    process.exit(2);
  }
  return BENCHMARKS.filter((name) => wanted.includes(name));
}

const quick = values.quick;
const invoiceAccounts = Number(process.env.BENCH_ACCOUNTS ?? (quick ? 1_000 : 10_000));

// ---- the environment, and stopping it on a signal ----

let current: BenchEnvironment | null = null;
let starting: Promise<BenchEnvironment> | null = null;
const stopping = new Map<BenchEnvironment, Promise<void>>();
let interrupted = false;
/**
 * Every environment's scratch folder goes inside this one (startBenchEnvironment reads
 * BENCH_DATA_DIR), so one left behind by an interrupted start is removed too.
 */
let scratch: string | null = null;

function makeScratch(): void {
  scratch = mkdtempSync(join(process.env.BENCH_DATA_DIR ?? tmpdir(), "meterline-bench-run-"));
  process.env.BENCH_DATA_DIR = scratch;
}

/** Removes the scratch folder, unless (`keepLogs`) a failed start left its logs there. */
function removeScratch(keepLogs: boolean): void {
  if (!scratch) {
    return;
  }
  if (keepLogs && readdirSync(scratch).length > 0) {
    log(`logs of a failed environment start are in ${scratch}`);
    return;
  }
  try {
    rmSync(scratch, { recursive: true, force: true });
  } catch (error) {
    log(`could not remove ${scratch}: ${String(error)}`);
  }
}

/** Stops `env` once, however many callers ask (the main flow and a signal may race). */
function stopEnvironment(env: BenchEnvironment): Promise<void> {
  let done = stopping.get(env);
  if (!done) {
    done = env.stop().catch((error: unknown) => log(`stopping the environment: ${String(error)}`));
    stopping.set(env, done);
  }
  return done;
}

function onSignal(signal: NodeJS.Signals): void {
  if (interrupted) {
    log("second signal: exiting now (stack services stop on their own when we are gone)");
    process.exit(130);
  }
  interrupted = true;
  log(`\n${signal}: stopping the benchmark environment…`);
  void (async () => {
    const env = current ?? (await starting?.catch(() => null)) ?? null;
    if (env) {
      await stopEnvironment(env);
    }
    // Including one the main flow was already stopping.
    await Promise.all(stopping.values());
    removeScratch(false);
    process.exit(signal === "SIGINT" ? 130 : 143);
  })();
}

const SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * Ours are the only signal handlers: Miniflare installs some that exit the process at once,
 * before the stack and the scratch folder can be cleaned up, so each is removed as it is added.
 * (Its exit hook stays, and still kills workerd if we exit without disposing it.)
 */
function takeOverSignals(): void {
  for (const signal of SIGNALS) {
    process.on(signal, onSignal);
  }
  process.on("newListener", (event: string | symbol, listener: (...args: unknown[]) => void) => {
    if ((SIGNALS as (string | symbol)[]).includes(event) && listener !== onSignal) {
      queueMicrotask(() => process.off(event, listener));
    }
  });
}

async function startEnvironment(): Promise<BenchEnvironment> {
  if (interrupted) {
    throw new Error("interrupted");
  }
  log("  starting a benchmark environment (local stack, migrations, Worker bundle)");
  const startedMs = performance.now();
  starting = startBenchEnvironment(indented);
  const env = await starting;
  current = env;
  starting = null;
  if (interrupted) {
    throw new Error("interrupted");
  }
  log(`  environment up in ${seconds(startedMs).toFixed(1)} s at ${env.url}`);
  return env;
}

async function closeEnvironment(): Promise<void> {
  if (current) {
    const env = current;
    current = null;
    await stopEnvironment(env);
  }
}

function seconds(sinceMs: number): number {
  return (performance.now() - sinceMs) / 1000;
}

// ---- the benchmarks ----

async function runBenchmark(name: BenchmarkName, env: BenchEnvironment | null): Promise<Summary> {
  switch (name) {
    case "rating":
      return summariseRating(await benchRating(quick ? { operations: 100_000, batches: 500 } : {}));
    case "ingest":
      return summariseIngest(
        await benchIngest(need(env), { log: indented, ...(quick ? { durationMs: 5_000 } : {}) }),
      );
    case "sink":
      return summariseSink(
        await benchSink({
          env: need(env),
          log: indented,
          ...(quick ? { deliveries: 3, lagSeconds: 5 } : {}),
        }),
      );
    case "fraud":
      return summariseFraud(
        await benchFraud(need(env), { log: indented, ...(quick ? { durationMs: 3_000 } : {}) }),
      );
    case "invoice_run":
      return summariseInvoiceRun(
        await benchInvoiceRun(need(env), { accounts: invoiceAccounts, log: indented }),
      );
  }
}

function need(env: BenchEnvironment | null): BenchEnvironment {
  if (!env) {
    throw new Error("this benchmark needs the benchmark environment");
  }
  return env;
}

const RUNTIME_OF: Record<BenchmarkName, string> = {
  rating: "pure Node",
  ingest: "Miniflare API, Durable Objects on disk",
  sink: "Node against the local stack, then Miniflare API with Durable Objects on disk",
  fraud: "Miniflare API, Durable Objects on disk",
  invoice_run: "Miniflare API, Durable Objects on disk, fresh environment",
};

interface Section {
  name: string;
  seconds: number;
  rows: Row[];
}

async function main(): Promise<number> {
  if (values.help) {
    log("usage: npm run bench [-- --only rating,ingest,sink,fraud,invoice_run] [--quick] [--json]");
    return 0;
  }
  takeOverSignals();
  const selected = selection();
  makeScratch();
  const runStartedMs = performance.now();
  const loadBefore = loadavg()[0] ?? 0;
  const sections: Section[] = [];
  const figures: Record<string, unknown> = {};
  const drainSeconds: Record<string, number> = {};
  const failed: string[] = [];

  for (const [i, name] of selected.entries()) {
    if (interrupted) {
      break;
    }
    log(`[${i + 1}/${selected.length}] ${name}: ${RUNTIME_OF[name]}`);
    const startedMs = performance.now();
    try {
      let env: BenchEnvironment | null = null;
      if (name === "invoice_run") {
        await closeEnvironment();
        env = await startEnvironment();
      } else if (SHARED.includes(name)) {
        if (current) {
          drainSeconds[name] = await waitForQuietPipeline(current, log);
          log(`  pipeline quiet (last change ${drainSeconds[name]?.toFixed(1)} s after asking)`);
        }
        env = current ?? (await startEnvironment());
      }
      const benchStartedMs = performance.now();
      const summary = await runBenchmark(name, env);
      const took = seconds(benchStartedMs);
      sections.push({ name, seconds: took, rows: summary.rows });
      figures[name] = { ...summary.figures, wall_seconds: Math.round(took * 10) / 10 };
      log(`[${i + 1}/${selected.length}] ${name}: done in ${took.toFixed(1)} s`);
    } catch (error) {
      if (interrupted) {
        break;
      }
      // One failure does not cost the other figures; the environment may be broken, so the
      // next benchmark that needs one starts afresh.
      log(`[${i + 1}/${selected.length}] ${name} FAILED after ${seconds(startedMs).toFixed(1)} s:`);
      log(`  ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      failed.push(name);
      figures[name] = { error: error instanceof Error ? error.message : String(error) };
      await closeEnvironment();
    }
    if (i === selected.length - 1) {
      await closeEnvironment();
    }
  }
  if (interrupted) {
    // The signal handler is stopping everything and exits the process when done.
    await new Promise(() => {});
  }
  removeScratch(true);

  const totalSeconds = seconds(runStartedMs);
  const loadAfter = loadavg()[0] ?? 0;
  const out = (line = "") => process.stdout.write(`${line}\n`);
  out(
    `meterline benchmarks${quick ? " (--quick)" : ""}: Node ${process.versions.node}, ` +
      `${availableParallelism()} cores, load average ${loadBefore.toFixed(2)} before, ` +
      `${loadAfter.toFixed(2)} after`,
  );
  out();
  out(renderTable(sections));
  out();
  for (const [key, text] of Object.entries(RUNTIMES)) {
    out(`${key.padEnd(10)} ${text}`);
  }
  for (const [name, drained] of Object.entries(drainSeconds)) {
    out(`before ${name}: the previous load's pipeline backlog drained in ${drained.toFixed(1)} s`);
  }
  if (failed.length > 0) {
    out(`FAILED: ${failed.join(", ")} (see stderr)`);
  }
  out(`total wall time ${totalSeconds.toFixed(1)} s`);
  if (values.json) {
    out(
      JSON.stringify({
        ...figures,
        meta: {
          quick,
          benchmarks: selected,
          failed,
          total_seconds: Math.round(totalSeconds * 10) / 10,
          drain_seconds: Object.fromEntries(
            Object.entries(drainSeconds).map(([name, s]) => [name, Math.round(s * 10) / 10]),
          ),
          node: process.versions.node,
          cores: availableParallelism(),
          load_average_before: loadBefore,
          load_average_after: loadAfter,
        },
      }),
    );
  }
  return failed.length > 0 ? 1 : 0;
}

const code = await main().catch(async (error: unknown) => {
  log(`npm run bench failed: ${error instanceof Error ? (error.stack ?? error.message) : error}`);
  await closeEnvironment();
  removeScratch(true);
  return 1;
});
if (!interrupted) {
  process.exit(code);
}
