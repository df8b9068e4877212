import type { Queryable } from "../adapters/postgres.ts";
import type { Notifier } from "../fraud/deps.ts";
import type { IdGenerator } from "../ids/ids.ts";

/**
 * Customer notifications about payments, through an outbox: a row is written in the transaction
 * of the change it announces, and published to the account's `notification_url` through QStash
 * after commit (and again by the payments tick while it stays pending). The row id is QStash's
 * deduplication id, so a retry after a lost answer is not delivered twice.
 */

export type PaymentNotificationKind = "payment.failed" | "account.billing_status_changed";

/** Writes a notification row inside the caller's transaction; returns its id. */
export async function queueNotification(
  tx: Queryable,
  ids: IdGenerator,
  notification: {
    accountId: string;
    kind: PaymentNotificationKind;
    payload: Record<string, unknown>;
    nowMs: number;
  },
): Promise<string> {
  const id = ids.next("notification");
  const body = {
    id,
    type: notification.kind,
    accountId: notification.accountId,
    ...notification.payload,
  };
  await tx.query(
    `insert into payment_notifications (id, account_id, kind, payload, created_at)
     values ($1, $2, $3, $4, $5)`,
    [
      id,
      notification.accountId,
      notification.kind,
      JSON.stringify(body),
      new Date(notification.nowMs).toISOString(),
    ],
  );
  return id;
}

/**
 * Publishes the account's pending notifications in creation order to its `notification_url`.
 * Without a URL a notification is marked published to nowhere (destination null) so it does not
 * pile up. Returns how many were sent; throws on the first publish failure (the rest stay
 * pending for the next try).
 */
export async function publishPendingNotifications(
  db: Queryable,
  notifier: Notifier,
  accountId: string,
  nowMs: number,
): Promise<number> {
  const { rows } = await db.query<{ id: string; payload: unknown; url: string | null }>(
    `select n.id, n.payload, a.notification_url as url
       from payment_notifications n left join accounts a on a.id = n.account_id
      where n.account_id = $1 and n.published_at is null
      order by n.seq`,
    [accountId],
  );
  let sent = 0;
  for (const row of rows) {
    const messageId =
      row.url === null
        ? null
        : await notifier.publish({ url: row.url, body: row.payload, deduplicationId: row.id });
    await db.query(
      `update payment_notifications set published_at = $2, destination = $3, message_id = $4
        where id = $1 and published_at is null`,
      [row.id, new Date(nowMs).toISOString(), row.url, messageId],
    );
    sent += row.url === null ? 0 : 1;
  }
  return sent;
}

/** Accounts with notifications still pending (for the payments tick), oldest first. */
export async function accountsWithPendingNotifications(
  db: Queryable,
  limit: number,
): Promise<string[]> {
  const { rows } = await db.query<{ account_id: string }>(
    `select account_id from payment_notifications where published_at is null
      group by account_id order by min(created_at) limit $1`,
    [limit],
  );
  return rows.map((row) => row.account_id);
}
