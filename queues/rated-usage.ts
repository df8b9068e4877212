import { meterFor } from "../functions/meters.ts";
import { openClickHouse } from "../lib/adapters/clickhouse.ts";
import { openDatabase } from "../lib/adapters/postgres.ts";
import { systemClock } from "../lib/clock/clock.ts";
import { configFor } from "../lib/env/config.ts";
import { createIdGenerator } from "../lib/ids/ids.ts";
import { createLogger, isLogLevel } from "../lib/log/logger.ts";
import { consumeRatedUsage, type Verdict } from "../lib/pipeline/consume-rated-usage.ts";
import { RATED_USAGE_RETRY, retryDelaySeconds } from "../lib/pipeline/retry-policy.ts";

async function confirmLanded(
  env: Env,
  landed: Map<string, string[]>,
  log: ReturnType<typeof createLogger>,
): Promise<void> {
  await Promise.all(
    [...landed].map(async ([accountId, batchIds]) => {
      try {
        await meterFor(env, accountId).confirmBatches(accountId, batchIds);
      } catch (error) {
        log.warn("could not confirm landed batches to the meter; it will resend them", {
          accountId,
          batches: batchIds.length,
          error,
        });
      }
    }),
  );
}

/**
 * Consumer of `meterline-rated-usage`: lands each delivery batch in ClickHouse and the Postgres
 * ledger (lib/pipeline/consume-rated-usage.ts) and acks or retries message by message. Never
 * throws: whatever goes wrong, every message ends acked or retried with backoff.
 */
export async function ratedUsageConsumer(
  batch: MessageBatch<unknown>,
  env: Env,
  ctx: ExecutionContext,
): Promise<void> {
  if (batch.messages.length === 0) {
    // The local queue simulator sometimes dispatches empty batches; there is nothing to do.
    return;
  }
  const startedMs = systemClock.nowMs();
  const level = isLogLevel(env.LOG_LEVEL) ? env.LOG_LEVEL : "info";
  const log = createLogger({ level, bindings: { component: "rated-usage", queue: batch.queue } });
  let verdicts = new Map<string, Verdict>();
  try {
    const config = configFor(env);
    // One connection: the consumer runs one ledger statement at a time, and Workers cap the
    // simultaneous connections of an invocation.
    const db = openDatabase(config.database, { max: 1 });
    try {
      const report = await consumeRatedUsage(
        batch.messages.map((m) => ({ id: m.id, attempts: m.attempts, body: m.body })),
        {
          clickhouse: openClickHouse(config.clickhouse),
          db,
          clock: systemClock,
          ids: createIdGenerator(systemClock.nowMs),
          log,
          queue: batch.queue,
        },
      );
      verdicts = report.verdicts;
      // Receipts: each meter drops the batches both sinks now hold from its outbox. Best effort:
      // a lost receipt only means the meter sends the batch again later, and it lands as a no-op.
      ctx.waitUntil(confirmLanded(env, report.landed, log));
      log.info("rated usage batch", {
        messages: batch.messages.length,
        applied: report.applied,
        duplicates: report.duplicates,
        clickhouseRows: report.clickhouseRows,
        inserts: report.inserts,
        deadLettered: report.deadLettered,
        retried: report.failures.size,
        clickhouseMs: Math.round(report.clickhouseMs),
        postgresMs: Math.round(report.postgresMs),
        failures: [...new Set([...report.failures.values()].map((f) => f.code))],
        durationMs: systemClock.nowMs() - startedMs,
      });
    } finally {
      ctx.waitUntil(db.end());
    }
  } catch (error) {
    log.error("rated usage batch failed; retrying every message", { error });
  }
  for (const message of batch.messages) {
    const verdict = verdicts.get(message.id);
    if (verdict?.action === "ack") {
      message.ack();
    } else {
      message.retry({
        delaySeconds:
          verdict?.delaySeconds ?? retryDelaySeconds(message.attempts, RATED_USAGE_RETRY),
      });
    }
  }
}
