import type { Queryable } from "../../adapters/postgres.ts";
import type { AuditRecord } from "../../audit/audit-log.ts";

// Reads of the hash-chained audit log across accounts. lib/audit reads one account's chain
// (listAudit); these answer the platform-wide log and many accounts at once, in the same
// record shape.

interface AuditRow {
  id: string;
  account_id: string;
  seq: string;
  occurred_at: Date;
  actor: string;
  action: string;
  subject_type: string;
  subject_id: string;
  reason: string;
  before: unknown;
  after: unknown;
  amount_minor: string | null;
  currency: string | null;
  prev_hash: string;
  hash: string;
}

const COLUMNS = `id, account_id, seq::text as seq, occurred_at, actor, action, subject_type,
  subject_id, reason, before, after, amount_minor::text as amount_minor, currency, prev_hash, hash`;

function toRecord(row: AuditRow): AuditRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    seq: Number(row.seq),
    occurredAt: row.occurred_at.toISOString(),
    actor: row.actor,
    action: row.action,
    subjectType: row.subject_type,
    subjectId: row.subject_id,
    reason: row.reason,
    before: row.before,
    after: row.after,
    amountMinor: row.amount_minor,
    currency: row.currency === null ? null : row.currency.trim(),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

/**
 * Audit records, most recently recorded first (ids sort by creation), after id `afterId`,
 * optionally of one account, one action or one subject, at most `limit`.
 */
export async function listAuditRecords(
  db: Queryable,
  filter: {
    accountId: string | null;
    action: string | null;
    subjectType: string | null;
    subjectId: string | null;
  },
  afterId: string | null,
  limit: number,
): Promise<AuditRecord[]> {
  const { rows } = await db.query<AuditRow>(
    `select ${COLUMNS} from audit_log
      where ($1::text is null or action = $1) and ($2::text is null or subject_type = $2)
        and ($3::text is null or subject_id = $3) and ($4::text is null or id < $4)
        and ($6::text is null or account_id = $6)
      order by id desc limit $5`,
    [filter.action, filter.subjectType, filter.subjectId, afterId, limit, filter.accountId],
  );
  return rows.map(toRecord);
}

/**
 * The newest records of each account (by chain sequence, descending), below sequence
 * `beforeSeq`, optionally of one action, at most `limit` per account: one query.
 */
export async function auditOfAccounts(
  db: Queryable,
  accountIds: readonly string[],
  options: { action: string | null; beforeSeq: number | null; limit: number },
): Promise<AuditRecord[]> {
  const { rows } = await db.query<AuditRow>(
    `select ${COLUMNS} from (
       select *, row_number() over (partition by account_id order by seq desc) as rn
         from audit_log
        where account_id = any($1::text[]) and ($2::text is null or action = $2)
          and ($3::bigint is null or seq < $3)
     ) ranked where rn <= $4 order by account_id, seq desc`,
    [accountIds, options.action, options.beforeSeq, options.limit],
  );
  return rows.map(toRecord);
}
