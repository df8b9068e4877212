import { openDatabase } from "../lib/adapters/postgres.ts";
import { runBillingHour } from "../lib/billing/billing-hour.ts";
import { qstashPublisher } from "../lib/billing/notify.ts";
import { systemClock } from "../lib/clock/clock.ts";
import { configFor } from "../lib/env/config.ts";
import { createIdGenerator } from "../lib/ids/ids.ts";
import { createLogger, isLogLevel, type Logger } from "../lib/log/logger.ts";
import { dailyWindow, reconcilePayments } from "../lib/payments/reconcile.ts";
import { runPaymentsTick } from "../lib/payments/tick.ts";
import { runDriftCheck } from "../lib/pipeline/drift-run.ts";
import { runDeps } from "./routes/billing/support.ts";
import { driftDeps } from "./routes/drift.ts";
import { paymentDepsForEnv } from "./routes/payments.ts";

/** A scheduled job: runs for one cron firing. Throwing marks the invocation failed. */
type ScheduledJob = (env: Env, ctx: ExecutionContext, log: Logger) => Promise<void>;

/** The pipeline drift check: meter vs ledger vs analytics for recently active accounts. */
async function driftCheck(env: Env, ctx: ExecutionContext, log: Logger): Promise<void> {
  const config = configFor(env);
  const db = openDatabase(config.database, { max: 2 });
  try {
    await runDriftCheck(driftDeps(env, config, db, systemClock, log));
  } finally {
    ctx.waitUntil(db.end());
  }
}

/** Payment dependencies for a cron run (lib/payments); close them with `ctx.waitUntil`. */
function cronPaymentDeps(env: Env, log: Logger) {
  return paymentDepsForEnv(env, {
    clock: systemClock,
    ids: createIdGenerator(systemClock.nowMs),
    log,
  });
}

/** Daily Stripe reconciliation of yesterday (UTC), with an hour of overlap before it. */
async function reconcileStripe(env: Env, ctx: ExecutionContext, log: Logger): Promise<void> {
  const deps = cronPaymentDeps(env, log);
  try {
    const report = await reconcilePayments(deps, {
      ...dailyWindow(systemClock.nowMs()),
      trigger: "cron",
    });
    const summary = {
      runId: report.id,
      mismatches: report.mismatches.length,
      repairs: report.repairs.length,
    };
    if (report.mismatches.length > 0) {
      log.error("reconciliation found mismatches", summary);
    } else {
      log.info("reconciliation clean", summary);
    }
  } finally {
    ctx.waitUntil(deps.close());
  }
}

/** Payments tick: due dunning retries, stuck attempts and events, pending notifications. */
async function paymentsTick(env: Env, ctx: ExecutionContext, log: Logger): Promise<void> {
  const deps = cronPaymentDeps(env, log);
  try {
    const report = await runPaymentsTick(deps, { inline: false });
    log.info("payments tick", {
      retries: report.retries.length,
      resumed: report.resumed.length,
      events: report.events.length,
      notified: report.notified,
    });
  } finally {
    ctx.waitUntil(deps.close());
  }
}

/**
 * Billing, hourly: the invoice run for periods that ended before now minus the grace, and the
 * overdue scan (lib/billing/billing-hour.ts).
 */
async function billingHour(env: Env, ctx: ExecutionContext, log: Logger): Promise<void> {
  const config = configFor(env);
  const db = openDatabase(config.database, { max: 2 });
  try {
    await runBillingHour(
      { ...runDeps(env, db, systemClock, log), db, publisher: qstashPublisher(config.qstash) },
      { trigger: "cron", asOfMs: systemClock.nowMs(), graceSeconds: config.invoiceGraceSeconds },
    );
  } finally {
    ctx.waitUntil(db.end());
  }
}

/** Runs independent jobs of one cron firing side by side; fails if any failed, after all ran. */
function allOf(...jobs: ScheduledJob[]): ScheduledJob {
  return async (env, ctx, log) => {
    const results = await Promise.allSettled(jobs.map((job) => job(env, ctx, log)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) {
      throw failed.reason;
    }
  };
}

/** Jobs by cron expression, exactly as declared in wrangler.toml `[triggers] crons`. */
const JOBS: Record<string, ScheduledJob> = {
  "0 * * * *": allOf(billingHour, paymentsTick),
  "15 3 * * *": reconcileStripe,
  "*/5 * * * *": driftCheck,
};

/** The Worker's `scheduled` handler: dispatches each cron firing to its job. */
export async function scheduled(
  controller: ScheduledController,
  env: Env,
  ctx: ExecutionContext,
): Promise<void> {
  const level = isLogLevel(env.LOG_LEVEL) ? env.LOG_LEVEL : "info";
  const log = createLogger({ level, bindings: { component: "scheduled", cron: controller.cron } });
  const job = JOBS[controller.cron];
  if (!job) {
    log.warn("no job for this cron; check wrangler.toml against functions/scheduled.ts");
    return;
  }
  const startedMs = systemClock.nowMs();
  try {
    await job(env, ctx, log);
  } catch (error) {
    log.error("scheduled job failed", { error, durationMs: systemClock.nowMs() - startedMs });
    throw error;
  }
}
