/**
 * Invoice-run benchmark (run: `npx node bench/invoice-run.ts`; `BENCH_ACCOUNTS=1000` for a
 * quicker pass).
 *
 * Runtime: workerd through Miniflare's API with Durable Object state on disk, the whole local
 * stack (Postgres behind the Neon proxy, ClickHouse, QStash), the real queues and consumers.
 * Setup (not timed as the run): 10,000 accounts on the bench plan created at the start of the
 * last closed month, each with 10 events in that month sent through `POST /v1/events`, and the
 * rated-usage pipeline drained into the Postgres ledger. Timed: `POST /v1/admin/invoice-runs`
 * (a full run, as the hourly cron does it) until every account's invoice for the month is
 * finalized — cursor creation, enqueueing, and per account: seal in its meter, pipeline check,
 * lines, taxes, credits, gapless number, commit.
 */
import pg from "pg";
import { type BenchEnvironment, startBenchEnvironment } from "./support/environment.ts";
import { BENCH_METERS, benchAccountId, seedBenchCatalogue } from "./support/seed.ts";

export interface InvoiceRunBenchResult {
  accounts: number;
  /** From the run request to the last invoice finalized. */
  seconds: number;
  invoicesPerSecond: number;
  /** The run request alone: cursors created, jobs enqueued. */
  enqueueSeconds: number;
  /** Setup figures, for context. */
  ingestSeconds: number;
  pipelineSeconds: number;
  events: number;
  /** Σ amount due of the invoices (minor units, USD) and whether numbers are gapless. */
  amountDueMinor: string;
  gaplessNumbers: boolean;
}

const EVENTS_PER_ACCOUNT = 10;
/**
 * Each account in a request is one account-meter call, and a meter that has not loaded its
 * configuration yet opens a Postgres connection: 10 accounts per request and 4 connections keep
 * a cold start within the local Postgres's connection limit.
 */
const ACCOUNTS_PER_REQUEST = 10;
const CONNECTIONS = 4;
const DAY_MS = 86_400_000;

/** The last calendar month (UTC) that has ended: the bench plan bills monthly on the 1st. */
function lastClosedMonth(nowMs: number): { startMs: number; endMs: number } {
  const now = new Date(nowMs);
  const endMs = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  const end = new Date(endMs);
  return { startMs: Date.UTC(end.getUTCFullYear(), end.getUTCMonth() - 1, 1), endMs };
}

async function pool<T>(items: T[], connections: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (next < items.length) {
        const item = items[next] as T;
        next += 1;
        await work(item);
      }
    }),
  );
}

async function waitUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export async function benchInvoiceRun(
  env: BenchEnvironment,
  options: { accounts?: number; log?: (line: string) => void } = {},
): Promise<InvoiceRunBenchResult> {
  const log = options.log ?? (() => {});
  const accounts = options.accounts ?? 10_000;
  const period = lastClosedMonth(Date.now());
  const headers = {
    authorization: `Bearer ${env.adminKey}`,
    "content-type": "application/json",
  };
  const db = new pg.Client({ connectionString: env.stack.info.postgres.appUrl });
  await db.connect();
  try {
    log(`seeding ${accounts} accounts created ${new Date(period.startMs).toISOString()}`);
    await seedBenchCatalogue(env.stack.info.postgres.appUrl, accounts);
    await db.query(
      `update accounts set created_at = $1, tax_rates = '[{"name":"VAT","percent":"20"}]'
        where id like 'bench-%'`,
      [new Date(period.startMs).toISOString()],
    );
    await db.query("update account_plans set effective_from = $1 where account_id like 'bench-%'", [
      new Date(period.startMs).toISOString(),
    ]);

    const events = accounts * EVENTS_PER_ACCOUNT;
    const timeMs = Math.max(period.startMs, period.endMs - 2 * DAY_MS);
    const batches = Array.from({ length: Math.ceil(accounts / ACCOUNTS_PER_REQUEST) }, (_, n) => n);
    log(`sending ${events} events in ${batches.length} requests`);
    const ingestStarted = performance.now();
    await pool(batches, CONNECTIONS, async (n) => {
      const body: unknown[] = [];
      for (
        let a = n * ACCOUNTS_PER_REQUEST;
        a < Math.min(accounts, (n + 1) * ACCOUNTS_PER_REQUEST);
        a += 1
      ) {
        for (let i = 0; i < EVENTS_PER_ACCOUNT; i += 1) {
          body.push({
            id: `inv-${a}-${i}`,
            account: benchAccountId(a),
            meter: i % 5 === 0 ? BENCH_METERS.requests : BENCH_METERS.tokens,
            value: String(500 + 37 * i),
            time: new Date(timeMs + i * 1000).toISOString(),
          });
        }
      }
      // A 503 (a meter could not load its configuration) is retried as a whole: events already
      // counted come back as duplicates.
      let response: Response;
      let summary: { accepted?: number; duplicates?: number };
      for (let attempt = 1; ; attempt += 1) {
        response = await fetch(`${env.url}/v1/events`, {
          method: "POST",
          headers,
          body: JSON.stringify(body),
        });
        summary = (await response.json()) as { accepted?: number; duplicates?: number };
        if (response.status !== 503 || attempt === 5) {
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
      }
      if (
        response.status !== 202 ||
        (summary.accepted ?? 0) + (summary.duplicates ?? 0) !== body.length
      ) {
        throw new Error(`ingest request ${n}: ${response.status} ${JSON.stringify(summary)}`);
      }
    });
    const ingestSeconds = (performance.now() - ingestStarted) / 1000;
    log(`  ${ingestSeconds.toFixed(1)} s; waiting for the ledger`);

    const pipelineStarted = performance.now();
    await waitUntil(
      async () => {
        const { rows } = await db.query<{ n: string }>(
          `select coalesce(sum(event_count), 0)::text as n from usage_rollups
            where period_start = $1 and account_id like 'bench-%'`,
          [new Date(period.startMs).toISOString()],
        );
        return Number(rows[0]?.n) >= events;
      },
      15 * 60_000,
      "the rated-usage pipeline",
    );
    const pipelineSeconds = (performance.now() - pipelineStarted) / 1000;
    log(`  ledger complete after ${pipelineSeconds.toFixed(1)} s; starting the invoice run`);

    const runStarted = performance.now();
    const response = await fetch(`${env.url}/v1/admin/invoice-runs`, {
      method: "POST",
      headers,
      body: JSON.stringify({ at: new Date().toISOString() }),
    });
    const run = (await response.json()) as { enqueued?: number };
    const enqueueSeconds = (performance.now() - runStarted) / 1000;
    if (response.status !== 200) {
      throw new Error(`run: ${response.status} ${JSON.stringify(run)}`);
    }
    log(`  ${run.enqueued} jobs enqueued in ${enqueueSeconds.toFixed(1)} s`);
    let lastReport = 0;
    await waitUntil(
      async () => {
        const { rows } = await db.query<{ n: string }>(
          `select count(*)::text as n from invoices
            where period_start = $1 and status <> 'draft' and account_id like 'bench-%'`,
          [new Date(period.startMs).toISOString()],
        );
        const done = Number(rows[0]?.n);
        if (performance.now() - lastReport > 5_000) {
          lastReport = performance.now();
          log(`  ${done} / ${accounts} finalized`);
        }
        return done >= accounts;
      },
      60 * 60_000,
      "the invoices",
    );
    const seconds = (performance.now() - runStarted) / 1000;
    const { rows: totals } = await db.query<{ due: string }>(
      `select sum(amount_due_minor)::text as due from invoices
        where period_start = $1 and account_id like 'bench-%'`,
      [new Date(period.startMs).toISOString()],
    );
    const { rows: numbering } = await db.query<{ gapless: boolean }>(
      `select (select next_number - 1 from invoice_number_series where series = 'INV') =
              (select count(*) from invoices where number like 'INV-%')
          and (select count(distinct number) from invoices where number like 'INV-%') =
              (select max(substring(number from 5)::bigint) from invoices where number like 'INV-%')
          as gapless`,
    );
    return {
      accounts,
      seconds,
      invoicesPerSecond: accounts / seconds,
      enqueueSeconds,
      ingestSeconds,
      pipelineSeconds,
      events,
      amountDueMinor: totals[0]?.due ?? "0",
      gaplessNumbers: numbering[0]?.gapless ?? false,
    };
  } finally {
    await db.end();
  }
}

if (import.meta.main) {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const env = await startBenchEnvironment(log);
  try {
    const accounts = Number(process.env.BENCH_ACCOUNTS ?? 10_000);
    const result = await benchInvoiceRun(env, { accounts, log });
    console.log(
      `invoice run: ${result.accounts} accounts in ${result.seconds.toFixed(1)} s ` +
        `(${result.invoicesPerSecond.toFixed(1)} invoices/s; enqueue ${result.enqueueSeconds.toFixed(2)} s)`,
    );
    console.log(
      `setup: ${result.events} events ingested in ${result.ingestSeconds.toFixed(1)} s, ` +
        `ledger complete ${result.pipelineSeconds.toFixed(1)} s later`,
    );
    console.log(
      `amount due ${result.amountDueMinor} USD cents; gapless numbers: ${result.gaplessNumbers}`,
    );
  } finally {
    await env.stop();
  }
}
