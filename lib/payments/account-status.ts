import type { Queryable } from "../adapters/postgres.ts";
import { appendAudit } from "../audit/audit-log.ts";
import type { TxContext } from "./deps.ts";
import { queueNotification } from "./notifications.ts";

/**
 * An account's billing status, driven by dunning: `normal` → `grace` (a payment failed; retries
 * are scheduled) → `restricted` (the last retry failed; the invoice is uncollectible). Paying
 * what is owed restores `normal`. Other modules read it to decide what a restricted account may
 * still do; this module only keeps it, audits each change and notifies the customer.
 */
export type BillingStatus = "normal" | "grace" | "restricted";

/** The ladder, lowest first. */
const LADDER: readonly BillingStatus[] = ["normal", "grace", "restricted"];

export interface BillingStatusView {
  accountId: string;
  status: BillingStatus;
  reason: string;
  sinceMs: number | null;
}

/** The account's billing status; an account never touched by dunning is `normal`. */
export async function billingStatusOf(
  db: Queryable,
  accountId: string,
): Promise<BillingStatusView> {
  const { rows } = await db.query<{ status: BillingStatus; reason: string; since: Date }>(
    "select status, reason, since from account_billing_status where account_id = $1",
    [accountId],
  );
  const row = rows[0];
  return row
    ? { accountId, status: row.status, reason: row.reason, sinceMs: row.since.getTime() }
    : { accountId, status: "normal", reason: "", sinceMs: null };
}

/**
 * Sets the account's billing status inside the caller's transaction (row-locked), appending an
 * `account.status_changed` audit record and a customer notification when it changes. Setting
 * the status it already has is a no-op. Returns whether it changed.
 */
export async function setBillingStatus(
  tx: Queryable,
  ctx: TxContext,
  change: {
    accountId: string;
    to: BillingStatus;
    reason: string;
    invoiceId: string | null;
    /** Only move up the ladder (a second failing invoice must not lower restricted to grace). */
    onlyRaise?: boolean;
  },
): Promise<boolean> {
  const nowIso = new Date(ctx.nowMs).toISOString();
  if (change.to !== "normal") {
    // An account without a row is normal; the row is created the first time it leaves normal.
    await tx.query(
      `insert into account_billing_status (account_id, status, reason, since, updated_at)
       values ($1, 'normal', '', $2, $2) on conflict (account_id) do nothing`,
      [change.accountId, nowIso],
    );
  }
  const { rows } = await tx.query<{ status: BillingStatus }>(
    "select status from account_billing_status where account_id = $1 for update",
    [change.accountId],
  );
  const from = rows[0]?.status ?? "normal";
  if (
    from === change.to ||
    (change.onlyRaise && LADDER.indexOf(change.to) < LADDER.indexOf(from))
  ) {
    return false;
  }
  await tx.query(
    `update account_billing_status set status = $2, reason = $3, since = $4, updated_at = $4
      where account_id = $1`,
    [change.accountId, change.to, change.reason, nowIso],
  );
  await appendAudit(tx, ctx.ids, {
    accountId: change.accountId,
    actor: ctx.actor,
    action: "account.status_changed",
    subjectType: "account",
    subjectId: change.accountId,
    reason: change.reason,
    before: { billingStatus: from },
    after: { billingStatus: change.to },
    occurredAtMs: ctx.nowMs,
  });
  await queueNotification(tx, ctx.ids, {
    accountId: change.accountId,
    kind: "account.billing_status_changed",
    payload: {
      from,
      to: change.to,
      reason: change.reason,
      invoiceId: change.invoiceId,
      at: nowIso,
    },
    nowMs: ctx.nowMs,
  });
  return true;
}

/**
 * Restores `normal` when the account no longer has an unpaid invoice in dunning (active or
 * exhausted). Called after a payment succeeded; returns whether the status changed.
 */
export async function restoreIfSettled(
  tx: Queryable,
  ctx: TxContext,
  accountId: string,
  invoiceId: string,
): Promise<boolean> {
  const { rows } = await tx.query<{ open: string }>(
    `select count(*)::text as open from payment_dunning d join invoices i on i.id = d.invoice_id
      where d.account_id = $1 and d.state <> 'resolved' and i.status in ('open', 'uncollectible')`,
    [accountId],
  );
  if (Number(rows[0]?.open ?? "0") > 0) {
    return false;
  }
  return setBillingStatus(tx, ctx, {
    accountId,
    to: "normal",
    reason: `Invoice ${invoiceId} was paid; nothing is overdue`,
    invoiceId,
  });
}
