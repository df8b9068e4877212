import type { Database } from "../adapters/postgres.ts";
import { loadAccountConfig } from "../catalogue/account-config.ts";
import type { Clock } from "../clock/clock.ts";
import type { IdGenerator } from "../ids/ids.ts";
import { finalizeInvoice } from "../invoicing/finalize.ts";
import { ensureDraftInvoice, type Invoice, readInvoiceForPeriod } from "../invoicing/invoices.ts";
import type { Logger } from "../log/logger.ts";
import type { PeriodTotals } from "../metering/periods.ts";
import { overlapMs, type Period } from "../periods/period.ts";
import { advanceCursor, type BillingAccount, calendarOf, loadBillingAccount } from "./account.ts";
import { type CreditSnapshot, loadCreditSnapshot } from "./credits.ts";
import type { InvoiceJobMessage, PaymentCollectMessage } from "./job-message.ts";
import { buildInvoiceLines } from "./lines.ts";
import { type PipelineGap, pipelineGaps, readPeriodUsage } from "./pipeline-check.ts";

/** The account meter's part in closing a period (its RPC stub fits). */
export interface BillingMeter {
  seal(accountId: string, periodStartMs: number, periodEndMs: number): Promise<PeriodTotals>;
  syncCredits(accountId: string, snapshot: CreditSnapshot): Promise<void>;
}

export interface CloseDeps {
  db: Database;
  meter(accountId: string): BillingMeter;
  /** The WORK queue, for `payment.collect`. */
  work: { send(body: PaymentCollectMessage): Promise<void> };
  /** The invoice-jobs queue, to close the next period when it is already due too. */
  jobs: { send(body: InvoiceJobMessage): Promise<void> };
  clock: Clock;
  ids: IdGenerator;
  log: Logger;
}

/** What one job decided. `retry` asks the queue to redeliver it after `delaySeconds`. */
export type CloseOutcome =
  | {
      action: "ack";
      result:
        | "finalized"
        | "already_closed"
        | "skipped_no_plan"
        | "not_ended"
        | "not_next"
        | "unknown_account";
      detail: string;
      invoiceId?: string;
    }
  | { action: "retry"; reason: "pipeline_lag"; detail: string; gaps: PipelineGap[] }
  | { action: "drop"; detail: string };

/** Redelivery delay while the pipeline catches up: 30 s doubling per attempt, at most 10 min. */
export function pipelineRetryDelaySeconds(attempts: number): number {
  return Math.min(30 * 2 ** Math.max(0, attempts - 1), 600);
}

/**
 * What must follow a closed period, every time a job sees it closed (all idempotent, so a job
 * that crashed after the commit does them on its retry): payment collection for an open invoice
 * charged automatically, the account meter's prepaid projection, and the next period's job when
 * that period is due as of the run too (catching up after an outage).
 */
async function followUps(
  deps: CloseDeps,
  job: InvoiceJobMessage,
  account: BillingAccount,
  invoice: Pick<Invoice, "id" | "status" | "amountDueMinor" | "collectionMethod"> | null,
  next: Period,
): Promise<void> {
  if (
    invoice?.status === "open" &&
    invoice.collectionMethod === "charge_automatically" &&
    invoice.amountDueMinor > 0n
  ) {
    await deps.work.send({ v: 1, kind: "payment.collect", invoiceId: invoice.id });
  }
  try {
    // An account that never had credit has no projection in its meter to update.
    const snapshot = account.hasCredit ? await loadCreditSnapshot(deps.db, account.id) : null;
    if (snapshot) {
      await deps.meter(account.id).syncCredits(account.id, snapshot);
    }
  } catch (error) {
    // The projection is advisory; the next push (grant change or invoice) brings it up to date.
    deps.log.warn("could not push credits to the account meter", { accountId: account.id, error });
  }
  if (next.endMs <= job.dueByMs) {
    await deps.jobs.send({
      v: 1,
      kind: "invoice.close_period",
      accountId: account.id,
      periodStartMs: next.startMs,
      periodEndMs: next.endMs,
      runId: job.runId,
      dueByMs: job.dueByMs,
    });
  }
}

/**
 * Closes one account's billing period (the invoice job). Steps, each safe to repeat:
 * 1. claim the (account, period) invoice as a draft (unique constraint: one invoice per period);
 * 2. seal the period in the account meter, which refuses later events for it and returns its
 *    final totals;
 * 3. compare them with the ledger's rollups; while they differ the pipeline has not delivered the
 *    whole period and the job asks to be retried later — an invoice is never built from partial
 *    data;
 * 4. build the lines from the ledger with the authoritative plan versions, then finalize in one
 *    transaction (credits, taxes, gapless number, cursor);
 * 5. follow-ups: payment collection, credit projection, the next period if already due.
 * Accounts with no plan version in the period are skipped (no invoice) and their cursor moves on.
 */
export async function closeInvoicePeriod(
  deps: CloseDeps,
  job: InvoiceJobMessage,
  attempts: number,
): Promise<CloseOutcome> {
  const { db, ids, log } = deps;
  const nowMs = deps.clock.nowMs();
  // Independent reads at once: the job's latency is mostly database round trips.
  const [account, current, config] = await Promise.all([
    loadBillingAccount(db, job.accountId),
    readInvoiceForPeriod(db, job.accountId, job.periodStartMs),
    loadAccountConfig(db, job.accountId),
  ]);
  if (!account) {
    return { action: "ack", result: "unknown_account", detail: `no account ${job.accountId}` };
  }
  const calendar = calendarOf(account);
  const period = calendar.containing(job.periodStartMs);
  if (period.startMs !== job.periodStartMs || period.endMs !== job.periodEndMs) {
    return { action: "drop", detail: "the period is not one of the account's billing periods" };
  }
  if (period.endMs > nowMs) {
    return { action: "ack", result: "not_ended", detail: "the period has not ended yet" };
  }
  const next = calendar.next(period);
  const cursor = account.nextPeriod;
  if (cursor === null || cursor.startMs < period.startMs) {
    return {
      action: "ack",
      result: "not_next",
      detail: "an earlier period is still open; the run enqueues periods in order",
    };
  }
  if (cursor.startMs > period.startMs || (current && current.status !== "draft")) {
    if (current?.status === "void" && cursor.startMs === period.startMs) {
      await db.transaction((tx) => advanceCursor(tx, account.id, period, next, nowMs));
    }
    await followUps(deps, job, account, current, next);
    return {
      action: "ack",
      result: "already_closed",
      detail: current ? `invoice ${current.id} is ${current.status}` : "closed without invoice",
      ...(current ? { invoiceId: current.id } : {}),
    };
  }

  const windows = (config?.pricing ?? []).filter(
    (w) => overlapMs(period, w.fromMs, w.toMs ?? Number.POSITIVE_INFINITY) > 0,
  );
  if (!config || (windows.length === 0 && !current)) {
    await deps.meter(account.id).seal(account.id, period.startMs, period.endMs);
    await db.transaction((tx) => advanceCursor(tx, account.id, period, next, nowMs));
    await followUps(deps, job, account, null, next);
    return {
      action: "ack",
      result: "skipped_no_plan",
      detail: "no plan version priced the period",
    };
  }

  const draft =
    current ??
    (await ensureDraftInvoice(db, ids, {
      accountId: account.id,
      currency: account.currency,
      collectionMethod: account.collectionMethod,
      period,
      runId: job.runId,
      nowMs,
    }));
  const sealed = await deps.meter(account.id).seal(account.id, period.startMs, period.endMs);
  const usage = await readPeriodUsage(db, account.id, period.startMs);
  const gaps = pipelineGaps(sealed.totals, usage);
  if (gaps.length > 0) {
    return {
      action: "retry",
      reason: "pipeline_lag",
      detail: `${gaps.length} meter/segment totals not in the ledger yet (attempt ${attempts})`,
      gaps,
    };
  }

  const built = buildInvoiceLines({
    period,
    currency: account.currency,
    windows: config.pricing,
    meters: config.meters,
    usage,
  });
  if (built.unpriced.length > 0) {
    log.info("usage without a price left off the invoice", {
      accountId: account.id,
      unpriced: built.unpriced.map((u) => `${u.meter}/${u.segment}`),
    });
  }
  const outcome = await finalizeInvoice(db, ids, {
    invoiceId: draft.id,
    account,
    period,
    nextPeriod: next,
    lines: built.lines,
    drifts: built.drifts,
    runId: job.runId,
    nowMs,
  });
  if (!outcome.finalized) {
    await followUps(
      deps,
      job,
      account,
      await readInvoiceForPeriod(db, account.id, period.startMs),
      next,
    );
    return {
      action: "ack",
      result: "already_closed",
      detail: `invoice ${draft.id} is ${outcome.status}`,
      invoiceId: draft.id,
    };
  }
  await followUps(
    deps,
    job,
    account,
    {
      id: draft.id,
      status: outcome.status,
      amountDueMinor: outcome.amountDueMinor,
      collectionMethod: account.collectionMethod,
    },
    next,
  );
  return {
    action: "ack",
    result: "finalized",
    detail: `${outcome.number}: ${outcome.status}, ${outcome.amountDueMinor} due`,
    invoiceId: draft.id,
  };
}
