import type { Queryable } from "../adapters/postgres.ts";
import type { Logger } from "../log/logger.ts";
import type { Sql } from "../metering/sql.ts";
import { deduplicationId, type Publisher, type WebhookBody } from "./notify.ts";

/** Where the account meter's notifications go. */
export interface NotificationTargets {
  /** The account's webhook (accounts.notification_url); null when it has none. */
  accountUrl: string | null;
  /** The platform's endpoint for account status changes (the hard cap); null when unset. */
  platformUrl: string | null;
}

/** What one flush did. */
export interface FlushResult {
  /** Notifications handed to QStash for every target, then deleted. */
  sent: number;
  /** Notifications with no target at all, deleted unsent (logged). */
  dropped: number;
  /** Left for the next flush because QStash refused or was unreachable. */
  remaining: number;
}

/** Notification kinds the platform also receives: they change what the account may do. */
const PLATFORM_KINDS = new Set(["spend.cap_reached"]);

/** The account's webhook URL (accounts.notification_url), null when unset or unknown. */
export async function readNotificationUrl(
  db: Queryable,
  accountId: string,
): Promise<string | null> {
  const { rows } = await db.query<{ notification_url: string | null }>(
    "select notification_url from accounts where id = $1",
    [accountId],
  );
  return rows[0]?.notification_url ?? null;
}

/**
 * Publishes the account meter's pending notifications (`notifications` table, written in the
 * ingest transaction) through QStash, oldest first: `spend.threshold_crossed` and
 * `spend.cap_reached` go to the account's webhook, and the cap also to the platform. A row is
 * deleted only once QStash accepted it for every target; each publish carries a deduplication id
 * built from the account, the row id and the target, so a flush repeated after a crash (or a
 * lost answer) never delivers twice. Stops at the first failure and leaves the rest for the
 * next alarm.
 */
export async function flushMeterNotifications(
  sql: Sql,
  input: { accountId: string; targets: NotificationTargets; publisher: Publisher; log: Logger },
): Promise<FlushResult> {
  const rows = sql
    .exec<{ id: string; created_ms: number; kind: string; payload: string }>(
      "SELECT id, created_ms, kind, payload FROM notifications ORDER BY created_ms, id",
    )
    .toArray();
  const result: FlushResult = { sent: 0, dropped: 0, remaining: rows.length };
  for (const row of rows) {
    const targets: { name: string; url: string }[] = [];
    if (input.targets.accountUrl !== null) {
      targets.push({ name: "account", url: input.targets.accountUrl });
    }
    if (PLATFORM_KINDS.has(row.kind) && input.targets.platformUrl !== null) {
      targets.push({ name: "platform", url: input.targets.platformUrl });
    }
    const data = JSON.parse(row.payload) as Record<string, unknown>;
    const body: WebhookBody = {
      type: row.kind,
      id: `${input.accountId}:${row.id}`,
      accountId: input.accountId,
      createdAt: new Date(row.created_ms).toISOString(),
      data,
    };
    try {
      for (const target of targets) {
        await input.publisher.publish({
          url: target.url,
          body,
          deduplicationId: deduplicationId(input.accountId, row.id, target.name),
        });
      }
    } catch (error) {
      input.log.warn("notification publish failed; will retry", { id: row.id, error });
      return result;
    }
    if (targets.length === 0) {
      input.log.info("notification has no destination; dropped", { id: row.id, kind: row.kind });
      result.dropped += 1;
    } else {
      result.sent += 1;
    }
    sql.exec("DELETE FROM notifications WHERE id = ?", row.id);
    result.remaining -= 1;
  }
  return result;
}
