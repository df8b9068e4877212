import type { Queryable } from "../adapters/postgres.ts";

export type DeadLetterReason = "invalid_body" | "retries_exhausted";

/** A message no consumer could apply, as recorded for humans. */
export interface DeadLetter {
  /** `dlq_…` */
  id: string;
  /** The queue's message id; a repeated dead-letter delivery is recorded once. */
  messageId: string;
  queue: string;
  reason: DeadLetterReason;
  batchId: string | null;
  accountId: string | null;
  /** The message body as JSON text: what a replay sends again. */
  body: string;
  errorCode: string;
  error: string;
  /** Delivery attempts before it was given up, when known. */
  attempts: number | null;
  lastFailedAtMs: number | null;
  deadAtMs: number;
  replayedAtMs: number | null;
  replays: number;
}

export type NewDeadLetter = Omit<DeadLetter, "replayedAtMs" | "replays">;

interface DeadLetterRow {
  id: string;
  message_id: string;
  queue: string;
  reason: DeadLetterReason;
  batch_id: string | null;
  account_id: string | null;
  body: string;
  error_code: string;
  error: string;
  attempts: number | null;
  last_failed_ms: string | null;
  dead_ms: string;
  replayed_ms: string | null;
  replays: number;
}

const COLUMNS = `id, message_id, queue, reason, batch_id, account_id, body, error_code, error,
  attempts, (extract(epoch from last_failed_at) * 1000)::bigint::text as last_failed_ms,
  (extract(epoch from dead_at) * 1000)::bigint::text as dead_ms,
  (extract(epoch from replayed_at) * 1000)::bigint::text as replayed_ms, replays`;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const msOf = (text: string | null) => (text === null ? null : Number(text));

function fromRow(row: DeadLetterRow): DeadLetter {
  return {
    id: row.id,
    messageId: row.message_id,
    queue: row.queue,
    reason: row.reason,
    batchId: row.batch_id,
    accountId: row.account_id,
    body: row.body,
    errorCode: row.error_code,
    error: row.error,
    attempts: row.attempts,
    lastFailedAtMs: msOf(row.last_failed_ms),
    deadAtMs: Number(row.dead_ms),
    replayedAtMs: msOf(row.replayed_ms),
    replays: row.replays,
  };
}

/** Postgres text cannot hold NUL; a dead letter must be recordable whatever the body held. */
function storable(text: string | null): string | null {
  return text === null ? null : text.replaceAll("\u0000", "\uFFFD");
}

/**
 * Records dead letters; one already recorded under the same message id is left as it is (the
 * queue delivers at least once). Returns how many rows were new. Throws the database error.
 */
export async function recordDeadLetters(
  db: Queryable,
  letters: readonly NewDeadLetter[],
): Promise<number> {
  if (letters.length === 0) {
    return 0;
  }
  const result = await db.query(
    `insert into dead_letters (id, message_id, queue, reason, batch_id, account_id, body,
                               error_code, error, attempts, last_failed_at, dead_at)
     select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                          $7::text[], $8::text[], $9::text[], $10::int[], $11::timestamptz[],
                          $12::timestamptz[])
     on conflict (message_id) do nothing`,
    [
      letters.map((l) => l.id),
      letters.map((l) => l.messageId),
      letters.map((l) => l.queue),
      letters.map((l) => l.reason),
      letters.map((l) => storable(l.batchId)),
      letters.map((l) => storable(l.accountId)),
      letters.map((l) => storable(l.body)),
      letters.map((l) => storable(l.errorCode)),
      letters.map((l) => storable(l.error)),
      letters.map((l) => l.attempts),
      letters.map((l) => iso(l.lastFailedAtMs)),
      letters.map((l) => iso(l.deadAtMs)),
    ],
  );
  return result.rowCount;
}

export type DeadLetterStatus = "pending" | "replayed" | "all";

/**
 * Dead letters, oldest first, `limit` at most, after the cursor id `after` when given (ids sort
 * by creation time). `pending` means not replayed yet.
 */
export async function listDeadLetters(
  db: Queryable,
  options: { status: DeadLetterStatus; limit: number; after?: string; accountId?: string },
): Promise<DeadLetter[]> {
  const result = await db.query<DeadLetterRow>(
    `select ${COLUMNS} from dead_letters
     where ($1 = 'all' or ($1 = 'pending') = (replayed_at is null))
       and ($2::text is null or id > $2) and ($3::text is null or account_id = $3)
     order by id limit $4`,
    [options.status, options.after ?? null, options.accountId ?? null, options.limit],
  );
  return result.rows.map(fromRow);
}

/** One dead letter by id, or null. */
export async function readDeadLetter(db: Queryable, id: string): Promise<DeadLetter | null> {
  const result = await db.query<DeadLetterRow>(
    `select ${COLUMNS} from dead_letters where id = $1`,
    [id],
  );
  const row = result.rows[0];
  return row ? fromRow(row) : null;
}

/** Marks dead letters replayed at `atMs` and counts the replay. */
export async function markReplayed(
  db: Queryable,
  ids: readonly string[],
  atMs: number,
): Promise<void> {
  if (ids.length === 0) {
    return;
  }
  await db.query(
    `update dead_letters set replayed_at = $2, replays = replays + 1
     where id = any($1::text[])`,
    [ids, new Date(atMs).toISOString()],
  );
}

/** Dead letters not yet replayed, for one account or (null) for all, and the oldest's time. */
export async function pendingDeadLetters(
  db: Queryable,
  accountId: string | null,
): Promise<{ count: number; oldestDeadAtMs: number | null }> {
  const result = await db.query<{ n: string; oldest_ms: string | null }>(
    `select count(*)::text as n, (extract(epoch from min(dead_at)) * 1000)::bigint::text as oldest_ms
     from dead_letters where replayed_at is null and ($1::text is null or account_id = $1)`,
    [accountId],
  );
  const row = result.rows[0];
  return { count: Number(row?.n ?? 0), oldestDeadAtMs: msOf(row?.oldest_ms ?? null) };
}
