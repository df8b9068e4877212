import type { ClickHouseClient } from "@clickhouse/client-web";
import type { RatedUsageMessage } from "../pipeline/rated-usage-message.ts";

/** What one insert pair wrote: rows per table (before deduplication). */
export interface UsageInsertResult {
  eventRows: number;
  ratedRows: number;
  token: string;
}

/**
 * The insert-deduplication token for a group of batches: SHA-256 (hex) of their sorted batch
 * ids. The same group inserted again carries the same token and is dropped by ClickHouse; a
 * different grouping gets another token, and the tables' ReplacingMergeTree keys plus FINAL
 * reads collapse the rows instead.
 */
export async function insertTokenFor(batchIds: readonly string[]): Promise<string> {
  const joined = [...batchIds].sort().join("\n");
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(joined));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The `usage_events` rows of some messages, in the table's column names. Instants go as integer
 * epoch milliseconds, which ClickHouse reads into DateTime64(3) as a scaled Unix timestamp
 * (documented behaviour, and several times cheaper to produce than date text).
 */
export function eventRows(messages: readonly RatedUsageMessage[]): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (const message of messages) {
    for (const event of message.events) {
      rows.push({
        account_id: message.accountId,
        event_id: event.id,
        meter: event.meter,
        value: event.value,
        event_time: event.timeMs,
        received_at: event.receivedMs,
        period_start: event.periodStartMs,
        properties: event.properties,
        batch_id: message.batchId,
      });
    }
  }
  return rows;
}

/** The `usage_rated` rows of some messages, in the table's column names. */
export function ratedRows(messages: readonly RatedUsageMessage[]): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (const message of messages) {
    for (const r of message.records) {
      rows.push({
        account_id: message.accountId,
        meter: r.meter,
        period_start: r.periodStartMs,
        period_end: r.periodEndMs,
        segment: r.segment,
        plan_id: r.planId,
        day: r.day,
        record_id: r.recordId,
        quantity_delta: r.quantityDelta,
        amount_delta: r.amountDelta,
        currency: r.currency,
        event_count: r.eventCount,
        quantity_total: r.quantityTotal,
        amount_total: r.amountTotal,
        batch_id: message.batchId,
        sent_at: message.sentMs,
      });
    }
  }
  return rows;
}

/**
 * Writes the raw events and rated records of `messages` to ClickHouse: one insert per table,
 * however many messages (callers pack thousands of rows per call), each carrying the group's
 * deduplication token with synchronous inserts (an async insert's deduplication differs between
 * server versions; see docs/local-stack/clickhouse.md). Safe to repeat with the same or another
 * grouping. Throws the client's error (ClickHouseError, or a fetch failure when the server is
 * unreachable); nothing is known to be stored then, and repeating is the remedy.
 */
export async function insertUsage(
  ch: ClickHouseClient,
  messages: readonly RatedUsageMessage[],
): Promise<UsageInsertResult> {
  const token = await insertTokenFor(messages.map((m) => m.batchId));
  const settings = { insert_deduplication_token: token, async_insert: 0 as const };
  const events = eventRows(messages);
  const rated = ratedRows(messages);
  const inserts: Promise<unknown>[] = [];
  if (events.length > 0) {
    inserts.push(
      ch.insert({
        table: "usage_events",
        values: events,
        format: "JSONEachRow",
        clickhouse_settings: settings,
      }),
    );
  }
  if (rated.length > 0) {
    inserts.push(
      ch.insert({
        table: "usage_rated",
        values: rated,
        format: "JSONEachRow",
        clickhouse_settings: settings,
      }),
    );
  }
  await Promise.all(inserts);
  return { eventRows: events.length, ratedRows: rated.length, token };
}
