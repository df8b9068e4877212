import { type CollectOutcome, collectInvoice } from "./collect.ts";
import type { PaymentDeps } from "./deps.ts";
import { dueRetries } from "./dunning.ts";
import { collectMessage, stripeEventMessage } from "./messages.ts";
import { accountsWithPendingNotifications, publishPendingNotifications } from "./notifications.ts";
import { unprocessedEvents } from "./webhook-intake.ts";

/**
 * The payments tick (hourly cron): everything that must happen even when no message arrives.
 * - dunning retries that fell due;
 * - attempts stuck in flight (the job that owned them gave up or was dead-lettered): their
 *   invoice is collected again, which resends the same key or, past Stripe's key window,
 *   searches and adopts;
 * - stored Stripe events never applied (their queue message was lost);
 * - customer notifications still waiting for QStash.
 */

/** An attempt untouched this long while in flight is picked up again. */
export const STALE_ATTEMPT_MS = 10 * 60_000;
/** A stored event unapplied this long gets a new queue message. */
export const STALE_EVENT_MS = 5 * 60_000;
/** Items of each kind handled per tick; the next tick takes the rest. */
const BATCH_LIMIT = 200;

export interface TickReport {
  retries: { invoiceId: string; outcome: CollectOutcome | "enqueued" }[];
  resumed: string[];
  events: string[];
  notified: number;
  notificationErrors: number;
}

/**
 * Runs one tick. With `inline`, due retries are collected right here (tests, small backlogs);
 * otherwise each becomes a `payment.collect` message (mode dunning) on the work queue. Stale
 * attempts and events are always enqueued when a queue exists. With `accountId`, only that
 * account's invoices are touched (an operator's "run dunning for this account"; stored events
 * are not account-scoped and are skipped then).
 */
export async function runPaymentsTick(
  deps: PaymentDeps,
  options: { inline: boolean; accountId?: string | null },
): Promise<TickReport> {
  const nowMs = deps.clock.nowMs();
  const accountId = options.accountId ?? null;
  const report: TickReport = {
    retries: [],
    resumed: [],
    events: [],
    notified: 0,
    notificationErrors: 0,
  };
  for (const invoiceId of await dueRetries(deps.db, nowMs, BATCH_LIMIT, accountId)) {
    if (options.inline || deps.work === null) {
      const outcome = await collectInvoice(deps, invoiceId, { mode: "dunning" });
      report.retries.push({ invoiceId, outcome });
    } else {
      await deps.work.send(collectMessage(invoiceId, "dunning"));
      report.retries.push({ invoiceId, outcome: "enqueued" });
    }
  }
  if (deps.work !== null) {
    const { rows } = await deps.db.query<{ invoice_id: string }>(
      `select distinct a.invoice_id from payment_attempts a join invoices i on i.id = a.invoice_id
        where a.status in ('created', 'unknown', 'requires_confirmation', 'processing')
          and a.updated_at < $1 and i.status in ('open', 'uncollectible')
          and ($3::text is null or a.account_id = $3)
        limit $2`,
      [new Date(nowMs - STALE_ATTEMPT_MS).toISOString(), BATCH_LIMIT, accountId],
    );
    for (const row of rows) {
      await deps.work.send(collectMessage(row.invoice_id));
      report.resumed.push(row.invoice_id);
    }
    const events =
      accountId === null
        ? await unprocessedEvents(deps.db, nowMs - STALE_EVENT_MS, BATCH_LIMIT)
        : [];
    for (const eventId of events) {
      await deps.work.send(stripeEventMessage(eventId));
      report.events.push(eventId);
    }
  }
  if (deps.notifier !== null) {
    const pending =
      accountId === null
        ? await accountsWithPendingNotifications(deps.db, BATCH_LIMIT)
        : [accountId];
    for (const account of pending) {
      try {
        report.notified += await publishPendingNotifications(
          deps.db,
          deps.notifier,
          account,
          nowMs,
        );
      } catch (error) {
        report.notificationErrors += 1;
        deps.log.warn("payment notifications not published", { accountId: account, error });
      }
    }
  }
  return report;
}
