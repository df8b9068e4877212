import type { ClickHouseClient } from "@clickhouse/client-web";

/** ClickHouse's totals of one meter in one period (all segments and days). */
export interface AnalyticsTotals {
  meter: string;
  quantity: string;
  amount: string;
  events: number;
}

/**
 * Sums the rated records ClickHouse holds for one account and period, per meter. Reads with
 * FINAL, so a record delivered twice counts once even before merges. Decimal text without
 * trailing zeros. Throws the client's error.
 */
export async function readAnalyticsTotals(
  ch: ClickHouseClient,
  accountId: string,
  periodStartMs: number,
): Promise<AnalyticsTotals[]> {
  const result = await ch.query({
    query: `SELECT meter, toString(sum(quantity_delta)) AS quantity,
                   toString(sum(amount_delta)) AS amount, toString(sum(event_count)) AS events
            FROM usage_rated FINAL
            WHERE account_id = {account:String} AND period_start = {period:DateTime64(3)}
            GROUP BY meter ORDER BY meter`,
    query_params: { account: accountId, period: new Date(periodStartMs) },
    format: "JSONEachRow",
  });
  const rows = await result.json<{
    meter: string;
    quantity: string;
    amount: string;
    events: string;
  }>();
  return rows.map((row) => ({
    meter: row.meter,
    quantity: row.quantity,
    amount: row.amount,
    events: Number(row.events),
  }));
}

/** Period starts (epoch ms) ClickHouse holds rated records for, for one account, newest first. */
export async function analyticsPeriods(
  ch: ClickHouseClient,
  accountId: string,
  limit: number,
): Promise<number[]> {
  const result = await ch.query({
    query: `SELECT toUnixTimestamp64Milli(period_start) AS ms
            FROM usage_rated WHERE account_id = {account:String}
            GROUP BY ms ORDER BY ms DESC LIMIT {limit:UInt32}`,
    query_params: { account: accountId, limit },
    format: "JSONEachRow",
  });
  return (await result.json<{ ms: string | number }>()).map((row) => Number(row.ms));
}
