import type { Queryable } from "../adapters/postgres.ts";
import { transitionInvoice } from "../invoicing/status.ts";
import { setBillingStatus } from "./account-status.ts";
import type { TxContext } from "./deps.ts";
import { queueNotification } from "./notifications.ts";

/**
 * Dunning: what happens after an invoice's payment fails. Retries follow a fixed schedule in
 * days after the first failure; once the last retry has failed too, the invoice becomes
 * uncollectible and the account restricted. The first failure puts the account in grace.
 *
 * Only `failed` attempts (declines, no usable payment method) count. An attempt meterline
 * abandoned because Stripe never saw it is `canceled` and does not count: the customer's card
 * was never tried, so it is not their failure.
 */

/** Retry k (1-based) is due this many days after the first failure. */
export const DUNNING_RETRY_DAYS: readonly number[] = [1, 3, 5, 7];

const DAY_MS = 86_400_000;
/**
 * A retry that fails late (the tick ran behind, or an admin retried by hand) leaves at least
 * this long before the next one, so a backlog never turns into back-to-back charges.
 */
export const MIN_RETRY_GAP_MS = 12 * 3_600_000;

export type DunningState = "active" | "exhausted" | "resolved";

export interface DunningView {
  invoiceId: string;
  state: DunningState;
  failures: number;
  firstFailedAtMs: number;
  nextRetryAtMs: number | null;
}

interface DunningRow {
  invoice_id: string;
  state: DunningState;
  failures: number;
  first_failed_at: Date;
  next_retry_at: Date | null;
}

function toView(row: DunningRow): DunningView {
  return {
    invoiceId: row.invoice_id,
    state: row.state,
    failures: row.failures,
    firstFailedAtMs: row.first_failed_at.getTime(),
    nextRetryAtMs: row.next_retry_at ? row.next_retry_at.getTime() : null,
  };
}

/** The invoice's dunning state, or null when its payment never failed. */
export async function dunningOf(db: Queryable, invoiceId: string): Promise<DunningView | null> {
  const { rows } = await db.query<DunningRow>(
    `select invoice_id, state, failures, first_failed_at, next_retry_at from payment_dunning
      where invoice_id = $1`,
    [invoiceId],
  );
  return rows[0] ? toView(rows[0]) : null;
}

/** When retry `failures` (1-based) is due, given the first failure; null after the last. */
export function nextRetryAt(
  firstFailedAtMs: number,
  failures: number,
  nowMs: number,
): number | null {
  const days = DUNNING_RETRY_DAYS[failures - 1];
  if (days === undefined) {
    return null;
  }
  return Math.max(firstFailedAtMs + days * DAY_MS, nowMs + MIN_RETRY_GAP_MS);
}

export type DunningStep =
  | { kind: "ignored"; reason: string }
  | { kind: "unchanged"; dunning: DunningView }
  | { kind: "scheduled"; dunning: DunningView }
  | { kind: "exhausted"; dunning: DunningView };

/**
 * Records that a payment of the invoice failed, inside the transaction that moved the attempt
 * to `failed`. The failure count is read from the attempts, so calling it twice for the same
 * failure changes nothing. Schedules the next retry (or gives up), moves the account up the
 * ladder and queues the customer notifications. Invoices that are no longer open are ignored.
 */
export async function recordPaymentFailure(
  tx: Queryable,
  ctx: TxContext,
  failure: { invoiceId: string; accountId: string; attemptId: string; failureCode: string | null },
): Promise<DunningStep> {
  const invoice = await tx.query<{ status: string }>("select status from invoices where id = $1", [
    failure.invoiceId,
  ]);
  if (invoice.rows[0]?.status !== "open") {
    return { kind: "ignored", reason: `invoice is ${invoice.rows[0]?.status ?? "missing"}` };
  }
  const counted = await tx.query<{ failures: number }>(
    `select count(*)::int as failures from payment_attempts
      where invoice_id = $1 and status = 'failed'`,
    [failure.invoiceId],
  );
  const failures = counted.rows[0]?.failures ?? 0;
  const nowIso = new Date(ctx.nowMs).toISOString();
  await tx.query(
    `insert into payment_dunning (invoice_id, account_id, state, failures, first_failed_at,
                                  next_retry_at, updated_at)
     values ($1, $2, 'active', 0, $3, $3, $3) on conflict (invoice_id) do nothing`,
    [failure.invoiceId, failure.accountId, nowIso],
  );
  const locked = await tx.query<DunningRow>(
    `select invoice_id, state, failures, first_failed_at, next_retry_at from payment_dunning
      where invoice_id = $1 for update`,
    [failure.invoiceId],
  );
  const row = locked.rows[0] as DunningRow;
  if (row.failures >= failures || row.state !== "active") {
    return { kind: "unchanged", dunning: toView(row) };
  }
  const firstFailedAtMs = row.failures === 0 ? ctx.nowMs : row.first_failed_at.getTime();
  const retryAtMs = nextRetryAt(firstFailedAtMs, failures, ctx.nowMs);
  const state: DunningState = retryAtMs === null ? "exhausted" : "active";
  await tx.query(
    `update payment_dunning set state = $2, failures = $3, first_failed_at = $4,
            next_retry_at = $5, updated_at = $6
      where invoice_id = $1`,
    [
      failure.invoiceId,
      state,
      failures,
      new Date(firstFailedAtMs).toISOString(),
      retryAtMs === null ? null : new Date(retryAtMs).toISOString(),
      nowIso,
    ],
  );
  const dunning: DunningView = {
    invoiceId: failure.invoiceId,
    state,
    failures,
    firstFailedAtMs,
    nextRetryAtMs: retryAtMs,
  };
  await queueNotification(tx, ctx.ids, {
    accountId: failure.accountId,
    kind: "payment.failed",
    payload: {
      invoiceId: failure.invoiceId,
      attemptId: failure.attemptId,
      failureCode: failure.failureCode,
      failures,
      nextRetryAt: retryAtMs === null ? null : new Date(retryAtMs).toISOString(),
      at: nowIso,
    },
    nowMs: ctx.nowMs,
  });
  if (state === "exhausted") {
    const reason = `Payment failed ${failures} times; the last scheduled retry failed`;
    await transitionInvoice(tx, ctx.ids, {
      invoiceId: failure.invoiceId,
      to: "uncollectible",
      actor: ctx.actor,
      reason,
      atMs: ctx.nowMs,
    });
    await setBillingStatus(tx, ctx, {
      accountId: failure.accountId,
      to: "restricted",
      reason: `Invoice ${failure.invoiceId} is uncollectible: ${reason.toLowerCase()}`,
      invoiceId: failure.invoiceId,
    });
    return { kind: "exhausted", dunning };
  }
  await setBillingStatus(tx, ctx, {
    accountId: failure.accountId,
    to: "grace",
    reason: `Payment of invoice ${failure.invoiceId} failed; retry ${failures} of ${DUNNING_RETRY_DAYS.length} is scheduled`,
    invoiceId: failure.invoiceId,
    onlyRaise: true,
  });
  return { kind: "scheduled", dunning };
}

/** Ends the invoice's dunning (paid, voided or otherwise settled); a no-op when there is none. */
export async function resolveDunning(
  tx: Queryable,
  invoiceId: string,
  nowMs: number,
): Promise<void> {
  await tx.query(
    `update payment_dunning set state = 'resolved', next_retry_at = null, updated_at = $2
      where invoice_id = $1 and state <> 'resolved'`,
    [invoiceId, new Date(nowMs).toISOString()],
  );
}

/** Invoices (of one account, if given) whose next retry is due at `nowMs`, oldest due first. */
export async function dueRetries(
  db: Queryable,
  nowMs: number,
  limit: number,
  accountId: string | null = null,
): Promise<string[]> {
  const { rows } = await db.query<{ invoice_id: string }>(
    `select d.invoice_id from payment_dunning d
      where d.state = 'active' and d.next_retry_at <= $1 and ($3::text is null or d.account_id = $3)
      order by d.next_retry_at, d.invoice_id limit $2`,
    [new Date(nowMs).toISOString(), limit, accountId],
  );
  return rows.map((row) => row.invoice_id);
}

/** Moves the invoice's next retry to `atMs` (e.g. the customer just changed their card). */
export async function retrySooner(
  db: Queryable,
  invoiceId: string,
  atMs: number,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `update payment_dunning set next_retry_at = $2, updated_at = $2
      where invoice_id = $1 and state = 'active' and next_retry_at > $2`,
    [invoiceId, new Date(atMs).toISOString()],
  );
  return rowCount > 0;
}
