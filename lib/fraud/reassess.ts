import type { Queryable } from "../adapters/postgres.ts";
import type { IdGenerator } from "../ids/ids.ts";
import { type RecordedSignal, type SignalKind, scoreAccount } from "./account-score.ts";
import type { VersionedRiskConfig } from "./config.ts";
import {
  type AccountRisk,
  changeLevel,
  lockAccountRisk,
  type Transition,
  updateScore,
} from "./ladder.ts";
import { higherLevel, levelForScore } from "./levels.ts";

interface SignalRow {
  id: string;
  kind: SignalKind;
  source_id: string;
  occurred_at: Date;
  recorded_at: Date;
  amount_minor: string | null;
  currency: string | null;
  evidence: Record<string, unknown>;
}

/** The signals that still count for an account: within the lookback and after the baseline. */
export async function countingSignals(
  db: Queryable,
  accountId: string,
  baselineAtMs: number | null,
  lookbackDays: number,
  nowMs: number,
): Promise<RecordedSignal[]> {
  const { rows } = await db.query<SignalRow>(
    `select id, kind, source_id, occurred_at, recorded_at, amount_minor::text as amount_minor,
            currency, evidence
       from risk_signals
      where account_id = $1 and occurred_at >= $2 and ($3::timestamptz is null or recorded_at > $3)
      order by recorded_at, id`,
    [
      accountId,
      new Date(nowMs - lookbackDays * 86_400_000).toISOString(),
      baselineAtMs === null ? null : new Date(baselineAtMs).toISOString(),
    ],
  );
  return rows.map((row) => ({
    id: row.id,
    kind: row.kind,
    sourceId: row.source_id,
    occurredAtMs: row.occurred_at.getTime(),
    recordedAtMs: row.recorded_at.getTime(),
    amountMinor: row.amount_minor,
    currency: row.currency?.trim() ?? null,
    evidence: row.evidence ?? {},
  }));
}

/**
 * Rescores an account from its counting signals inside the caller's transaction and raises its
 * level when the score calls for a higher one (never lowers it). Returns the new state and the
 * transition, if any.
 */
export async function reassessAccount(
  tx: Queryable,
  ids: IdGenerator,
  accountId: string,
  versioned: VersionedRiskConfig,
  trigger: string,
  nowMs: number,
): Promise<{ risk: AccountRisk; transition: Transition | null }> {
  const { config } = versioned;
  const current = await lockAccountRisk(tx, accountId, nowMs);
  const signals = await countingSignals(
    tx,
    accountId,
    current.baselineAtMs,
    config.account.lookbackDays,
    nowMs,
  );
  const { score, reasons } = scoreAccount(signals, config);
  const to = higherLevel(current.level, levelForScore(score, config.account.ladder));
  if (to === current.level) {
    await updateScore(tx, accountId, score, reasons, nowMs);
    return { risk: { ...current, score, reasons, updatedAtMs: nowMs }, transition: null };
  }
  const transition = await changeLevel(tx, ids, {
    current,
    to,
    score,
    reasons,
    actor: "system",
    reason: `Account score ${score} reached the ${to} threshold (${config.account.ladder[to as "watch" | "limited" | "suspended"]}) after ${trigger}`,
    action: "level.raised",
    resetBaseline: false,
    nowMs,
  });
  return {
    risk: { ...current, level: to, score, reasons, levelSinceMs: nowMs, updatedAtMs: nowMs },
    transition,
  };
}
