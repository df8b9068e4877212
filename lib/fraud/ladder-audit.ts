import type { Queryable } from "../adapters/postgres.ts";
import { appendAudit } from "../audit/audit-log.ts";
import type { IdGenerator } from "../ids/ids.ts";
import type { Transition } from "./ladder.ts";

/**
 * Appends a throttle-ladder move to the account's hash-chained audit trail (lib/audit), mirrored
 * from its risk_audit record: idempotent by that record's id, so the ladder's own transaction and
 * the notification path may both call it. Decisions that do not move the account stay in
 * risk_audit only.
 */
export async function chainTransition(
  tx: Queryable,
  ids: IdGenerator,
  transition: Transition,
): Promise<void> {
  if (transition.from === transition.to) {
    return;
  }
  await appendAudit(tx, ids, {
    accountId: transition.accountId,
    actor: transition.actor === "admin" ? "admin" : `system:fraud`,
    action: "account.risk_level_changed",
    subjectType: "account",
    subjectId: transition.accountId,
    reason: transition.reason,
    before: { level: transition.from },
    after: { level: transition.to, score: transition.score, reasons: transition.reasons },
    occurredAtMs: transition.atMs,
    sourceRef: transition.id,
  });
}
