import { openClickHouse } from "../lib/adapters/clickhouse.ts";
import { openDatabase } from "../lib/adapters/postgres.ts";
import { systemClock } from "../lib/clock/clock.ts";
import { configFor } from "../lib/env/config.ts";
import { createIdGenerator } from "../lib/ids/ids.ts";
import { createLogger, isLogLevel } from "../lib/log/logger.ts";
import { consumeDeadLetters } from "../lib/pipeline/consume-dead-letters.ts";
import type { Verdict } from "../lib/pipeline/consume-rated-usage.ts";
import { DEAD_LETTER_RETRY, retryDelaySeconds } from "../lib/pipeline/retry-policy.ts";

/**
 * Consumer of `meterline-rated-usage-dlq`: records every message that exhausted its retries in
 * Postgres `dead_letters` with its last error (lib/pipeline/consume-dead-letters.ts), for the
 * admin endpoints to list and replay. Never throws; unrecorded messages are retried.
 */
export async function deadLetterConsumer(
  batch: MessageBatch<unknown>,
  env: Env,
  ctx: ExecutionContext,
): Promise<void> {
  if (batch.messages.length === 0) {
    // The local queue simulator sometimes dispatches empty batches; there is nothing to do.
    return;
  }
  const level = isLogLevel(env.LOG_LEVEL) ? env.LOG_LEVEL : "info";
  const log = createLogger({ level, bindings: { component: "dead-letters", queue: batch.queue } });
  let verdicts = new Map<string, Verdict>();
  try {
    const config = configFor(env);
    const db = openDatabase(config.database, { max: 1 });
    try {
      const report = await consumeDeadLetters(
        batch.messages.map((m) => ({ id: m.id, attempts: m.attempts, body: m.body })),
        {
          db,
          clickhouse: openClickHouse(config.clickhouse),
          clock: systemClock,
          ids: createIdGenerator(systemClock.nowMs),
          log,
          queue: batch.queue,
        },
      );
      verdicts = report.verdicts;
    } finally {
      ctx.waitUntil(db.end());
    }
  } catch (error) {
    log.error("dead-letter batch failed; retrying every message", { error });
  }
  for (const message of batch.messages) {
    const verdict = verdicts.get(message.id);
    if (verdict?.action === "ack") {
      message.ack();
    } else {
      message.retry({
        delaySeconds:
          verdict?.delaySeconds ?? retryDelaySeconds(message.attempts, DEAD_LETTER_RETRY),
      });
    }
  }
}
