import type {
  OutboxPayload,
  RatedRecord,
  RatedUsageMessage,
  RawEventRecord,
} from "../pipeline/rated-usage-message.ts";
import { RATED_USAGE_MESSAGE_VERSION } from "../pipeline/rated-usage-message.ts";
import type { Sql } from "./sql.ts";

/**
 * Queue messages are limited to 128 KB; an outbox row and a packed message stay under this many
 * bytes of JSON so the envelope always fits.
 */
export const MAX_MESSAGE_PAYLOAD_BYTES = 96 * 1024;
/** Messages per `sendBatch` call (the queue accepts 100 and 256 KB per call). */
export const MAX_MESSAGES_PER_SEND = 2;

function byteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code < 0x80) {
      bytes += 1;
    } else if (code < 0x800) {
      bytes += 2;
    } else if (code >= 0xd800 && code <= 0xdbff) {
      // A surrogate pair is one 4-byte character; count it here and skip its low half.
      bytes += 4;
      i += 1;
    } else {
      bytes += 3;
    }
  }
  return bytes;
}

/**
 * Writes one ingest call's rated records and raw events to the outbox, split into rows that
 * each fit a queue message. Record ids become `<accountId>:<seq>:<n>`. Runs inside the
 * ingest transaction, so the outbox always matches the totals it describes.
 */
export function appendToOutbox(
  sql: Sql,
  accountId: string,
  nowMs: number,
  records: RatedRecord[],
  events: RawEventRecord[],
): number {
  let rows = 0;
  let pendingRecords = records;
  let eventCursor = 0;
  while (pendingRecords.length > 0 || eventCursor < events.length) {
    const seq = sql
      .exec<{ seq: number }>(
        "INSERT INTO outbox (created_ms, payload, bytes) VALUES (?, '', 0) RETURNING seq",
        nowMs,
      )
      .one().seq;
    const rowRecords = pendingRecords.map((record, n) => ({
      ...record,
      recordId: `${accountId}:${seq}:${n}`,
    }));
    pendingRecords = [];
    let text = JSON.stringify({ seq, createdMs: nowMs, records: rowRecords, events: [] });
    let bytes = byteLength(text);
    const rowEvents: RawEventRecord[] = [];
    while (eventCursor < events.length) {
      const event = events[eventCursor] as RawEventRecord;
      const eventBytes = byteLength(JSON.stringify(event)) + 1;
      if (rowEvents.length > 0 && bytes + eventBytes > MAX_MESSAGE_PAYLOAD_BYTES) {
        break;
      }
      rowEvents.push(event);
      bytes += eventBytes;
      eventCursor += 1;
    }
    const payload: OutboxPayload = {
      seq,
      createdMs: nowMs,
      records: rowRecords,
      events: rowEvents,
    };
    text = JSON.stringify(payload);
    sql.exec("UPDATE outbox SET payload = ?, bytes = ? WHERE seq = ?", text, byteLength(text), seq);
    rows += 1;
  }
  return rows;
}

/**
 * Packs unassigned outbox rows into batches, durably: each row gets the batch id of the batch
 * it will travel in (`<accountId>:<first seq>`) before anything is sent, so a flush that crashes
 * after sending resends exactly the same batches with the same ids. Run inside a transaction.
 */
export function assignBatches(sql: Sql, accountId: string): void {
  let batchId: string | null = null;
  let batchBytes = 0;
  const rows = sql
    .exec<{ seq: number; bytes: number }>(
      "SELECT seq, bytes FROM outbox WHERE batch_id IS NULL ORDER BY seq",
    )
    .toArray();
  for (const row of rows) {
    if (batchId === null || batchBytes + row.bytes > MAX_MESSAGE_PAYLOAD_BYTES) {
      batchId = `${accountId}:${row.seq}`;
      batchBytes = 0;
    }
    batchBytes += row.bytes;
    sql.exec("UPDATE outbox SET batch_id = ? WHERE seq = ?", batchId, row.seq);
  }
}

/** The assigned batches as queue messages, oldest first, at most `limit` of them. */
export function pendingMessages(
  sql: Sql,
  accountId: string,
  nowMs: number,
  limit: number,
): RatedUsageMessage[] {
  const batches = sql
    .exec<{ batch_id: string }>(
      "SELECT batch_id FROM outbox WHERE batch_id IS NOT NULL GROUP BY batch_id ORDER BY min(seq) LIMIT ?",
      limit,
    )
    .toArray();
  return batches.map(({ batch_id }) => {
    const message: RatedUsageMessage = {
      v: RATED_USAGE_MESSAGE_VERSION,
      kind: "rated_usage",
      batchId: batch_id,
      accountId,
      sentMs: nowMs,
      records: [],
      events: [],
    };
    for (const row of sql.exec<{ payload: string }>(
      "SELECT payload FROM outbox WHERE batch_id = ? ORDER BY seq",
      batch_id,
    )) {
      const payload = JSON.parse(row.payload) as OutboxPayload;
      message.records.push(...payload.records);
      message.events.push(...payload.events);
    }
    return message;
  });
}

/** Deletes the rows of batches the queue accepted. */
export function deleteBatches(sql: Sql, batchIds: string[]): void {
  for (const batchId of batchIds) {
    sql.exec("DELETE FROM outbox WHERE batch_id = ?", batchId);
  }
}

/** Outbox depth and the age of its oldest row, for health views and drift checks. */
export function outboxStats(sql: Sql): { rows: number; oldestCreatedMs: number | null } {
  const row = sql
    .exec<{ rows: number; oldest: number | null }>(
      "SELECT count(*) AS rows, min(created_ms) AS oldest FROM outbox",
    )
    .one();
  return { rows: row.rows, oldestCreatedMs: row.oldest };
}
