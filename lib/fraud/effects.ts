import type { Queryable } from "../adapters/postgres.ts";
import type { RiskDeps } from "./deps.ts";
import {
  notificationBody,
  type Transition,
  type TransitionRecord,
  transitionFromRecord,
} from "./ladder.ts";
import { chainTransition } from "./ladder-audit.ts";
import { cacheLevel, flagIdentities, identitiesOf } from "./level-cache.ts";

/**
 * What happens after a ladder change commits: the Redis level mirror is updated (the rate
 * limiter reads it), a suspended account's cards and devices are flagged, and pending platform
 * notifications are published through QStash. Postgres already holds the truth, so a failure
 * here loses nothing: notifications stay pending and are retried (lib/fraud/messages.ts).
 */

/**
 * Publishes the account's pending notifications in creation order. The destination is the
 * account's `notification_url`, else the configured platform-wide `fallbackUrl`; with neither,
 * the notification is marked as published nowhere (destination null) so it does not pile up.
 * Each carries its transition id as QStash deduplication id, so a retry after a lost response
 * is not delivered twice. Throws on the first publish failure; later ones stay pending.
 */
export async function publishPendingNotifications(
  deps: Pick<RiskDeps, "http" | "notifier" | "clock" | "db" | "ids">,
  accountId: string,
  fallbackUrl: string | null,
): Promise<number> {
  const { rows } = await deps.http.query<TransitionRecord & { notification_url: string | null }>(
    `select a.id, a.account_id, a.actor, a.reason, a.before, a.after, a.reasons, a.created_at,
            acc.notification_url
       from risk_notifications n
       join risk_audit a on a.id = n.id
       left join accounts acc on acc.id = n.account_id
      where n.account_id = $1 and n.published_at is null
      order by n.created_at, n.id`,
    [accountId],
  );
  let published = 0;
  for (const row of rows) {
    // Before the platform hears of a move, the move is in the account's hash-chained audit
    // trail (idempotent by the risk audit id, so a retry never appends twice).
    const transition = transitionFromRecord(row);
    await deps.db.transaction((tx) => chainTransition(tx, deps.ids, transition));
    const url = row.notification_url ?? fallbackUrl;
    const messageId =
      url === null
        ? null
        : await deps.notifier.publish({
            url,
            body: notificationBody(transition),
            deduplicationId: row.id,
          });
    await markPublished(deps.http, row.id, url, messageId, deps.clock.nowMs());
    published += url === null ? 0 : 1;
  }
  return published;
}

async function markPublished(
  db: Queryable,
  id: string,
  destination: string | null,
  messageId: string | null,
  nowMs: number,
): Promise<void> {
  await db.query(
    `update risk_notifications set published_at = $2, destination = $3, message_id = $4
      where id = $1 and published_at is null`,
    [id, new Date(nowMs).toISOString(), destination, messageId],
  );
}

/**
 * Runs the after-commit effects of `transitions`. Returns the accounts whose notifications
 * could not be published (the caller schedules a retry); Redis failures are logged, not thrown,
 * because Postgres is the truth and the mirror is rebuilt when found missing.
 */
export async function applyTransitionEffects(
  deps: RiskDeps,
  transitions: readonly Transition[],
  fallbackUrl: string | null,
): Promise<{ unpublished: string[] }> {
  const accounts = new Set<string>();
  for (const transition of transitions) {
    accounts.add(transition.accountId);
    try {
      await cacheLevel(deps.redis, transition.accountId, transition.to);
      if (transition.to === "suspended") {
        await flagIdentities(deps.redis, await identitiesOf(deps.http, transition.accountId));
      }
    } catch (error) {
      deps.log.error("risk level mirror not updated", {
        accountId: transition.accountId,
        level: transition.to,
        error,
      });
    }
  }
  const unpublished: string[] = [];
  for (const accountId of accounts) {
    try {
      await publishPendingNotifications(deps, accountId, fallbackUrl);
    } catch (error) {
      deps.log.warn("risk notification not published; will retry", { accountId, error });
      unpublished.push(accountId);
    }
  }
  return { unpublished };
}

/**
 * Asks the work queue to retry the pending notifications of `accounts` (a `risk.notify` message
 * each). Without a queue, or when sending fails, they stay pending until the account's next
 * transition or signal publishes them; that is logged.
 */
export async function retryNotificationsLater(
  deps: Pick<RiskDeps, "work" | "log">,
  accounts: readonly string[],
): Promise<void> {
  for (const accountId of accounts) {
    try {
      if (!deps.work) {
        throw new Error("no work queue");
      }
      await deps.work.send({ v: 1, kind: "risk.notify", accountId });
    } catch (error) {
      deps.log.error("risk notification left pending", { accountId, error });
    }
  }
}

/**
 * Runs `work` after the response when the runtime allows it (deps.defer), else now. Failures
 * are logged: deferred work must not fail a request that already succeeded.
 */
export async function runAfterResponse(
  deps: Pick<RiskDeps, "defer" | "log">,
  work: Promise<unknown>,
): Promise<void> {
  const guarded = work.catch((error: unknown) => {
    deps.log.error("deferred fraud work failed", { error });
  });
  if (deps.defer) {
    deps.defer(guarded);
  } else {
    await guarded;
  }
}
