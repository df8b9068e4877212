import type { ClickHouseClient } from "@clickhouse/client-web";

/** Bucket widths the history endpoint offers, in seconds; buckets are aligned to UTC. */
export const GRANULARITY_SECONDS = { minute: 60, hour: 3_600, day: 86_400 } as const;
export type Granularity = keyof typeof GRANULARITY_SECONDS;

/** Most buckets one query may span: (to − from) / width. */
export const MAX_HISTORY_BUCKETS = 10_000;
/** Most rows one answer carries; a bigger answer is cut and flagged `truncated`. */
export const MAX_HISTORY_ROWS = 10_000;

export interface HistoryQuery {
  accountId: string;
  /** Half-open window `[fromMs, toMs)` of event time. */
  fromMs: number;
  toMs: number;
  granularity: Granularity;
  /** Only these meters; empty means all. */
  meters: readonly string[];
  /** A property name to break buckets down by, or null. */
  groupBy: string | null;
}

export interface HistoryRow {
  /** Start of the bucket (UTC-aligned), epoch ms. */
  startMs: number;
  meter: string;
  /** The `groupBy` property's value; null when not grouping or the event lacks it. */
  group: string | null;
  /** Accepted events in the bucket (each counted once, however often it was delivered). */
  events: number;
  /** Sum and largest of the events' values (decimal text); null when no event had a value. */
  valueSum: string | null;
  valueMax: string | null;
}

export interface HistoryResult {
  rows: HistoryRow[];
  truncated: boolean;
}

/**
 * Every value reaches ClickHouse as a bound parameter: the account, window, meters, bucket
 * width and the group-by property name (used as a key of the properties map). No part of the
 * statement text depends on the request.
 */
const HISTORY_SQL = `
SELECT
  toString(toUnixTimestamp(toStartOfInterval(event_time, toIntervalSecond({step:UInt32})))) AS bucket,
  meter,
  if({grouped:Bool} AND mapContains(properties, {group:String}), properties[{group:String}], NULL) AS grp,
  toString(count()) AS events,
  toString(sum(value)) AS value_sum,
  toString(max(value)) AS value_max,
  toString(countIf(value IS NOT NULL)) AS valued
FROM usage_events FINAL
WHERE account_id = {account:String}
  AND event_time >= {from:DateTime64(3)} AND event_time < {to:DateTime64(3)}
  AND (empty({meters:Array(String)}) OR has({meters:Array(String)}, meter))
GROUP BY bucket, meter, grp
ORDER BY bucket, meter, grp
LIMIT {limit:UInt32}`;

/**
 * An account's raw usage over time from ClickHouse: accepted events per UTC-aligned bucket and
 * meter, optionally broken down by one property, with the sum and maximum of their values.
 * Reads with FINAL, so an event delivered more than once counts once even before merges.
 * The caller validates the window and names (see MAX_HISTORY_BUCKETS). Throws the client's
 * error when ClickHouse is unreachable or refuses the query.
 */
export async function queryHistory(
  ch: ClickHouseClient,
  query: HistoryQuery,
): Promise<HistoryResult> {
  const result = await ch.query({
    query: HISTORY_SQL,
    query_params: {
      step: GRANULARITY_SECONDS[query.granularity],
      grouped: query.groupBy !== null,
      group: query.groupBy ?? "",
      account: query.accountId,
      from: new Date(query.fromMs),
      to: new Date(query.toMs),
      meters: [...query.meters],
      limit: MAX_HISTORY_ROWS + 1,
    },
    format: "JSONEachRow",
  });
  const rows = await result.json<{
    bucket: string;
    meter: string;
    grp: string | null;
    events: string;
    value_sum: string | null;
    value_max: string | null;
    valued: string;
  }>();
  const truncated = rows.length > MAX_HISTORY_ROWS;
  return {
    truncated,
    rows: rows.slice(0, MAX_HISTORY_ROWS).map((row) => {
      const valued = Number(row.valued) > 0;
      return {
        startMs: Number(row.bucket) * 1000,
        meter: row.meter,
        group: row.grp,
        events: Number(row.events),
        valueSum: valued ? row.value_sum : null,
        valueMax: valued ? row.value_max : null,
      };
    }),
  };
}
