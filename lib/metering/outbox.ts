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

const NON_ASCII = /[^\u0000-\u007f]/;
const ENCODER = new TextEncoder();

/** UTF-8 size of `text`; the common all-ASCII case costs one native regex scan. */
function byteLength(text: string): number {
  return NON_ASCII.test(text) ? ENCODER.encode(text).byteLength : text.length;
}

function insertRow(sql: Sql, nowMs: number): number {
  return sql
    .exec<{ seq: number }>(
      "INSERT INTO outbox (created_ms, payload, bytes) VALUES (?, '', 0) RETURNING seq",
      nowMs,
    )
    .one().seq;
}

function writeRow(
  sql: Sql,
  accountId: string,
  seq: number,
  nowMs: number,
  records: RatedRecord[],
  events: RawEventRecord[],
): number {
  const payload: OutboxPayload = {
    seq,
    createdMs: nowMs,
    records: records.map((record, n) => ({ ...record, recordId: `${accountId}:${seq}:${n}` })),
    events,
  };
  const text = JSON.stringify(payload);
  const bytes = byteLength(text);
  sql.exec("UPDATE outbox SET payload = ?, bytes = ? WHERE seq = ?", text, bytes, seq);
  return bytes;
}

/**
 * Writes one ingest call's rated records and raw events to the outbox, split into rows that
 * each fit a queue message (the records travel in the first row). Record ids become
 * `<accountId>:<seq>:<n>`. Runs inside the ingest transaction, so the outbox always matches
 * the totals it describes. Returns the number of rows written.
 */
export function appendToOutbox(
  sql: Sql,
  accountId: string,
  nowMs: number,
  records: RatedRecord[],
  events: RawEventRecord[],
): number {
  const seq = insertRow(sql, nowMs);
  const bytes = writeRow(sql, accountId, seq, nowMs, records, events);
  if (bytes <= MAX_MESSAGE_PAYLOAD_BYTES || events.length <= 1) {
    return 1;
  }
  // Too big for one message: keep the records and a share of the events in this row and spread
  // the rest evenly, sizing the shares from the measured bytes per event (with headroom).
  const perRow = Math.max(1, Math.floor((events.length * MAX_MESSAGE_PAYLOAD_BYTES * 0.8) / bytes));
  writeRow(sql, accountId, seq, nowMs, records, events.slice(0, perRow));
  let rows = 1;
  for (let start = perRow; start < events.length; start += perRow) {
    const next = insertRow(sql, nowMs);
    writeRow(sql, accountId, next, nowMs, [], events.slice(start, start + perRow));
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

/**
 * How many times a batch is sent before it is left for a human: a batch the sinks keep refusing
 * is dead-lettered by the queue after its own retries; resending it forever would only repeat
 * that. Its rows stay in the outbox (visible as stuck in pipeline health) until confirmed.
 */
export const MAX_SENDS = 5;

/**
 * The assigned batches due to be sent — never sent, or sent at least `resendAfterMs` ago without
 * a confirmation and fewer than MAX_SENDS times — as queue messages, oldest first, at most
 * `limit` of them.
 */
export function pendingMessages(
  sql: Sql,
  accountId: string,
  nowMs: number,
  limit: number,
  resendAfterMs: number,
): RatedUsageMessage[] {
  const batches = sql
    .exec<{ batch_id: string }>(
      `SELECT batch_id FROM outbox WHERE batch_id IS NOT NULL
         AND (sent_ms IS NULL OR (sent_ms <= ? AND send_count < ?))
       GROUP BY batch_id ORDER BY min(seq) LIMIT ?`,
      nowMs - resendAfterMs,
      MAX_SENDS,
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

/** Records that the queue accepted these batches at `nowMs` (they wait for confirmation). */
export function markSent(sql: Sql, batchIds: string[], nowMs: number): void {
  for (const batchId of batchIds) {
    sql.exec(
      "UPDATE outbox SET sent_ms = ?, send_count = send_count + 1 WHERE batch_id = ?",
      nowMs,
      batchId,
    );
  }
}

/**
 * Deletes the rows of batches both sinks confirmed holding. Unknown ids are ignored (a
 * confirmation can arrive twice). Returns the rows deleted.
 */
export function confirmBatches(sql: Sql, batchIds: string[]): number {
  let deleted = 0;
  for (const batchId of batchIds) {
    deleted += sql.exec("DELETE FROM outbox WHERE batch_id = ?", batchId).rowsWritten;
  }
  return deleted;
}

/** When the earliest unconfirmed batch becomes due for a resend, or null when none will. */
export function nextResendAtMs(sql: Sql, resendAfterMs: number): number | null {
  const row = sql
    .exec<{ first: number | null }>(
      "SELECT min(sent_ms) AS first FROM outbox WHERE sent_ms IS NOT NULL AND send_count < ?",
      MAX_SENDS,
    )
    .one();
  return row.first === null ? null : row.first + resendAfterMs;
}

/** Outbox facts for health views and drift checks. */
export interface OutboxStats {
  rows: number;
  oldestCreatedMs: number | null;
  /** Rows not sent yet. */
  unsent: number;
  /** Rows sent and waiting for the sinks' confirmation. */
  unconfirmed: number;
  /** Rows sent MAX_SENDS times without a confirmation: a human should look. */
  stuck: number;
}

export function outboxStats(sql: Sql): OutboxStats {
  const row = sql
    .exec<{ rows: number; oldest: number | null; unsent: number | null; stuck: number | null }>(
      `SELECT count(*) AS rows, min(created_ms) AS oldest,
              sum(CASE WHEN sent_ms IS NULL THEN 1 ELSE 0 END) AS unsent,
              sum(CASE WHEN send_count >= ? THEN 1 ELSE 0 END) AS stuck
         FROM outbox`,
      MAX_SENDS,
    )
    .one();
  const unsent = row.unsent ?? 0;
  return {
    rows: row.rows,
    oldestCreatedMs: row.oldest,
    unsent,
    unconfirmed: row.rows - unsent,
    stuck: row.stuck ?? 0,
  };
}
