import type { Queryable } from "../adapters/postgres.ts";
import type { IdGenerator } from "../ids/ids.ts";

/** The hash a chain starts from. */
export const GENESIS_HASH = "0".repeat(64);

/** Who did it: `system:<job>`, `admin`, `stripe:webhook`, `account:<key id>`. */
export type Actor = string;

/** One audit entry as callers describe it. */
export interface AuditEntry {
  accountId: string;
  actor: Actor;
  /** Dotted verb, e.g. `invoice.finalized`, `payment.succeeded`, `account.status_changed`. */
  action: string;
  subjectType: string;
  subjectId: string;
  reason?: string;
  before?: unknown;
  after?: unknown;
  /** Money moved by this entry, in integer minor units, with its currency. */
  amountMinor?: bigint | null;
  currency?: string | null;
  occurredAtMs: number;
  /**
   * The id of the record this one mirrors in a module's own log (fraud's risk_audit, say).
   * An entry whose source is already in the chain is not appended again.
   */
  sourceRef?: string;
}

/** A stored audit record, as read back. */
export interface AuditRecord {
  id: string;
  accountId: string;
  seq: number;
  occurredAt: string;
  actor: string;
  action: string;
  subjectType: string;
  subjectId: string;
  reason: string;
  before: unknown;
  after: unknown;
  amountMinor: string | null;
  currency: string | null;
  prevHash: string;
  hash: string;
}

/** JSON with object keys sorted at every depth: the same value always hashes the same. */
function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) {
    return "null";
  }
  if (typeof value === "bigint") {
    return JSON.stringify(value.toString());
  }
  if (Array.isArray(value)) {
    return `[${value.map(canonicalJson).join(",")}]`;
  }
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The hash of a record: everything it says plus the previous record's hash. */
export function recordHash(record: Omit<AuditRecord, "id" | "hash">): Promise<string> {
  return sha256Hex(
    canonicalJson({
      accountId: record.accountId,
      seq: record.seq,
      occurredAt: record.occurredAt,
      actor: record.actor,
      action: record.action,
      subjectType: record.subjectType,
      subjectId: record.subjectId,
      reason: record.reason,
      before: record.before ?? null,
      after: record.after ?? null,
      amountMinor: record.amountMinor,
      currency: record.currency,
      prevHash: record.prevHash,
    }),
  );
}

/**
 * Appends an entry to its account's chain. Call it inside the transaction that makes the change
 * it describes, so the change and its audit record commit together. Appends for one account are
 * serialised by a row lock on the chain head; different accounts never wait for each other.
 */
export async function appendAudit(
  tx: Queryable,
  ids: IdGenerator,
  entry: AuditEntry,
): Promise<AuditRecord> {
  await tx.query(
    "insert into audit_heads (account_id, seq, hash) values ($1, 0, $2) on conflict (account_id) do nothing",
    [entry.accountId, GENESIS_HASH],
  );
  const head = await tx.query<{ seq: string; hash: string }>(
    "select seq::text, hash from audit_heads where account_id = $1 for update",
    [entry.accountId],
  );
  if (entry.sourceRef !== undefined) {
    // Checked under the head lock, so two mirrors of one source cannot both append.
    const mirrored = await tx.query<AuditRow>(`${SELECT_RECORD} where source_ref = $1`, [
      entry.sourceRef,
    ]);
    const existing = mirrored.rows[0];
    if (existing) {
      return toRecord(existing);
    }
  }
  const prev = head.rows[0] ?? { seq: "0", hash: GENESIS_HASH };
  const unhashed: Omit<AuditRecord, "id" | "hash"> = {
    accountId: entry.accountId,
    seq: Number(prev.seq) + 1,
    occurredAt: new Date(entry.occurredAtMs).toISOString(),
    actor: entry.actor,
    action: entry.action,
    subjectType: entry.subjectType,
    subjectId: entry.subjectId,
    reason: entry.reason ?? "",
    before: entry.before ?? null,
    after: entry.after ?? null,
    amountMinor:
      entry.amountMinor === undefined || entry.amountMinor === null
        ? null
        : entry.amountMinor.toString(),
    currency: entry.currency ?? null,
    prevHash: prev.hash,
  };
  const hash = await recordHash(unhashed);
  const record: AuditRecord = { id: ids.next("audit"), ...unhashed, hash };
  await tx.query(
    `insert into audit_log (id, account_id, seq, occurred_at, actor, action, subject_type, subject_id,
                            reason, before, after, amount_minor, currency, prev_hash, hash,
                            source_ref)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
    [
      record.id,
      record.accountId,
      record.seq,
      record.occurredAt,
      record.actor,
      record.action,
      record.subjectType,
      record.subjectId,
      record.reason,
      record.before === null ? null : JSON.stringify(record.before),
      record.after === null ? null : JSON.stringify(record.after),
      record.amountMinor,
      record.currency,
      record.prevHash,
      record.hash,
      entry.sourceRef ?? null,
    ],
  );
  await tx.query("update audit_heads set seq = $2, hash = $3 where account_id = $1", [
    entry.accountId,
    record.seq,
    hash,
  ]);
  return record;
}

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

const SELECT_RECORD = `select id, account_id, seq::text, occurred_at, actor, action, subject_type,
  subject_id, reason, before, after, amount_minor::text, currency, prev_hash, hash from audit_log`;

/** A page of an account's records, newest first, before sequence number `beforeSeq`. */
export async function listAudit(
  db: Queryable,
  accountId: string,
  options: { limit: number; beforeSeq?: number; action?: string },
): Promise<AuditRecord[]> {
  const { rows } = await db.query<AuditRow>(
    `${SELECT_RECORD} where account_id = $1 and ($2::bigint is null or seq < $2)
       and ($3::text is null or action = $3)
     order by audit_log.seq desc limit $4`,
    [accountId, options.beforeSeq ?? null, options.action ?? null, options.limit],
  );
  return rows.map(toRecord);
}

/** What verification found: ok, or the first broken link and why. */
export interface ChainVerification {
  accountId: string;
  ok: boolean;
  records: number;
  headSeq: number;
  problems: { seq: number; problem: "hash_mismatch" | "broken_link" | "gap" | "missing_tail" }[];
}

/**
 * Re-hashes an account's whole chain and checks every link, the sequence and the head: an edited
 * record fails its hash, a deleted one leaves a gap and a broken link, a deleted tail leaves the
 * head pointing past the last record.
 */
export async function verifyAuditChain(
  db: Queryable,
  accountId: string,
): Promise<ChainVerification> {
  const { rows } = await db.query<AuditRow>(
    `${SELECT_RECORD} where account_id = $1 order by audit_log.seq`,
    [accountId],
  );
  const head = await db.query<{ seq: string; hash: string }>(
    "select seq::text, hash from audit_heads where account_id = $1",
    [accountId],
  );
  const problems: ChainVerification["problems"] = [];
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  for (const row of rows) {
    const record = toRecord(row);
    if (record.seq !== expectedSeq) {
      problems.push({ seq: expectedSeq, problem: "gap" });
    }
    if (record.prevHash !== prevHash) {
      problems.push({ seq: record.seq, problem: "broken_link" });
    }
    const { id: _id, hash: stored, ...unhashed } = record;
    if ((await recordHash(unhashed)) !== stored) {
      problems.push({ seq: record.seq, problem: "hash_mismatch" });
    }
    prevHash = stored;
    expectedSeq = record.seq + 1;
  }
  const headSeq = Number(head.rows[0]?.seq ?? 0);
  const headHash = head.rows[0]?.hash ?? GENESIS_HASH;
  if (headSeq !== expectedSeq - 1 || headHash !== prevHash) {
    problems.push({ seq: headSeq, problem: "missing_tail" });
  }
  return { accountId, ok: problems.length === 0, records: rows.length, headSeq, problems };
}
