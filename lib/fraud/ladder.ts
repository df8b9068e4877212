import type { Queryable } from "../adapters/postgres.ts";
import type { IdGenerator } from "../ids/ids.ts";
import { recordRiskAudit, riskAuditStatement } from "./audit.ts";
import { chainTransition } from "./ladder-audit.ts";
import { isRiskLevel, type RiskLevel, restrictionsFor } from "./levels.ts";
import type { Reason } from "./rules.ts";
import type { Statement } from "./sql-http.ts";

/**
 * The throttle ladder in Postgres (the audited truth): each account's level, score and reasons,
 * and the transitions between levels. A transition writes the new state, its audit record and
 * its platform notification (outbox) in the caller's transaction; lib/fraud/effects.ts then
 * mirrors the level to Redis and publishes the notification after commit.
 */

/** An account's row on the ladder. */
export interface AccountRisk {
  accountId: string;
  level: RiskLevel;
  score: number;
  reasons: Reason[];
  /** Signals recorded before this instant were weighed by an admin; null when never reviewed. */
  baselineAtMs: number | null;
  levelSinceMs: number;
  updatedAtMs: number;
}

/** One level change, as audited and as notified to the platform. */
export interface Transition {
  /** The audit id; also the notification's id and QStash deduplication id. */
  id: string;
  accountId: string;
  from: RiskLevel;
  to: RiskLevel;
  actor: string;
  reason: string;
  reasons: Reason[];
  score: number;
  atMs: number;
}

interface AccountRiskRow {
  account_id: string;
  level: string;
  score: number;
  reasons: Reason[];
  baseline_at: Date | null;
  level_since: Date;
  updated_at: Date;
}

const COLUMNS = "account_id, level, score, reasons, baseline_at, level_since, updated_at";

function toAccountRisk(row: AccountRiskRow): AccountRisk {
  return {
    accountId: row.account_id,
    level: isRiskLevel(row.level) ? row.level : "normal",
    score: row.score,
    reasons: row.reasons ?? [],
    baselineAtMs: row.baseline_at ? row.baseline_at.getTime() : null,
    levelSinceMs: row.level_since.getTime(),
    updatedAtMs: row.updated_at.getTime(),
  };
}

/** The ladder state of an account, or null when it has none (normal, score 0). */
export async function readAccountRisk(
  db: Queryable,
  accountId: string,
): Promise<AccountRisk | null> {
  const { rows } = await db.query<AccountRiskRow>(
    `select ${COLUMNS} from account_risk where account_id = $1`,
    [accountId],
  );
  return rows[0] ? toAccountRisk(rows[0]) : null;
}

/**
 * Locks the account's ladder row for the rest of the transaction, creating it at normal when
 * missing. Every change to an account's level goes through here, so concurrent signals for one
 * account are applied one after the other.
 */
export async function lockAccountRisk(
  tx: Queryable,
  accountId: string,
  nowMs: number,
): Promise<AccountRisk> {
  const now = new Date(nowMs).toISOString();
  await tx.query(
    `insert into account_risk (account_id, level, score, reasons, level_since, updated_at)
     values ($1, 'normal', 0, '[]'::jsonb, $2, $2) on conflict (account_id) do nothing`,
    [accountId, now],
  );
  const { rows } = await tx.query<AccountRiskRow>(
    `select ${COLUMNS} from account_risk where account_id = $1 for update`,
    [accountId],
  );
  return toAccountRisk(rows[0] as AccountRiskRow);
}

/** Stores a new score and reasons without changing the level. */
export async function updateScore(
  tx: Queryable,
  accountId: string,
  score: number,
  reasons: Reason[],
  nowMs: number,
): Promise<void> {
  await tx.query(
    "update account_risk set score = $2, reasons = $3, updated_at = $4 where account_id = $1",
    [accountId, score, JSON.stringify(reasons), new Date(nowMs).toISOString()],
  );
}

export interface LevelChange {
  current: AccountRisk;
  to: RiskLevel;
  score: number;
  reasons: Reason[];
  actor: string;
  reason: string;
  /** `level.raised` for automatic moves up, `level.set` for admin decisions. */
  action: "level.raised" | "level.set";
  /** Admin decisions set the baseline: earlier signals no longer raise the level. */
  resetBaseline: boolean;
  nowMs: number;
}

/**
 * Moves an account to `to` inside the caller's transaction (after lockAccountRisk): updates
 * the row, appends the audit record and queues the platform notification. An admin decision
 * that keeps the level is still audited (the review is a fact) but returns no transition.
 */
export async function changeLevel(
  tx: Queryable,
  ids: IdGenerator,
  change: LevelChange,
): Promise<Transition | null> {
  const { current, to, nowMs } = change;
  const now = new Date(nowMs).toISOString();
  const moved = current.level !== to;
  await tx.query(
    `update account_risk
        set level = $2, score = $3, reasons = $4, updated_at = $5,
            level_since = case when $6 then $5::timestamptz else level_since end,
            baseline_at = case when $7 then $5::timestamptz else baseline_at end
      where account_id = $1`,
    [
      current.accountId,
      to,
      change.score,
      JSON.stringify(change.reasons),
      now,
      moved,
      change.resetBaseline,
    ],
  );
  const id = await recordRiskAudit(tx, ids, {
    accountId: current.accountId,
    action: change.action,
    actor: change.actor,
    reason: change.reason,
    before: { level: current.level, score: current.score },
    after: { level: to, score: change.score },
    reasons: change.reasons,
    atMs: nowMs,
  });
  if (!moved) {
    return null;
  }
  const transition: Transition = {
    id,
    accountId: current.accountId,
    from: current.level,
    to,
    actor: change.actor,
    reason: change.reason,
    reasons: change.reasons,
    score: change.score,
    atMs: nowMs,
  };
  await chainTransition(tx, ids, transition);
  await tx.query(
    "insert into risk_notifications (id, account_id, created_at) values ($1, $2, $3)",
    [id, current.accountId, now],
  );
  return transition;
}

/**
 * One statement that starts an account with no ladder row at `to` (a signup decision): creates
 * the row, and only if it did not exist yet, appends the transition's audit record and queues
 * its notification. Returns the statement and the transition it makes when it creates the row;
 * the statement's result has one row exactly when it did. An account that already has a row is
 * left alone (the caller takes the locking path). Used in one HTTP batch with the decision.
 */
export function startLevelStatement(
  ids: IdGenerator,
  input: { accountId: string; to: RiskLevel; score: number; reasons: Reason[]; reason: string },
  nowMs: number,
): { statement: Statement; transition: Transition } {
  const audit = riskAuditStatement(
    ids,
    {
      accountId: input.accountId,
      action: "level.raised",
      actor: "system",
      reason: input.reason,
      before: { level: "normal", score: 0 },
      after: { level: input.to, score: input.score },
      reasons: input.reasons,
      atMs: nowMs,
    },
    { firstParam: 5, whenRowsIn: "created" },
  );
  const now = new Date(nowMs).toISOString();
  return {
    statement: {
      text: `with created as (
               insert into account_risk (account_id, level, score, reasons, level_since, updated_at)
               values ($1, $2, $3, $4::jsonb, $14::timestamptz, $14::timestamptz)
               on conflict (account_id) do nothing
               returning account_id
             ), audit as (
               ${audit.statement.text}
               returning id
             )
             insert into risk_notifications (id, account_id, created_at)
             select id, $1, $14::timestamptz from audit
             returning id`,
      params: [
        input.accountId,
        input.to,
        input.score,
        JSON.stringify(input.reasons),
        ...audit.statement.params,
        now,
      ],
    },
    transition: {
      id: audit.id,
      accountId: input.accountId,
      from: "normal",
      to: input.to,
      actor: "system",
      reason: input.reason,
      reasons: input.reasons,
      score: input.score,
      atMs: nowMs,
    },
  };
}

/** A transition as its audit record stores it (risk_audit row of a level.* action). */
export interface TransitionRecord {
  id: string;
  account_id: string;
  actor: string;
  reason: string;
  before: { level?: string; score?: number } | null;
  after: { level?: string; score?: number } | null;
  reasons: Reason[];
  created_at: Date;
}

/** Reads a transition back from its audit record. */
export function transitionFromRecord(row: TransitionRecord): Transition {
  const level = (value: unknown): RiskLevel => (isRiskLevel(value) ? value : "normal");
  return {
    id: row.id,
    accountId: row.account_id,
    from: level(row.before?.level),
    to: level(row.after?.level),
    actor: row.actor,
    reason: row.reason,
    reasons: row.reasons ?? [],
    score: row.after?.score ?? 0,
    atMs: row.created_at.getTime(),
  };
}

/**
 * The JSON the platform receives for a transition, built from its audit record so the two can
 * never disagree. Sent to the platform (never to the account holder), so it carries the
 * reasons an operator needs.
 */
export function notificationBody(transition: Transition): Record<string, unknown> {
  return {
    type: "risk.level_changed",
    id: transition.id,
    accountId: transition.accountId,
    from: transition.from,
    to: transition.to,
    actor: transition.actor,
    reason: transition.reason,
    score: transition.score,
    reasons: transition.reasons,
    restrictions: restrictionsFor(transition.to),
    at: new Date(transition.atMs).toISOString(),
  };
}
