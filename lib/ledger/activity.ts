import type { Queryable } from "../adapters/postgres.ts";

/**
 * Accounts worth a drift check now, at most `limit`: first those with batches retrying or dead
 * letters pending (trouble), then those whose batches the ledger received since `sinceMs`, most
 * recent first. Bounded so a scheduled check does bounded work however many accounts exist.
 */
export async function accountsToCheck(
  db: Queryable,
  sinceMs: number,
  limit: number,
): Promise<string[]> {
  const result = await db.query<{ account_id: string }>(
    `select account_id from (
       select account_id, 0 as rank, now() as at from pipeline_failures
       union all
       select account_id, 0, now() from dead_letters
         where replayed_at is null and account_id is not null
       union all
       select account_id, 1, received_at from rated_batches where received_at >= $1
     ) candidates
     group by account_id
     order by min(rank), max(at) desc, account_id
     limit $2`,
    [new Date(sinceMs).toISOString(), limit],
  );
  return result.rows.map((row) => row.account_id);
}
