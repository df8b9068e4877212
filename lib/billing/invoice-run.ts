import type { Queryable } from "../adapters/postgres.ts";
import type { Clock } from "../clock/clock.ts";
import type { IdGenerator } from "../ids/ids.ts";
import type { Logger } from "../log/logger.ts";
import type { IntervalSpec } from "../periods/interval-spec.ts";
import { PeriodCalendar } from "../periods/period-calendar.ts";
import type { InvoiceJobMessage } from "./job-message.ts";

/** Who started a run. */
export type RunTrigger = "cron" | "schedule" | "admin";

/** Accounts read per query, and queue messages per `sendBatch` (the queue takes 100). */
const PAGE_SIZE = 1_000;
const SEND_BATCH = 100;
/**
 * A run skips accounts it (or another run) enqueued less than this long ago: their job is in
 * the queue or retrying, so a cron firing twice or overlapping runs add no duplicate work. After
 * it, a run enqueues again: a job that was lost or dead-lettered is replaced within the hour.
 */
export const REENQUEUE_AFTER_MS = 30 * 60_000;

export interface RunDeps {
  db: Queryable;
  /** The invoice-jobs queue. */
  jobs: { sendBatch(bodies: InvoiceJobMessage[]): Promise<void> };
  clock: Clock;
  ids: IdGenerator;
  log: Logger;
}

export interface RunRequest {
  trigger: RunTrigger;
  /** Periods that ended at least `graceSeconds` before this instant are closed. */
  asOfMs: number;
  graceSeconds: number;
  /** Restrict the run to these accounts (admin re-runs, tests); all accounts when absent. */
  accountIds?: readonly string[];
}

export interface RunResult {
  runId: string;
  asOfMs: number;
  /** Accounts seen by invoicing for the first time (cursor created). */
  initialized: number;
  /** Jobs enqueued: one per account whose next period is due. */
  enqueued: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * How far before its creation an account's billing may start: an account onboarded with a plan
 * that took effect earlier (a customer moving from another system) is billed from that plan's
 * start, within the late-arrival window, since older usage cannot be sent anyway.
 */
export const BACKDATED_START_LIMIT_DAYS = 35;

/**
 * Creates the invoicing cursor of accounts that have none: the period containing the account's
 * billing start — its creation, or its first plan's start when that is earlier but within
 * BACKDATED_START_LIMIT_DAYS. Usage stamped before the start is not invoiced.
 */
async function initializeCursors(deps: RunDeps, request: RunRequest): Promise<number> {
  let created = 0;
  for (;;) {
    const { rows } = await deps.db.query<{
      id: string;
      time_zone: string;
      billing_interval: IntervalSpec;
      billing_from: Date;
    }>(
      `select a.id, a.time_zone, a.billing_interval,
              case when fp.first_from < a.created_at
                        and fp.first_from >= a.created_at - make_interval(days => $3)
                   then fp.first_from else a.created_at end as billing_from
         from accounts a
         left join account_billing b on b.account_id = a.id
         left join lateral (
           select min(effective_from) as first_from from account_plans p where p.account_id = a.id
         ) fp on true
        where b.account_id is null and ($1::text[] is null or a.id = any($1))
        order by a.id limit $2`,
      [request.accountIds ?? null, PAGE_SIZE, BACKDATED_START_LIMIT_DAYS],
    );
    if (rows.length === 0) {
      return created;
    }
    const periods = rows.map((row) =>
      new PeriodCalendar(row.billing_interval, row.time_zone).containing(
        row.billing_from.getTime(),
      ),
    );
    const inserted = await deps.db.query(
      `insert into account_billing (account_id, next_period_start, next_period_end, updated_at)
       select u.id, u.start_at, u.end_at, $4::timestamptz
         from unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) as u(id, start_at, end_at)
       on conflict (account_id) do nothing`,
      [
        rows.map((r) => r.id),
        periods.map((p) => iso(p.startMs)),
        periods.map((p) => iso(p.endMs)),
        iso(deps.clock.nowMs()),
      ],
    );
    created += inserted.rowCount;
    if (rows.length < PAGE_SIZE) {
      return created;
    }
  }
}

/**
 * One invoice run: finds every account whose next billing period ended at least the grace period
 * before `asOfMs`, and enqueues one `invoice.close_period` job per account (its oldest open
 * period; the job enqueues the next one when catching up). Recorded in `invoice_runs`.
 *
 * Safe to run any number of times, concurrently too: enqueueing is rate-limited per account
 * (REENQUEUE_AFTER_MS) and the jobs are idempotent (one invoice per account and period by a
 * unique constraint, gapless numbers from a locked series), so a repeated run costs nothing and
 * invoices nothing twice. Throws the database or queue error; a partial run is completed by the
 * next one.
 */
export async function runInvoiceRun(deps: RunDeps, request: RunRequest): Promise<RunResult> {
  const nowMs = deps.clock.nowMs();
  const runId = deps.ids.next("invoiceRun");
  await deps.db.query(
    `insert into invoice_runs (id, trigger, as_of, grace_seconds, started_at)
     values ($1, $2, $3, $4, $5)`,
    [runId, request.trigger, iso(request.asOfMs), request.graceSeconds, iso(nowMs)],
  );
  const initialized = await initializeCursors(deps, request);
  const dueByMs = request.asOfMs - request.graceSeconds * 1000;
  const dueBy = iso(dueByMs);
  const quietSince = iso(nowMs - REENQUEUE_AFTER_MS);
  let enqueued = 0;
  let after = "";
  for (;;) {
    // Claiming (stamping last_enqueued_at) and reading in one statement, skipping rows another
    // run holds, keeps overlapping runs from enqueueing the same account twice.
    const claimed = await deps.db.query<{
      account_id: string;
      next_period_start: Date;
      next_period_end: Date;
    }>(
      `update account_billing set last_enqueued_at = $5, last_run_id = $6
        where account_id in (
          select account_id from account_billing
           where next_period_end <= $1 and account_id > $2
             and (last_enqueued_at is null or last_enqueued_at <= $3)
             and ($4::text[] is null or account_id = any($4))
           order by account_id limit $7
           for update skip locked)
        returning account_id, next_period_start, next_period_end`,
      [dueBy, after, quietSince, request.accountIds ?? null, iso(nowMs), runId, PAGE_SIZE],
    );
    const rows = claimed.rows.sort((a, b) => (a.account_id < b.account_id ? -1 : 1));
    if (rows.length === 0) {
      break;
    }
    const messages: InvoiceJobMessage[] = rows.map((row) => ({
      v: 1,
      kind: "invoice.close_period",
      accountId: row.account_id,
      periodStartMs: row.next_period_start.getTime(),
      periodEndMs: row.next_period_end.getTime(),
      runId,
      dueByMs,
    }));
    try {
      for (let i = 0; i < messages.length; i += SEND_BATCH) {
        await deps.jobs.sendBatch(messages.slice(i, i + SEND_BATCH));
      }
    } catch (error) {
      // Unclaim, so the next run does not wait REENQUEUE_AFTER_MS for accounts never enqueued.
      await deps.db.query(
        "update account_billing set last_enqueued_at = null where last_run_id = $1",
        [runId],
      );
      throw error;
    }
    enqueued += rows.length;
    after = rows[rows.length - 1]?.account_id ?? after;
    if (rows.length < PAGE_SIZE) {
      break;
    }
  }
  await deps.db.query(
    `update invoice_runs set accounts_initialized = $2, jobs_enqueued = $3, finished_at = $4
      where id = $1`,
    [runId, initialized, enqueued, iso(deps.clock.nowMs())],
  );
  deps.log.info("invoice run", {
    runId,
    trigger: request.trigger,
    asOf: iso(request.asOfMs),
    initialized,
    enqueued,
    durationMs: deps.clock.nowMs() - nowMs,
  });
  return { runId, asOfMs: request.asOfMs, initialized, enqueued };
}
