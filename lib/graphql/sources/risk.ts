import type { Queryable } from "../../adapters/postgres.ts";
import type { AccountRisk } from "../../fraud/ladder.ts";
import { isRiskLevel, type RiskLevel } from "../../fraud/levels.ts";
import type { Reason } from "../../fraud/rules.ts";

// Reads of fraud decisions, ladder transitions (table risk_audit) and throttle states (table
// account_risk) across accounts. lib/fraud reads one account at a time (readRiskStatus); these
// answer the platform-wide lists and many accounts at once.

/** One audited fraud decision (signup or deployment) or ladder transition. */
export interface RiskAuditEntry {
  id: string;
  accountId: string | null;
  action: string;
  actor: string;
  reason: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  reasons: Reason[];
  createdAt: string;
}

interface RiskAuditRow {
  id: string;
  account_id: string | null;
  action: string;
  actor: string;
  reason: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  reasons: Reason[] | null;
  created_at: Date;
}

const AUDIT_COLUMNS = "id, account_id, action, actor, reason, before, after, reasons, created_at";

function toEntry(row: RiskAuditRow): RiskAuditEntry {
  return {
    id: row.id,
    accountId: row.account_id,
    action: row.action,
    actor: row.actor,
    reason: row.reason,
    before: row.before,
    after: row.after,
    reasons: row.reasons ?? [],
    createdAt: row.created_at.toISOString(),
  };
}

/** Which audit entries a list wants: decisions (`decision.*`) or transitions (`level.*`). */
export type RiskAuditKind = "decision" | "level";

/**
 * Fraud audit entries of one kind, newest first (ids sort by creation), of one account or all,
 * after id `afterId`, at most `limit`. Throws the database error.
 */
export async function listRiskAudit(
  db: Queryable,
  kind: RiskAuditKind,
  accountId: string | null,
  afterId: string | null,
  limit: number,
): Promise<RiskAuditEntry[]> {
  const { rows } = await db.query<RiskAuditRow>(
    `select ${AUDIT_COLUMNS} from risk_audit
      where action like $1 and ($2::text is null or account_id = $2)
        and ($3::text is null or id < $3)
      order by id desc limit $4`,
    [`${kind}.%`, accountId, afterId, limit],
  );
  return rows.map(toEntry);
}

/** The newest entries of one kind for each account, at most `limit` each: one query. */
export async function riskAuditOfAccounts(
  db: Queryable,
  kind: RiskAuditKind,
  accountIds: readonly string[],
  afterId: string | null,
  limit: number,
): Promise<RiskAuditEntry[]> {
  const { rows } = await db.query<RiskAuditRow>(
    `select ${AUDIT_COLUMNS} from (
       select *, row_number() over (partition by account_id order by id desc) as rn
         from risk_audit
        where action like $1 and account_id = any($2::text[]) and ($3::text is null or id < $3)
     ) ranked where rn <= $4 order by account_id, id desc`,
    [`${kind}.%`, accountIds, afterId, limit],
  );
  return rows.map(toEntry);
}

interface RiskRow {
  account_id: string;
  level: string;
  score: number;
  reasons: Reason[] | null;
  baseline_at: Date | null;
  level_since: Date;
  updated_at: Date;
}

function toRisk(row: RiskRow): AccountRisk {
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

const RISK_COLUMNS = "account_id, level, score, reasons, baseline_at, level_since, updated_at";

/** Ladder rows of many accounts in one query; accounts without one are absent (normal). */
export async function readAccountRisks(
  db: Queryable,
  accountIds: readonly string[],
): Promise<AccountRisk[]> {
  const { rows } = await db.query<RiskRow>(
    `select ${RISK_COLUMNS} from account_risk where account_id = any($1::text[])`,
    [accountIds],
  );
  return rows.map(toRisk);
}

const RANK_SQL =
  "(case level when 'suspended' then 3 when 'limited' then 2 when 'watch' then 1 else 0 end)";

/**
 * Throttle states at one of `levels`, most severe first, then by account id, after the
 * (rank, account id) cursor, at most `limit`. Throws the database error.
 */
export async function listAccountRisks(
  db: Queryable,
  levels: readonly RiskLevel[],
  after: readonly [number, string] | null,
  limit: number,
): Promise<{ risk: AccountRisk; rank: number }[]> {
  const { rows } = await db.query<RiskRow & { rank: number }>(
    `select ${RISK_COLUMNS}, rank from (
       select *, ${RANK_SQL} as rank from account_risk where level = any($1::text[])
     ) ranked
      where $2::int is null or rank < $2 or (rank = $2 and account_id > $3)
      order by rank desc, account_id limit $4`,
    [levels, after?.[0] ?? null, after?.[1] ?? null, limit],
  );
  return rows.map((row) => ({ risk: toRisk(row), rank: row.rank }));
}
