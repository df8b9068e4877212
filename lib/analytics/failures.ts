import type { ClickHouseClient } from "@clickhouse/client-web";
import { type FailureNote, MAX_ERROR_TEXT } from "../ledger/failures.ts";

/**
 * Writes failure notes to ClickHouse's `pipeline_failures`: the fallback place when Postgres,
 * where notes normally go, is the sink that failed. Throws the client's error.
 */
export async function recordFailuresInClickHouse(
  ch: ClickHouseClient,
  notes: readonly FailureNote[],
): Promise<void> {
  if (notes.length === 0) {
    return;
  }
  await ch.insert({
    table: "pipeline_failures",
    values: notes.map((n) => ({
      batch_id: n.batchId,
      account_id: n.accountId,
      attempts: n.attempts,
      error_code: n.errorCode,
      error: n.error.slice(0, MAX_ERROR_TEXT),
      // Epoch milliseconds: ClickHouse reads an integer into DateTime64(3) as a scaled timestamp.
      failed_at: n.failedAtMs,
    })),
    format: "JSONEachRow",
    clickhouse_settings: { async_insert: 0 },
  });
}

/** The newest notes ClickHouse holds for some batches, by batch id. Throws the client's error. */
export async function readFailuresFromClickHouse(
  ch: ClickHouseClient,
  batchIds: readonly string[],
): Promise<Map<string, FailureNote>> {
  const notes = new Map<string, FailureNote>();
  if (batchIds.length === 0) {
    return notes;
  }
  const result = await ch.query({
    query: `SELECT batch_id, account_id, attempts, error_code, error,
                   toString(toUnixTimestamp64Milli(failed_at)) AS failed_ms
            FROM pipeline_failures FINAL WHERE batch_id IN {batches:Array(String)}`,
    query_params: { batches: batchIds },
    format: "JSONEachRow",
  });
  const rows = await result.json<{
    batch_id: string;
    account_id: string;
    attempts: number | string;
    error_code: string;
    error: string;
    failed_ms: string;
  }>();
  for (const row of rows) {
    notes.set(row.batch_id, {
      batchId: row.batch_id,
      accountId: row.account_id,
      attempts: Number(row.attempts),
      errorCode: row.error_code,
      error: row.error,
      failedAtMs: Number(row.failed_ms),
    });
  }
  return notes;
}
