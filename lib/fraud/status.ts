import type { Queryable } from "../adapters/postgres.ts";
import { type AccountRisk, readAccountRisk } from "./ladder.ts";
import { type LevelRestrictions, type RiskLevel, restrictionsFor } from "./levels.ts";
import type { Reason } from "./rules.ts";

/** How many recent transitions, signals and decisions the status shows. */
const RECENT = 20;

/** An account's fraud status: its rung, why, and the recent history that explains it. */
export interface RiskStatus {
  accountId: string;
  level: RiskLevel;
  score: number;
  reasons: Reason[];
  levelSinceMs: number | null;
  baselineAtMs: number | null;
  restrictions: LevelRestrictions;
  transitions: {
    id: string;
    action: string;
    actor: string;
    reason: string;
    from: RiskLevel | null;
    to: RiskLevel | null;
    reasons: Reason[];
    atMs: number;
  }[];
  signals: {
    id: string;
    kind: string;
    sourceId: string;
    amountMinor: string | null;
    currency: string | null;
    occurredAtMs: number;
    recordedAtMs: number;
    evidence: Record<string, unknown>;
  }[];
  decisions: {
    id: string;
    action: string;
    decision: string | null;
    score: number | null;
    reasons: Reason[];
    atMs: number;
  }[];
}

interface AuditRow {
  id: string;
  action: string;
  actor: string;
  reason: string;
  before: { level?: RiskLevel } | null;
  after: { level?: RiskLevel; decision?: string; score?: number } | null;
  reasons: Reason[];
  created_at: Date;
}

/**
 * Reads an account's risk status from Postgres. Returns null when meterline knows nothing of the
 * account: no accounts row and no ladder row.
 */
export async function readRiskStatus(db: Queryable, accountId: string): Promise<RiskStatus | null> {
  const auditOf = (prefix: string) =>
    db.query<AuditRow>(
      `select id, action, actor, reason, before, after, reasons, created_at from risk_audit
        where account_id = $1 and action like $2 order by created_at desc, id desc limit $3`,
      [accountId, `${prefix}%`, RECENT],
    );
  const [risk, exists, levelAudit, decisionAudit, signals] = await Promise.all([
    readAccountRisk(db, accountId),
    db.query<{ n: number }>("select count(*)::int as n from accounts where id = $1", [accountId]),
    auditOf("level."),
    auditOf("decision."),
    db.query<{
      id: string;
      kind: string;
      source_id: string;
      amount_minor: string | null;
      currency: string | null;
      occurred_at: Date;
      recorded_at: Date;
      evidence: Record<string, unknown>;
    }>(
      `select id, kind, source_id, amount_minor::text as amount_minor, currency, occurred_at,
              recorded_at, evidence
         from risk_signals where account_id = $1 order by recorded_at desc, id desc limit $2`,
      [accountId, RECENT],
    ),
  ]);
  if (risk === null && (exists.rows[0]?.n ?? 0) === 0) {
    return null;
  }
  const state: AccountRisk = risk ?? {
    accountId,
    level: "normal",
    score: 0,
    reasons: [],
    baselineAtMs: null,
    levelSinceMs: 0,
    updatedAtMs: 0,
  };
  return {
    accountId,
    level: state.level,
    score: state.score,
    reasons: state.reasons,
    levelSinceMs: risk ? state.levelSinceMs : null,
    baselineAtMs: state.baselineAtMs,
    restrictions: restrictionsFor(state.level),
    transitions: levelAudit.rows.map((r) => ({
      id: r.id,
      action: r.action,
      actor: r.actor,
      reason: r.reason,
      from: r.before?.level ?? null,
      to: r.after?.level ?? null,
      reasons: r.reasons,
      atMs: r.created_at.getTime(),
    })),
    signals: signals.rows.map((s) => ({
      id: s.id,
      kind: s.kind,
      sourceId: s.source_id,
      amountMinor: s.amount_minor,
      currency: s.currency?.trim() ?? null,
      occurredAtMs: s.occurred_at.getTime(),
      recordedAtMs: s.recorded_at.getTime(),
      evidence: s.evidence ?? {},
    })),
    decisions: decisionAudit.rows.map((r) => ({
      id: r.id,
      action: r.action,
      decision: r.after?.decision ?? null,
      score: r.after?.score ?? null,
      reasons: r.reasons,
      atMs: r.created_at.getTime(),
    })),
  };
}
