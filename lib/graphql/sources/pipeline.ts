import type { Queryable } from "../../adapters/postgres.ts";

// Pipeline facts kept in Postgres by the rated-usage consumer (migration 0003): batches applied
// (with when the meter sent them), batches retrying, and dead letters, for many accounts at once.

/** How far behind the ledger ran over a recent window, from the batches it applied. */
export interface LedgerLag {
  windowMs: number;
  batches: number;
  events: number;
  /** Between the meter sending a batch and the consumer applying it; null without batches. */
  maxLagMs: number | null;
  avgLagMs: number | null;
  lastReceivedAt: string | null;
}

/** Lag of the batches the ledger applied in `[nowMs - windowMs, nowMs]`. */
export async function ledgerLag(
  db: Queryable,
  nowMs: number,
  windowMs: number,
): Promise<LedgerLag> {
  const { rows } = await db.query<{
    n: number;
    events: string | null;
    max_ms: string | null;
    avg_ms: string | null;
    last: Date | null;
  }>(
    `select count(*)::int as n, sum(events)::text as events,
            round(max(extract(epoch from received_at - sent_at) * 1000))::bigint::text as max_ms,
            round(avg(extract(epoch from received_at - sent_at) * 1000))::bigint::text as avg_ms,
            max(received_at) as last
       from rated_batches where received_at >= $1`,
    [new Date(nowMs - windowMs).toISOString()],
  );
  const row = rows[0];
  return {
    windowMs,
    batches: row?.n ?? 0,
    events: Number(row?.events ?? 0),
    maxLagMs: row?.max_ms == null ? null : Number(row.max_ms),
    avgLagMs: row?.avg_ms == null ? null : Number(row.avg_ms),
    lastReceivedAt: row?.last ? row.last.toISOString() : null,
  };
}

/** Batches retrying (with a failure note) overall, and when the oldest last failed. */
export async function retryingOverall(
  db: Queryable,
): Promise<{ batches: number; oldestFailedAtMs: number | null }> {
  const { rows } = await db.query<{ n: number; oldest: Date | null }>(
    "select count(*)::int as n, min(failed_at) as oldest from pipeline_failures",
  );
  return { batches: rows[0]?.n ?? 0, oldestFailedAtMs: rows[0]?.oldest?.getTime() ?? null };
}

/** Per-account counts of retrying batches and pending dead letters, in one query. */
export interface AccountPipelineCounts {
  accountId: string;
  retryingBatches: number;
  pendingDeadLetters: number;
}

/** Retrying batches and unreplayed dead letters of many accounts; absent accounts have none. */
export async function pipelineCountsOfAccounts(
  db: Queryable,
  accountIds: readonly string[],
): Promise<AccountPipelineCounts[]> {
  const { rows } = await db.query<{ account_id: string; retrying: number; dead: number }>(
    `select account_id, sum(retrying)::int as retrying, sum(dead)::int as dead from (
       select account_id, 1 as retrying, 0 as dead from pipeline_failures
        where account_id = any($1::text[])
       union all
       select account_id, 0, 1 from dead_letters
        where replayed_at is null and account_id = any($1::text[])
     ) facts group by account_id order by account_id`,
    [accountIds],
  );
  return rows.map((row) => ({
    accountId: row.account_id,
    retryingBatches: row.retrying,
    pendingDeadLetters: row.dead,
  }));
}

/**
 * Accounts whose outboxes the health view should look at, at most `limit`: those the drift
 * check would pick (trouble first, then recent ledger activity; lib/ledger/activity.ts) come
 * first from the caller; this fills the rest with the newest accounts, whose events may not have
 * reached the ledger at all (an outbox stuck before the queue leaves no trace in Postgres).
 */
export async function newestAccounts(db: Queryable, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    "select id from accounts order by created_at desc, id limit $1",
    [limit],
  );
  return rows.map((row) => row.id);
}
