import type { Queryable } from "../adapters/postgres.ts";
import type { IdGenerator } from "../ids/ids.ts";
import type { Reason } from "./rules.ts";
import type { Statement } from "./sql-http.ts";

/** What an audit record is about. */
export type RiskAuditAction =
  | "decision.signup"
  | "decision.deployment"
  | "level.raised"
  | "level.set"
  | "config.updated";

/** One fraud decision, ladder transition or configuration change, as it is kept for humans. */
export interface RiskAuditRecord {
  /** The account concerned; null for platform-wide changes (configuration). */
  accountId: string | null;
  action: RiskAuditAction;
  /** `system` for automatic decisions, `admin` for changes made with the admin key. */
  actor: string;
  /** One sentence a reviewer can read without the code. */
  reason: string;
  before: unknown;
  after: unknown;
  /** The rules that produced the outcome, with their points. */
  reasons: Reason[];
  atMs: number;
}

/** Columns of risk_audit and their types, in the order statements bind them. */
const AUDIT_COLUMNS = [
  ["id", "text"],
  ["account_id", "text"],
  ["action", "text"],
  ["actor", "text"],
  ["reason", "text"],
  ["before", "jsonb"],
  ["after", "jsonb"],
  ["reasons", "jsonb"],
  ["created_at", "timestamptz"],
] as const;

/**
 * The statement that appends `record` to the fraud audit log, with the new record's id
 * (`aud_…`). Callers that batch writes (one HTTP round trip) put it in their batch; everyone
 * else calls recordRiskAudit. Either way this is the one place that defines how fraud audit
 * records are written, so the log can later be pointed at the shared hash-chained audit log
 * (lib/audit) without touching callers.
 *
 * Options for embedding it in a larger statement: `firstParam` numbers its placeholders from
 * there, and `whenRowsIn` names a CTE so the record is only written when that CTE returned rows
 * (`insert … select … from <cte>`).
 */
export function riskAuditStatement(
  ids: IdGenerator,
  record: RiskAuditRecord,
  options: { firstParam?: number; whenRowsIn?: string } = {},
): { id: string; statement: Statement } {
  const id = ids.next("audit");
  const json = (value: unknown) =>
    value === null || value === undefined ? null : JSON.stringify(value);
  const first = options.firstParam ?? 1;
  const values = AUDIT_COLUMNS.map(([, type], i) => `$${first + i}::${type}`).join(", ");
  const source = options.whenRowsIn
    ? `select ${values} from ${options.whenRowsIn}`
    : `values (${values})`;
  return {
    id,
    statement: {
      text: `insert into risk_audit (${AUDIT_COLUMNS.map(([name]) => name).join(", ")}) ${source}`,
      params: [
        id,
        record.accountId,
        record.action,
        record.actor,
        record.reason,
        json(record.before),
        json(record.after),
        JSON.stringify(record.reasons),
        new Date(record.atMs).toISOString(),
      ],
    },
  };
}

/**
 * Appends one record to the fraud audit log and returns its id. Run it inside the transaction
 * that makes the change, so the change and its record commit together. Throws on database
 * failure.
 */
export async function recordRiskAudit(
  db: Queryable,
  ids: IdGenerator,
  record: RiskAuditRecord,
): Promise<string> {
  const { id, statement } = riskAuditStatement(ids, record);
  await db.query(statement.text, statement.params);
  return id;
}
