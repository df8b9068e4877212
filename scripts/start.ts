/**
 * `npm start`: the main job end to end on the local stack. Starts the local cloud and the Worker,
 * creates a catalogue and six accounts, replays a real LLM usage trace over HTTP (or a seeded
 * synthetic compute workload), waits for the pipeline, runs the invoice cycle through the
 * production cron path, collects payment from the Stripe sandbox, and prints a report.
 *
 *   npm start [-- --verify] [--chaos] [--json] [--trace <csv>] [--synthetic] [--exit | --serve]
 *
 * --verify   recompute every invoice from the workload with independent code; exit 1 on mismatch
 * --chaos    resend 10 % of events, lose responses, restart the Worker, stop ClickHouse for a
 *            while, lose one Stripe response after a successful charge
 * --json     the report as one JSON object on the last line of stdout
 * --trace    replay another CSV in the Azure trace format
 * --serve    keep everything running afterwards for the dashboard (default on a terminal)
 * --exit     stop everything once the report is printed (default otherwise)
 */

import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { StripeSandboxControl } from "../local-stack/stripe/sandbox-client.ts";
import { AdminApi } from "./start/api.ts";
import { invoiceDetail, runInvoiceCycle, waitForInvoices, waitForPipeline } from "./start/cycle.ts";
import { DEMO_ACCOUNTS, type DemoAccount } from "./start/demo-catalogue.ts";
import { type DemoEnvironment, preflight, startDemoEnvironment } from "./start/environment.ts";
import { step } from "./start/progress.ts";
import { replay } from "./start/replay.ts";
import { printReport, type Report } from "./start/report.ts";
import { createCatalogue } from "./start/setup.ts";
import { loadSharedTrace, loadTraceFile } from "./start/trace.ts";
import { verify } from "./start/verify.ts";
import {
  replayDay,
  syntheticAccounts,
  syntheticWorkload,
  traceWorkload,
  type Workload,
} from "./start/workload.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const GRACE_MS = 3600 * 1000;

const { values } = parseArgs({
  options: {
    verify: { type: "boolean", default: false },
    chaos: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    trace: { type: "string" },
    synthetic: { type: "boolean", default: false },
    serve: { type: "boolean" },
    exit: { type: "boolean" },
  },
});

const log = (line: string) => process.stderr.write(`${line}\n`);

async function main(): Promise<number> {
  const problems = preflight();
  if (problems.length > 0) {
    log(`meterline start needs:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    return 2;
  }
  const nowMs = Date.now();
  let accounts: DemoAccount[] = DEMO_ACCOUNTS;
  let workload: Workload;
  if (values.trace) {
    workload = traceWorkload(loadTraceFile(values.trace), accounts, nowMs, GRACE_MS);
  } else {
    const shared = values.synthetic ? null : loadSharedTrace(ROOT);
    if (shared) {
      workload = traceWorkload(shared, accounts, nowMs, GRACE_MS);
    } else {
      if (!values.synthetic) {
        log(
          "../shared/data/azure-llm-inference-2023/ is not here: using the synthetic compute workload instead.",
        );
      }
      accounts = [...DEMO_ACCOUNTS, ...syntheticAccounts(18)];
      workload = syntheticWorkload(accounts, nowMs, GRACE_MS);
    }
  }
  log(
    `meterline start — ${workload.description}: ${workload.events.length.toLocaleString("en-US")} events for ${accounts.length} accounts`,
  );

  const adminKey = `ml_admin_demo_${crypto.randomUUID().replaceAll("-", "")}`;
  let env: DemoEnvironment | undefined;
  let interrupted = false;
  process.on("SIGINT", () => {
    interrupted = true;
    log("\nstopping…");
    void (env?.stop() ?? Promise.resolve()).then(() => process.exit(130));
  });
  try {
    env = await step("starting the local cloud and the Worker", () =>
      startDemoEnvironment({
        root: ROOT,
        adminKey,
        log,
        outboxResendSeconds: values.chaos ? 20 : 120,
      }),
    );
    const running = env;
    const api = new AdminApi(running.url, adminKey);
    const periods = Object.fromEntries(
      accounts.map((a) => [a.id, replayDay(a.timeZone, nowMs, GRACE_MS)]),
    );
    const earliestDay = Math.min(...Object.values(periods).map((p) => p.startMs));
    const setup = await step(
      "creating meters, plans, accounts, Stripe customers, taxes and credit",
      () =>
        createCatalogue(api, accounts, running.stack.info.stripe, {
          plansFromMs: earliestDay - 86_400_000,
          accountStartMs: Object.fromEntries(
            Object.entries(periods).map(([id, p]) => [id, p.startMs]),
          ),
          notificationUrl: running.notificationUrl,
        }),
    );
    log("• replaying the workload through the producer client");
    const replayed = await replay(running, workload.events, { chaos: values.chaos, log });
    const pipeline = await step("waiting for the pipeline (meters = Postgres = ClickHouse)", () =>
      waitForPipeline(
        api,
        accounts.map((a) => a.id),
        240_000,
      ),
    );
    const sandbox = new StripeSandboxControl({
      url: running.stack.info.stripe.url,
      secretKey: running.stack.info.stripe.secretKey,
    });
    if (values.chaos) {
      // The first charge succeeds at Stripe and its answer is lost: it must not be charged twice.
      await sandbox.addFault({
        kind: "drop_after_success",
        path: "/v1/payment_intents",
        method: "POST",
        count: 1,
      });
    }
    const cycleStartedMs = Date.now();
    const outcome = await step("running the invoice cycle through the hourly cron handler", () =>
      runInvoiceCycle(running, Date.now()),
    );
    const charged = new Set(
      accounts.filter((a) => a.collectionMethod === "charge_automatically").map((a) => a.id),
    );
    const billed = await step(
      "waiting for invoices and payments (Stripe sandbox, webhooks back)",
      () => waitForInvoices(api, periods, charged, 240_000),
    );
    const details = new Map<string, Awaited<ReturnType<typeof invoiceDetail>>>();
    for (const [account, invoice] of billed.invoices) {
      details.set(account, await invoiceDetail(api, invoice.id));
    }
    const taxes: Record<string, string[]> = {};
    for (const account of accounts) {
      const rates = await api.call<{ taxRates: { percent: string }[] }>(
        "GET",
        `/v1/accounts/${account.id}/tax-rates`,
      );
      taxes[account.id] = rates.taxRates.map((r) => r.percent);
    }
    let verification: Awaited<ReturnType<typeof verify>> | null = null;
    if (values.verify) {
      const finalDrift = await waitForPipeline(
        api,
        accounts.map((a) => a.id),
        60_000,
      );
      verification = await step("verifying independently", () =>
        verify({
          workload,
          accounts,
          taxes,
          invoices: new Map([...details].map(([a, d]) => [a, d.invoice])),
          drift: finalDrift.drift,
          replay: replayed,
          stripe: running.stack.info.stripe,
        }),
      );
    }
    const report: Report = {
      workload,
      accounts,
      replay: replayed,
      pipeline,
      cycle: { outcome, seconds: (Date.now() - cycleStartedMs) / 1000, complete: billed.complete },
      details,
      notifications: running.notifications,
      verification,
      url: running.url,
      adminKey,
      stripeCustomers: setup.stripeCustomers,
    };
    const mismatches = printReport(report, { json: values.json });
    const serve = values.serve ?? (!values.exit && !values.json && process.stdout.isTTY === true);
    if (serve && !interrupted) {
      log(
        `\nStill running for you to look around: dashboard ${running.url}/dashboard (admin key above).`,
      );
      log("Ctrl-C stops everything.");
      await new Promise(() => {});
    }
    await running.stop();
    return mismatches > 0 || !billed.complete || !pipeline.drained ? 1 : 0;
  } catch (error) {
    log(
      `\nmeterline start failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    log(`Logs: ${ROOT}.data/start/stack/logs/`);
    await env?.stop().catch(() => {});
    return 1;
  }
}

process.exit(await main());
