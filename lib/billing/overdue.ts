import type { Database } from "../adapters/postgres.ts";
import { appendAudit } from "../audit/audit-log.ts";
import type { IdGenerator } from "../ids/ids.ts";
import type { Logger } from "../log/logger.ts";
import { deduplicationId, type Publisher, type WebhookBody } from "./notify.ts";

/** Overdue invoices handled per run; the rest wait for the next hour. */
export const OVERDUE_BATCH = 500;

export interface OverdueResult {
  /** Invoices found past due and recorded as notified. */
  notified: number;
  /** Of those, how many had no webhook to send to (recorded, nothing sent). */
  withoutDestination: number;
  /** Publish failures: left unrecorded, tried again next run. */
  failed: number;
}

/**
 * Finds open `send_invoice` invoices past their due date that were never reported overdue,
 * publishes `invoice.overdue` to the account's webhook through QStash (deduplicated by invoice,
 * so a crash between publishing and recording sends nothing twice), then records
 * `overdue_notified_at` with an `invoice.overdue_notified` audit record. Each invoice is reported
 * once; an invoice paid meanwhile is left alone by the conditional update.
 */
export async function notifyOverdueInvoices(deps: {
  db: Database;
  publisher: Publisher;
  ids: IdGenerator;
  log: Logger;
  nowMs: number;
}): Promise<OverdueResult> {
  const { rows } = await deps.db.query<{
    id: string;
    account_id: string;
    number: string;
    currency: string;
    amount_due_minor: string;
    due_at: Date;
    po_number: string | null;
    notification_url: string | null;
  }>(
    `select i.id, i.account_id, i.number, i.currency, i.amount_due_minor::text, i.due_at,
            i.po_number, a.notification_url
       from invoices i join accounts a on a.id = i.account_id
      where i.status = 'open' and i.collection_method = 'send_invoice'
        and i.overdue_notified_at is null and i.due_at < $1
      order by i.due_at, i.id limit $2`,
    [new Date(deps.nowMs).toISOString(), OVERDUE_BATCH],
  );
  const result: OverdueResult = { notified: 0, withoutDestination: 0, failed: 0 };
  for (const row of rows) {
    const currency = row.currency.trim();
    let messageId: string | null = null;
    if (row.notification_url !== null) {
      const body: WebhookBody = {
        type: "invoice.overdue",
        id: `${row.account_id}:invoice.overdue:${row.id}`,
        accountId: row.account_id,
        createdAt: new Date(deps.nowMs).toISOString(),
        data: {
          invoiceId: row.id,
          number: row.number,
          amountDueMinor: row.amount_due_minor,
          currency,
          dueAt: row.due_at.toISOString(),
          poNumber: row.po_number,
        },
      };
      try {
        messageId = await deps.publisher.publish({
          url: row.notification_url,
          body,
          deduplicationId: deduplicationId(row.account_id, "invoice.overdue", row.id),
        });
      } catch (error) {
        deps.log.warn("overdue notice not published; next run retries", {
          invoiceId: row.id,
          error,
        });
        result.failed += 1;
        continue;
      }
    }
    const recorded = await deps.db.transaction(async (tx) => {
      const updated = await tx.query(
        `update invoices set overdue_notified_at = $2, overdue_message_id = $3
          where id = $1 and status = 'open' and overdue_notified_at is null`,
        [row.id, new Date(deps.nowMs).toISOString(), messageId],
      );
      if (updated.rowCount === 0) {
        return false;
      }
      await appendAudit(tx, deps.ids, {
        accountId: row.account_id,
        actor: "system:overdue-check",
        action: "invoice.overdue_notified",
        subjectType: "invoice",
        subjectId: row.id,
        reason:
          messageId === null
            ? `Due ${row.due_at.toISOString()}; the account has no webhook`
            : `Due ${row.due_at.toISOString()}; notified (QStash ${messageId})`,
        amountMinor: BigInt(row.amount_due_minor),
        currency,
        occurredAtMs: deps.nowMs,
      });
      return true;
    });
    if (recorded) {
      result.notified += 1;
      if (messageId === null) {
        result.withoutDestination += 1;
      }
    }
  }
  return result;
}
