import type { ClickHouseClient } from "@clickhouse/client-web";
import type { Database } from "../adapters/postgres.ts";
import { readFailuresFromClickHouse } from "../analytics/failures.ts";
import type { Clock } from "../clock/clock.ts";
import type { IdGenerator } from "../ids/ids.ts";
import { type NewDeadLetter, recordDeadLetters } from "../ledger/dead-letters.ts";
import { clearFailures, type FailureNote, readFailures } from "../ledger/failures.ts";
import type { Logger } from "../log/logger.ts";
import type { Delivery, Verdict } from "./consume-rated-usage.ts";
import { parseRatedUsageMessage } from "./parse-message.ts";
import { DEAD_LETTER_RETRY, type RetryPolicy, retryDelaySeconds } from "./retry-policy.ts";

export interface DeadLetterConsumerDeps {
  db: Database;
  /** Read for failure notes written while Postgres was down; optional and best effort. */
  clickhouse: ClickHouseClient | null;
  clock: Clock;
  ids: IdGenerator;
  log: Logger;
  /** The dead-letter queue's name, recorded with each letter. */
  queue: string;
  retry?: RetryPolicy;
}

export interface DeadLetterReport {
  verdicts: Map<string, Verdict>;
  /** Letters newly recorded (a repeated delivery of a recorded message adds none). */
  recorded: number;
}

function bodyText(body: unknown): string {
  try {
    return JSON.stringify(body) ?? String(body);
  } catch {
    return String(body);
  }
}

/** The newer of two notes (Postgres and ClickHouse may each hold one for a batch). */
function newer(a: FailureNote | undefined, b: FailureNote | undefined): FailureNote | undefined {
  if (!a || !b) {
    return a ?? b;
  }
  return b.failedAtMs > a.failedAtMs ? b : a;
}

/**
 * Records rated-usage messages that exhausted their retries as dead letters in Postgres, each
 * with the consumer's last error, the attempts it made and when it last failed (from the failure
 * notes in Postgres, or in ClickHouse when Postgres was the sink that was down), and clears the
 * notes in the same transaction. A body that cannot be read is recorded with the reason. All
 * messages are acked once recorded; if Postgres cannot record them they are retried with the
 * dead-letter backoff. Idempotent by queue message id. Throws only on a bug.
 */
export async function consumeDeadLetters(
  deliveries: readonly Delivery[],
  deps: DeadLetterConsumerDeps,
): Promise<DeadLetterReport> {
  const nowMs = deps.clock.nowMs();
  const parsed = deliveries.map((delivery) => ({
    delivery,
    parsed: parseRatedUsageMessage(delivery.body),
  }));
  const batchIds = [
    ...new Set(
      parsed.flatMap(({ parsed: p }) =>
        p.ok ? [p.message.batchId] : p.batchId === null ? [] : [p.batchId],
      ),
    ),
  ];
  let fallbackNotes = new Map<string, FailureNote>();
  if (deps.clickhouse) {
    try {
      fallbackNotes = await readFailuresFromClickHouse(deps.clickhouse, batchIds);
    } catch (error) {
      deps.log.warn("ClickHouse failure notes unavailable; recording without them", { error });
    }
  }
  try {
    const recorded = await deps.db.transaction(async (tx) => {
      const notes = await readFailures(tx, batchIds);
      const letters: NewDeadLetter[] = parsed.map(({ delivery, parsed: p }) => {
        const batchId = p.ok ? p.message.batchId : p.batchId;
        const accountId = p.ok ? p.message.accountId : p.accountId;
        const note =
          batchId === null ? undefined : newer(notes.get(batchId), fallbackNotes.get(batchId));
        return {
          id: deps.ids.next("deadLetter"),
          messageId: delivery.id,
          queue: deps.queue,
          reason: p.ok ? "retries_exhausted" : "invalid_body",
          batchId,
          accountId,
          body: bodyText(delivery.body),
          errorCode: p.ok ? (note?.errorCode ?? "UNKNOWN") : "INVALID_MESSAGE",
          error: p.ok
            ? (note?.error ?? "The consumer left no failure note for this batch.")
            : p.reason,
          attempts: note?.attempts ?? null,
          lastFailedAtMs: note?.failedAtMs ?? null,
          deadAtMs: nowMs,
        };
      });
      const count = await recordDeadLetters(tx, letters);
      await clearFailures(tx, batchIds);
      return count;
    });
    deps.log.warn("rated-usage messages dead-lettered", {
      messages: deliveries.length,
      recorded,
      batches: batchIds,
    });
    return {
      verdicts: new Map(deliveries.map((d) => [d.id, { action: "ack" } as Verdict])),
      recorded,
    };
  } catch (error) {
    deps.log.error("dead letters not recorded; retrying", { error });
    const policy = deps.retry ?? DEAD_LETTER_RETRY;
    return {
      verdicts: new Map(
        deliveries.map((d) => [
          d.id,
          { action: "retry", delaySeconds: retryDelaySeconds(d.attempts, policy) } as Verdict,
        ]),
      ),
      recorded: 0,
    };
  }
}
