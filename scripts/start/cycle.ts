/**
 * After the replay: wait until the pipeline has delivered everything (the drift check reads the
 * account meters, Postgres and ClickHouse and finds them equal, nothing in flight), run the
 * invoice cycle through the Worker's own cron handler (as production's hourly cron does), and
 * wait for every invoice to be finalized and, for accounts charged automatically, paid through
 * the Stripe sandbox with the webhooks delivered back to the Worker.
 */
import type { AdminApi } from "./api.ts";
import type { DemoEnvironment } from "./environment.ts";
import { ProgressBar } from "./progress.ts";

export interface DriftRow {
  meter: string;
  periodStart: string;
  durableObject: { quantity: string; amount: string; events: number };
  postgres: { quantity: string; amount: string; events: number } | null;
  clickhouse: { quantity: string; amount: string; events: number } | null;
  postgresMatches: boolean | null;
  clickhouseMatches: boolean | null;
}

export interface AccountDrift {
  account: string;
  clean: boolean;
  mismatches: number;
  errors: string[];
  lag: {
    outboxRows: number;
    retryingBatches: number;
    pendingDeadLetters: number;
    oldestOutboxAt: string | null;
  };
  rows: DriftRow[];
}

export interface Invoice {
  id: string;
  accountId: string;
  number: string | null;
  status: string;
  currency: string;
  periodStart: string;
  periodEnd: string;
  collectionMethod: string;
  subtotalMinor: string;
  taxMinor: string;
  totalMinor: string;
  creditsAppliedMinor: string;
  amountDueMinor: string;
  amountPaidMinor: string;
  dueAt: string | null;
  htmlUrl: string;
  lines?: {
    kind: string;
    description: string;
    meter: string | null;
    tier: number | null;
    quantity: string | null;
    unitPrice: string | null;
    amount: string;
    amountMinor: string;
  }[];
}

export interface Attempt {
  status: string;
  amountMinor: string;
  paymentIntentId: string | null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls the drift check until every account is clean; returns the final reports and the wait. */
export async function waitForPipeline(
  api: AdminApi,
  accounts: string[],
  timeoutMs: number,
): Promise<{ drift: AccountDrift[]; seconds: number; drained: boolean }> {
  const startedMs = Date.now();
  const progress = new ProgressBar("pipeline", accounts.length, "accounts in sync");
  let drift: AccountDrift[] = [];
  let reported = 0;
  for (;;) {
    drift = await Promise.all(
      accounts.map(async (account) => {
        const report = await api.call<{ accounts: AccountDrift[] }>(
          "GET",
          `/v1/admin/drift?account=${encodeURIComponent(account)}`,
        );
        return report.accounts[0] as AccountDrift;
      }),
    );
    const clean = drift.filter((d) => d.clean).length;
    if (clean > reported) {
      progress.tick(clean - reported);
      reported = clean;
    }
    if (clean === accounts.length) {
      progress.finish();
      return { drift, seconds: (Date.now() - startedMs) / 1000, drained: true };
    }
    if (Date.now() - startedMs > timeoutMs) {
      progress.finish();
      return { drift, seconds: (Date.now() - startedMs) / 1000, drained: false };
    }
    const inFlight = drift.reduce((n, d) => n + d.lag.outboxRows + d.lag.retryingBatches, 0);
    progress.note(`${inFlight} batches in flight`);
    await sleep(1_000);
  }
}

/** Fires the hourly cron (billing run + payments tick) through the Worker's scheduled handler. */
export async function runInvoiceCycle(env: DemoEnvironment, atMs: number): Promise<string> {
  const result = await env.worker.triggerCron("0 * * * *", atMs);
  return result.outcome;
}

/**
 * Waits until every account has a finalized invoice for its replayed period and, where it is
 * charged automatically with something due, until that invoice is paid.
 */
export async function waitForInvoices(
  api: AdminApi,
  periods: Record<string, { startMs: number }>,
  chargedAccounts: Set<string>,
  timeoutMs: number,
): Promise<{ invoices: Map<string, Invoice>; seconds: number; complete: boolean }> {
  const startedMs = Date.now();
  const accounts = Object.keys(periods);
  const progress = new ProgressBar("invoices", accounts.length * 2, "steps");
  const invoices = new Map<string, Invoice>();
  let done = 0;
  for (;;) {
    let ready = 0;
    for (const account of accounts) {
      const page = await api.call<{ invoices: Invoice[] }>(
        "GET",
        `/v1/invoices?account=${encodeURIComponent(account)}&limit=100`,
      );
      const start = periods[account]?.startMs;
      const invoice = page.invoices.find((i) => Date.parse(i.periodStart) === start);
      if (!invoice || invoice.status === "draft") {
        continue;
      }
      invoices.set(account, invoice);
      ready += 1;
      const mustBePaid = chargedAccounts.has(account) && BigInt(invoice.amountDueMinor) > 0n;
      if (!mustBePaid || invoice.status === "paid") {
        ready += 1;
      }
    }
    if (ready > done) {
      progress.tick(ready - done);
      done = ready;
    }
    if (ready === accounts.length * 2) {
      progress.finish();
      return { invoices, seconds: (Date.now() - startedMs) / 1000, complete: true };
    }
    if (Date.now() - startedMs > timeoutMs) {
      progress.finish();
      return { invoices, seconds: (Date.now() - startedMs) / 1000, complete: false };
    }
    await sleep(1_000);
  }
}

/** The invoice with its lines, and its payment attempts. */
export async function invoiceDetail(
  api: AdminApi,
  id: string,
): Promise<{ invoice: Invoice; attempts: Attempt[] }> {
  const invoice = await api.call<Invoice>("GET", `/v1/invoices/${id}`);
  const payments = await api.call<{ attempts: Attempt[] }>("GET", `/v1/invoices/${id}/payments`);
  return { invoice, attempts: payments.attempts };
}
