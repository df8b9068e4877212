import { meterFor } from "../functions/meters.ts";
import { openDatabase } from "../lib/adapters/postgres.ts";
import {
  type CloseDeps,
  type CloseOutcome,
  closeInvoicePeriod,
  pipelineRetryDelaySeconds,
} from "../lib/billing/close-period.ts";
import { parseInvoiceJob } from "../lib/billing/job-message.ts";
import { type Clock, systemClock } from "../lib/clock/clock.ts";
import { configFor } from "../lib/env/config.ts";
import { createIdGenerator } from "../lib/ids/ids.ts";
import { createLogger, isLogLevel } from "../lib/log/logger.ts";
import type { QueueHandler } from "./router.ts";

/** Jobs of one delivery batch run at once; each holds at most one Postgres connection. */
const JOB_CONCURRENCY = 5;
/** Redelivery delay after an unexpected failure (database down, meter unreachable). */
function failureDelaySeconds(attempts: number): number {
  return Math.min(10 * 2 ** Math.max(0, attempts - 1), 600);
}

/**
 * Builds the `meterline-invoice-jobs` consumer. Each message closes one account's period
 * (lib/billing/close-period.ts) and is acked, or retried with a delay: while the pipeline has not
 * delivered the period, or after a failure. After max_retries the queue dead-letters it; the
 * next hourly run enqueues the period again, so nothing is lost. `clock` is injectable for tests.
 */
export function createInvoiceJobsConsumer(clock: Clock = systemClock): QueueHandler {
  return async (batch, env, ctx) => {
    const startedMs = clock.nowMs();
    const level = isLogLevel(env.LOG_LEVEL) ? env.LOG_LEVEL : "info";
    const log = createLogger({
      level,
      bindings: { component: "invoice-jobs", queue: batch.queue },
    });
    const config = configFor(env);
    const db = openDatabase(config.database, { max: JOB_CONCURRENCY });
    const deps: CloseDeps = {
      db,
      meter: (accountId) => meterFor(env, accountId),
      work: { send: async (body) => void (await env.WORK.send(body, { contentType: "json" })) },
      jobs: {
        send: async (body) => void (await env.INVOICE_JOBS.send(body, { contentType: "json" })),
      },
      clock,
      ids: createIdGenerator(() => clock.nowMs()),
      log,
    };
    const counts: Record<string, number> = {};
    const queue = [...batch.messages];
    async function worker(): Promise<void> {
      for (let message = queue.shift(); message; message = queue.shift()) {
        const job = parseInvoiceJob(message.body);
        let outcome: CloseOutcome;
        if (!job) {
          outcome = { action: "drop", detail: "not an invoice.close_period message" };
        } else {
          try {
            outcome = await closeInvoicePeriod(deps, job, message.attempts);
          } catch (error) {
            log.error("invoice job failed; retrying", {
              accountId: job.accountId,
              attempts: message.attempts,
              error,
            });
            message.retry({ delaySeconds: failureDelaySeconds(message.attempts) });
            counts.failed = (counts.failed ?? 0) + 1;
            continue;
          }
        }
        const key = outcome.action === "ack" ? outcome.result : outcome.action;
        counts[key] = (counts[key] ?? 0) + 1;
        const fields = {
          accountId: job?.accountId,
          attempts: message.attempts,
          detail: outcome.detail,
        };
        if (outcome.action === "retry") {
          log.info("invoice job waits for the pipeline", fields);
          message.retry({ delaySeconds: pipelineRetryDelaySeconds(message.attempts) });
        } else {
          if (outcome.action === "drop") {
            log.error("invoice job dropped", { ...fields, body: message.body });
          }
          message.ack();
        }
      }
    }
    try {
      await Promise.all(Array.from({ length: JOB_CONCURRENCY }, () => worker()));
    } finally {
      ctx.waitUntil(db.end());
      log.info("invoice jobs batch", {
        messages: batch.messages.length,
        ...counts,
        durationMs: clock.nowMs() - startedMs,
      });
    }
  };
}

/** The `meterline-invoice-jobs` consumer (registered in functions/index.ts). */
export const invoiceJobsConsumer: QueueHandler = createInvoiceJobsConsumer();

/**
 * Dead letters of `meterline-invoice-jobs`: logged for a human and acked. Nothing else is
 * needed: the account's cursor still points at the period, so the next hourly run enqueues it
 * again once REENQUEUE_AFTER_MS has passed. Without this entry the router's prefix match would
 * hand them back to the live consumer.
 */
export const invoiceJobsDeadLetters: QueueHandler = async (batch) => {
  const log = createLogger({ bindings: { component: "invoice-jobs", queue: batch.queue } });
  for (const message of batch.messages) {
    log.error("invoice job dead-lettered; the next run re-enqueues it", {
      messageId: message.id,
      attempts: message.attempts,
      body: message.body,
    });
    message.ack();
  }
};
