import type { ClickHouseClient } from "@clickhouse/client-web";
import type { Database } from "../adapters/postgres.ts";
import { recordFailuresInClickHouse } from "../analytics/failures.ts";
import { insertUsage } from "../analytics/usage-sink.ts";
import type { Clock } from "../clock/clock.ts";
import type { IdGenerator } from "../ids/ids.ts";
import { recordDeadLetters } from "../ledger/dead-letters.ts";
import { type FailureNote, recordFailures } from "../ledger/failures.ts";
import { applyRatedBatches } from "../ledger/rollups.ts";
import type { Logger } from "../log/logger.ts";
import { MAX_ROWS_PER_INSERT, packMessages, rowsOf } from "./pack.ts";
import { parseRatedUsageMessage } from "./parse-message.ts";
import type { RatedUsageMessage } from "./rated-usage-message.ts";
import { RATED_USAGE_RETRY, type RetryPolicy, retryDelaySeconds } from "./retry-policy.ts";
import { clickHouseFailure, postgresFailure, type SinkFailure } from "./sink-errors.ts";

/** A queue delivery as the consumer needs it (the runtime's Message, minus its methods). */
export interface Delivery {
  id: string;
  /** 1 on the first delivery. */
  attempts: number;
  body: unknown;
}

/** What to do with one delivery. */
export type Verdict = { action: "ack" } | { action: "retry"; delaySeconds: number };

export interface RatedUsageConsumerDeps {
  clickhouse: ClickHouseClient;
  db: Database;
  clock: Clock;
  ids: IdGenerator;
  log: Logger;
  /** The queue's name, recorded with dead letters. */
  queue: string;
  retry?: RetryPolicy;
  maxRowsPerInsert?: number;
}

/** The outcome of one delivery batch, per message and in figures. */
export interface ConsumeReport {
  verdicts: Map<string, Verdict>;
  /** Batches newly applied to the ledger, and batches it had already. */
  applied: number;
  duplicates: number;
  /** Rows sent to ClickHouse (before its deduplication) and inserts made. */
  clickhouseRows: number;
  inserts: number;
  /** Bodies recorded as dead letters because they could not be read. */
  deadLettered: number;
  /** Wall time spent in each sink (they run concurrently), milliseconds. */
  clickhouseMs: number;
  postgresMs: number;
  /** Failures per batch id, for batches that will be retried. */
  failures: Map<string, SinkFailure>;
  /** Batches both sinks now hold, by account: their meters may drop them from the outbox. */
  landed: Map<string, string[]>;
}

interface Pending {
  message: RatedUsageMessage;
  deliveries: Delivery[];
}

function bodyText(body: unknown): string {
  try {
    return JSON.stringify(body) ?? String(body);
  } catch {
    // Not JSON-serialisable (a v8-serialised value): keep a readable rendering for humans.
    return String(body);
  }
}

/**
 * Lands one queue delivery batch of rated-usage messages in both sinks and decides, per
 * message, ack or retry:
 * - A body that cannot be read is recorded as a dead letter with the reason and acked (retried
 *   only if recording it fails, so it is never lost).
 * - Readable messages are packed into groups of up to `maxRowsPerInsert` rows; each group is one
 *   insert per ClickHouse table and one Postgres transaction, run concurrently. A group a sink
 *   refuses is retried message by message on that sink, so one bad message cannot hold back
 *   the others; an unreachable sink fails the whole group at once.
 * - A message is acked only when both sinks have it; otherwise it is retried after
 *   `retryDelaySeconds(attempts)`, and a failure note (why, which attempt) is written to
 *   Postgres, or to ClickHouse when Postgres is the sink that is down.
 * Both sinks are idempotent by batch id, so any message may be applied again safely. Throws only
 * on a bug; the queue handler then retries the whole batch.
 */
export async function consumeRatedUsage(
  deliveries: readonly Delivery[],
  deps: RatedUsageConsumerDeps,
): Promise<ConsumeReport> {
  const policy = deps.retry ?? RATED_USAGE_RETRY;
  const nowMs = deps.clock.nowMs();
  const report: ConsumeReport = {
    verdicts: new Map(),
    applied: 0,
    duplicates: 0,
    clickhouseRows: 0,
    inserts: 0,
    deadLettered: 0,
    clickhouseMs: 0,
    postgresMs: 0,
    failures: new Map(),
    landed: new Map(),
  };
  const retry = (delivery: Delivery): Verdict => ({
    action: "retry",
    delaySeconds: retryDelaySeconds(delivery.attempts, policy),
  });

  const pending = new Map<string, Pending>();
  const unreadable: {
    delivery: Delivery;
    reason: string;
    batchId: string | null;
    accountId: string | null;
  }[] = [];
  for (const delivery of deliveries) {
    const parsed = parseRatedUsageMessage(delivery.body);
    if (!parsed.ok) {
      unreadable.push({ delivery, ...parsed });
      continue;
    }
    const entry = pending.get(parsed.message.batchId);
    if (entry) {
      // The same batch twice in one delivery (a replay racing a redelivery): land it once.
      entry.deliveries.push(delivery);
    } else {
      pending.set(parsed.message.batchId, { message: parsed.message, deliveries: [delivery] });
    }
  }

  if (unreadable.length > 0) {
    try {
      report.deadLettered = await recordDeadLetters(
        deps.db,
        unreadable.map(({ delivery, reason, batchId, accountId }) => ({
          id: deps.ids.next("deadLetter"),
          messageId: delivery.id,
          queue: deps.queue,
          reason: "invalid_body",
          batchId,
          accountId,
          body: bodyText(delivery.body),
          errorCode: "INVALID_MESSAGE",
          error: reason,
          attempts: delivery.attempts,
          lastFailedAtMs: nowMs,
          deadAtMs: nowMs,
        })),
      );
      for (const { delivery, reason } of unreadable) {
        deps.log.warn("unreadable rated-usage message dead-lettered", {
          messageId: delivery.id,
          reason,
        });
        report.verdicts.set(delivery.id, { action: "ack" });
      }
    } catch (error) {
      deps.log.error("could not record unreadable messages; retrying them", { error });
      for (const { delivery } of unreadable) {
        report.verdicts.set(delivery.id, retry(delivery));
      }
    }
  }

  const maxRows = deps.maxRowsPerInsert ?? MAX_ROWS_PER_INSERT;
  const failures = new Map<string, SinkFailure>();
  for (const group of packMessages(
    [...pending.values()].map((p) => p.message),
    maxRows,
  )) {
    const timed = async <T>(work: () => Promise<T>): Promise<[T, number]> => {
      const startedMs = deps.clock.nowMs();
      const result = await work();
      return [result, deps.clock.nowMs() - startedMs];
    };
    const [[clickhouse, clickhouseMs], [postgres, postgresMs]] = await Promise.all([
      timed(() => landInClickHouse(deps.clickhouse, group)),
      timed(() => landInPostgres(deps.db, group, nowMs)),
    ]);
    report.clickhouseMs += clickhouseMs;
    report.postgresMs += postgresMs;
    report.clickhouseRows += clickhouse.rows;
    report.inserts += clickhouse.inserts;
    report.applied += postgres.applied;
    report.duplicates += postgres.duplicates;
    for (const message of group) {
      const failure =
        postgres.failed.get(message.batchId) ?? clickhouse.failed.get(message.batchId);
      if (failure) {
        failures.set(message.batchId, failure);
      }
    }
  }

  const notes: FailureNote[] = [];
  for (const [batchId, { message, deliveries: copies }] of pending) {
    const failure = failures.get(batchId);
    for (const delivery of copies) {
      report.verdicts.set(delivery.id, failure ? retry(delivery) : { action: "ack" });
    }
    if (!failure) {
      const landed = report.landed.get(message.accountId) ?? [];
      landed.push(batchId);
      report.landed.set(message.accountId, landed);
    }
    if (failure) {
      report.failures.set(batchId, failure);
      notes.push({
        batchId,
        accountId: message.accountId,
        attempts: Math.max(...copies.map((d) => d.attempts)),
        errorCode: failure.code,
        error: failure.message,
        failedAtMs: nowMs,
      });
    }
  }
  if (notes.length > 0) {
    await noteFailures(deps, notes);
  }
  return report;
}

interface SinkOutcome {
  failed: Map<string, SinkFailure>;
}

/** Inserts the group; on a refusal (not an outage) retries message by message to isolate it. */
async function landInClickHouse(
  ch: ClickHouseClient,
  group: RatedUsageMessage[],
): Promise<SinkOutcome & { rows: number; inserts: number }> {
  const failed = new Map<string, SinkFailure>();
  try {
    const result = await insertUsage(ch, group);
    return { failed, rows: result.eventRows + result.ratedRows, inserts: 1 };
  } catch (error) {
    const failure = clickHouseFailure(error);
    if (failure.unavailable || group.length === 1) {
      for (const message of group) {
        failed.set(message.batchId, failure);
      }
      return { failed, rows: 0, inserts: 0 };
    }
  }
  let rows = 0;
  let inserts = 0;
  for (const message of group) {
    try {
      await insertUsage(ch, [message]);
      rows += rowsOf(message);
      inserts += 1;
    } catch (error) {
      failed.set(message.batchId, clickHouseFailure(error));
    }
  }
  return { failed, rows, inserts };
}

/**
 * One ledger transaction for the group (batch ids, rollups, and the failure notes of batches
 * that land now); on an SQL refusal, one transaction per message to isolate the bad one.
 */
async function landInPostgres(
  db: Database,
  group: RatedUsageMessage[],
  nowMs: number,
): Promise<SinkOutcome & { applied: number; duplicates: number }> {
  const failed = new Map<string, SinkFailure>();
  const attempt = (messages: RatedUsageMessage[]) =>
    db.transaction(async (tx) => {
      const result = await applyRatedBatches(tx, messages, nowMs);
      // Notes of these batches are cleared in the same transaction, whatever delivery this is:
      // a batch its meter sent again arrives as a new message (first attempt) yet may have a
      // note from the lost one. If ClickHouse fails now, a fresh note follows.
      await tx.query("delete from pipeline_failures where batch_id = any($1::text[])", [
        messages.map((m) => m.batchId),
      ]);
      return result;
    });
  try {
    const result = await attempt(group);
    return { failed, applied: result.applied.length, duplicates: result.duplicates.length };
  } catch (error) {
    const failure = postgresFailure(error);
    if (failure.unavailable || group.length === 1) {
      for (const message of group) {
        failed.set(message.batchId, failure);
      }
      return { failed, applied: 0, duplicates: 0 };
    }
  }
  let applied = 0;
  let duplicates = 0;
  for (const message of group) {
    try {
      const result = await attempt([message]);
      applied += result.applied.length;
      duplicates += result.duplicates.length;
    } catch (error) {
      failed.set(message.batchId, postgresFailure(error));
    }
  }
  return { failed, applied, duplicates };
}

/** Writes failure notes to Postgres, else ClickHouse; losing a note only loses its text. */
async function noteFailures(deps: RatedUsageConsumerDeps, notes: FailureNote[]): Promise<void> {
  try {
    await recordFailures(deps.db, notes);
    return;
  } catch (error) {
    deps.log.warn("failure notes not written to Postgres; trying ClickHouse", { error });
  }
  try {
    await recordFailuresInClickHouse(deps.clickhouse, notes);
  } catch (error) {
    deps.log.error("failure notes lost: neither sink answered", {
      error,
      batches: notes.map((n) => n.batchId),
    });
  }
}
