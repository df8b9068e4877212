import type { Queryable } from "../adapters/postgres.ts";

/**
 * The consumer's note about a batch's latest failed delivery. A note exists while the batch is
 * retrying: it is cleared when the batch lands in both sinks or is dead-lettered (the dead
 * letter keeps its text).
 */
export interface FailureNote {
  batchId: string;
  accountId: string;
  /** The delivery attempt that failed (1 = first delivery). */
  attempts: number;
  /** An AppError code, `CLICKHOUSE_<TYPE>`, or `UNEXPECTED`. */
  errorCode: string;
  error: string;
  failedAtMs: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Longest error text kept; ClickHouse errors can quote whole statements. */
export const MAX_ERROR_TEXT = 2_000;

/**
 * Upserts failure notes, keeping the newest per batch (an older note arriving late never
 * overwrites a newer one). Throws the database error.
 */
export async function recordFailures(db: Queryable, notes: readonly FailureNote[]): Promise<void> {
  if (notes.length === 0) {
    return;
  }
  await db.query(
    `insert into pipeline_failures (batch_id, account_id, attempts, error_code, error, failed_at)
     select * from unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[],
                          $6::timestamptz[])
     on conflict (batch_id) do update set
       attempts = excluded.attempts, error_code = excluded.error_code, error = excluded.error,
       failed_at = excluded.failed_at
     where excluded.failed_at >= pipeline_failures.failed_at`,
    [
      notes.map((n) => n.batchId),
      notes.map((n) => n.accountId),
      notes.map((n) => n.attempts),
      notes.map((n) => n.errorCode),
      notes.map((n) => n.error.slice(0, MAX_ERROR_TEXT)),
      notes.map((n) => iso(n.failedAtMs)),
    ],
  );
}

/** Removes the notes of batches that landed (or were dead-lettered). Throws the database error. */
export async function clearFailures(db: Queryable, batchIds: readonly string[]): Promise<void> {
  if (batchIds.length === 0) {
    return;
  }
  await db.query("delete from pipeline_failures where batch_id = any($1::text[])", [batchIds]);
}

/** The notes held for some batches, by batch id. */
export async function readFailures(
  db: Queryable,
  batchIds: readonly string[],
): Promise<Map<string, FailureNote>> {
  const notes = new Map<string, FailureNote>();
  if (batchIds.length === 0) {
    return notes;
  }
  const result = await db.query<{
    batch_id: string;
    account_id: string;
    attempts: number;
    error_code: string;
    error: string;
    failed_ms: string;
  }>(
    `select batch_id, account_id, attempts, error_code, error,
            (extract(epoch from failed_at) * 1000)::bigint::text as failed_ms
     from pipeline_failures where batch_id = any($1::text[])`,
    [batchIds],
  );
  for (const row of result.rows) {
    notes.set(row.batch_id, {
      batchId: row.batch_id,
      accountId: row.account_id,
      attempts: row.attempts,
      errorCode: row.error_code,
      error: row.error,
      failedAtMs: Number(row.failed_ms),
    });
  }
  return notes;
}

/** Batches of an account currently retrying, and when the oldest of them last failed. */
export async function retryingBatches(
  db: Queryable,
  accountId: string,
): Promise<{ batches: number; oldestFailedAtMs: number | null }> {
  const result = await db.query<{ n: string; oldest_ms: string | null }>(
    `select count(*)::text as n, (extract(epoch from min(failed_at)) * 1000)::bigint::text as oldest_ms
     from pipeline_failures where account_id = $1`,
    [accountId],
  );
  const row = result.rows[0];
  return {
    batches: Number(row?.n ?? 0),
    oldestFailedAtMs: row?.oldest_ms == null ? null : Number(row.oldest_ms),
  };
}
