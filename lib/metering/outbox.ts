import type { RatedRecord, RawEventRecord } from "../pipeline/rated-usage-message.ts";
import { RATED_USAGE_MESSAGE_VERSION } from "../pipeline/rated-usage-message.ts";
import type { Sql } from "./sql.ts";

/**
 * The account meter's transactional outbox. Each row is one rated-usage queue message, written
 * in the ingest transaction that produced it, with a deterministic batch id
 * `<accountId>:<seq>` the sinks deduplicate by. A row leaves the outbox only when the
 * rated-usage consumer confirms both sinks hold it; until then it is sent again after a delay.
 *
 * Sending: the Worker that made the ingest call normally sends the call's messages itself, right
 * after it (one `sendBatch` for every account of the request); the row is then marked handed
 * over. Rows nobody took (tests, a failed send reported back) are sent by the meter's alarm.
 */

/**
 * Queue messages are limited to 128 KB; a row's JSON stays under this many bytes so the message
 * always fits.
 */
export const MAX_MESSAGE_PAYLOAD_BYTES = 96 * 1024;
/** Messages per `sendBatch` call: two full rows fit the queue's 256 KB per call. */
export const MAX_MESSAGES_PER_SEND = 2;
/**
 * How many times a batch is sent before it is left for a human: a batch the sinks keep refusing
 * is dead-lettered by the queue after its own retries; resending it forever would only repeat
 * that. Its rows stay in the outbox (visible as stuck in pipeline health) until confirmed.
 */
export const MAX_SENDS = 5;

/** One queue message ready to send: the body is the message's JSON text. */
export interface OutboxMessage {
  batchId: string;
  body: string;
}

const NON_ASCII = /[^\u0020-\u007e]/;
const ENCODER = new TextEncoder();

/** UTF-8 size of `text`; the common printable-ASCII case costs one native regex scan. */
function byteLength(text: string): number {
  return NON_ASCII.test(text) ? ENCODER.encode(text).byteLength : text.length;
}

/** Hands out outbox sequence numbers; the meter keeps one in memory per object. */
export interface SeqCounter {
  next(): number;
}

/** A counter continuing after the highest sequence number stored. */
export function seqCounterFrom(sql: Sql): SeqCounter {
  const row = sql
    .exec<{ last: number | null }>(
      "SELECT max(seq) AS last FROM sqlite_sequence WHERE name = 'outbox'",
    )
    .toArray()[0];
  const stored = sql.exec<{ last: number | null }>("SELECT max(seq) AS last FROM outbox").one();
  let last = Math.max(row?.last ?? 0, stored.last ?? 0);
  return {
    next() {
      last += 1;
      return last;
    },
  };
}

function messageText(
  accountId: string,
  seq: number,
  nowMs: number,
  records: RatedRecord[],
  events: RawEventRecord[],
): string {
  return JSON.stringify({
    v: RATED_USAGE_MESSAGE_VERSION,
    kind: "rated_usage",
    batchId: `${accountId}:${seq}`,
    accountId,
    sentMs: nowMs,
    records: records.map((record, n) => ({ ...record, recordId: `${accountId}:${seq}:${n}` })),
    events,
  });
}

function writeRow(
  sql: Sql,
  accountId: string,
  seq: number,
  nowMs: number,
  body: string,
  handed: boolean,
): OutboxMessage {
  const batchId = `${accountId}:${seq}`;
  sql.exec(
    `INSERT INTO outbox (seq, created_ms, payload, bytes, batch_id, sent_ms, send_count)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
    seq,
    nowMs,
    body,
    byteLength(body),
    batchId,
    handed ? nowMs : null,
    handed ? 1 : 0,
  );
  return { batchId, body };
}

/**
 * Writes one ingest call's rated records and raw events as outbox messages, split so each fits
 * a queue message (the records travel in the first). Record ids become `<accountId>:<seq>:<n>`.
 * Runs inside the ingest transaction, so the outbox always matches the totals it describes.
 * With `handed`, the rows are marked as handed to the caller, who sends them now.
 */
export function appendToOutbox(
  sql: Sql,
  seqs: SeqCounter,
  accountId: string,
  nowMs: number,
  records: RatedRecord[],
  events: RawEventRecord[],
  handed: boolean,
): OutboxMessage[] {
  const seq = seqs.next();
  const whole = messageText(accountId, seq, nowMs, records, events);
  const bytes = byteLength(whole);
  if (bytes <= MAX_MESSAGE_PAYLOAD_BYTES || events.length <= 1) {
    return [writeRow(sql, accountId, seq, nowMs, whole, handed)];
  }
  // Too big for one message: the records and a share of the events in the first, the rest
  // spread evenly, sizing the shares from the measured bytes per event (with headroom).
  const perRow = Math.max(1, Math.floor((events.length * MAX_MESSAGE_PAYLOAD_BYTES * 0.8) / bytes));
  const messages = [
    writeRow(
      sql,
      accountId,
      seq,
      nowMs,
      messageText(accountId, seq, nowMs, records, events.slice(0, perRow)),
      handed,
    ),
  ];
  for (let start = perRow; start < events.length; start += perRow) {
    const next = seqs.next();
    messages.push(
      writeRow(
        sql,
        accountId,
        next,
        nowMs,
        messageText(accountId, next, nowMs, [], events.slice(start, start + perRow)),
        handed,
      ),
    );
  }
  return messages;
}

/**
 * Messages due to be sent by the meter itself: rows nobody took (oldest first), then rows sent
 * at least `resendAfterMs` ago without a confirmation and fewer than MAX_SENDS times. At most
 * `limit`. Both reads use the outbox's partial indexes, so a long outbox costs nothing here.
 */
export function dueMessages(
  sql: Sql,
  nowMs: number,
  limit: number,
  resendAfterMs: number,
): OutboxMessage[] {
  const unsent = sql
    .exec<{ batch_id: string; payload: string }>(
      "SELECT batch_id, payload FROM outbox WHERE sent_ms IS NULL ORDER BY seq LIMIT ?",
      limit,
    )
    .toArray();
  const resend =
    unsent.length < limit
      ? sql
          .exec<{ batch_id: string; payload: string }>(
            `SELECT batch_id, payload FROM outbox
              WHERE sent_ms IS NOT NULL AND sent_ms <= ? AND send_count < ?
              ORDER BY sent_ms LIMIT ?`,
            nowMs - resendAfterMs,
            MAX_SENDS,
            limit - unsent.length,
          )
          .toArray()
      : [];
  return [...unsent, ...resend].map((row) => ({ batchId: row.batch_id, body: row.payload }));
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

/** Puts handed-over batches back to be sent by the meter (the caller could not send them). */
export function markUnsent(sql: Sql, batchIds: string[]): number {
  let changed = 0;
  for (const batchId of batchIds) {
    changed += sql.exec(
      "UPDATE outbox SET sent_ms = NULL, send_count = max(send_count - 1, 0) WHERE batch_id = ? AND sent_ms IS NOT NULL",
      batchId,
    ).rowsWritten;
  }
  return changed;
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

/** Whether any row waits to be sent by the meter itself. */
export function hasUnsent(sql: Sql): boolean {
  return sql.exec("SELECT 1 FROM outbox WHERE sent_ms IS NULL LIMIT 1").toArray().length > 0;
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

/** Counts the outbox (a scan: for health views, not the hot path). */
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
