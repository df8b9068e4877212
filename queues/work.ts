import { meterFor } from "../functions/meters.ts";
import { paymentDepsForEnv } from "../functions/routes/payments.ts";
import { type Database, openDatabase } from "../lib/adapters/postgres.ts";
import { loadAccountConfigSnapshot } from "../lib/catalogue/account-config.ts";
import { PUSH_CONCURRENCY, parsePushMessage, pushConfigs } from "../lib/catalogue/propagation.ts";
import { systemClock } from "../lib/clock/clock.ts";
import { configFor } from "../lib/env/config.ts";
import { openRiskDeps, type RiskDeps } from "../lib/fraud/deps.ts";
import { handleRiskMessage } from "../lib/fraud/messages.ts";
import { createIdGenerator } from "../lib/ids/ids.ts";
import { createLogger, isLogLevel, type Logger } from "../lib/log/logger.ts";
import type { PaymentDeps } from "../lib/payments/deps.ts";
import { handlePaymentMessage } from "../lib/payments/handle-message.ts";
import type { QueueHandler } from "./router.ts";

/**
 * The `meterline-work` consumer: typed messages `{ v: 1, kind: "<kind>", ... }` dispatched by
 * kind through WORK_HANDLERS. Each message is acked or retried on its own, with a backoff that
 * grows with its attempts; after the queue's max_retries it goes to `meterline-work-dlq`.
 * To add a kind, add an entry to WORK_HANDLERS that calls one operation in lib/.
 */

/** What a handler decided for one message. */
export interface WorkOutcome {
  /** ack: done. retry: try again later. drop: malformed, retrying cannot help (logged, acked). */
  action: "ack" | "retry" | "drop";
  detail: string;
}

/** Dependencies shared by the messages of one batch, opened on first use, closed at its end. */
export interface WorkContext {
  env: Env;
  log: Logger;
  /** A Postgres pool for the batch. */
  database(): Database;
  /** Postgres, Redis and QStash for fraud work. */
  riskDeps(): RiskDeps;
}

export type WorkHandler = (body: unknown, context: WorkContext) => Promise<WorkOutcome>;

/**
 * `catalogue.push`: hand fresh configurations to account meters (lib/catalogue/propagation.ts).
 * Always acked: a failed push is logged there, and the meters' own revalidation is the backstop.
 */
async function handleCataloguePush(body: unknown, context: WorkContext): Promise<WorkOutcome> {
  const message = parsePushMessage(body);
  if (message === null) {
    return { action: "drop", detail: "not a valid catalogue.push message" };
  }
  const db = context.database();
  const report = await pushConfigs(
    {
      load: (accountId) => loadAccountConfigSnapshot(db, accountId),
      configure: (accountId, config) => meterFor(context.env, accountId).configure(config),
      log: context.log,
    },
    message.accountIds,
  );
  return {
    action: "ack",
    detail: `pushed ${report.pushed.length}, failed ${report.failed.length}, missing ${report.missing.length}`,
  };
}

/** Payment dependencies on the batch's Postgres pool (lib/payments). */
function paymentDeps(context: WorkContext): PaymentDeps {
  return paymentDepsForEnv(context.env, {
    clock: systemClock,
    ids: createIdGenerator(systemClock.nowMs),
    log: context.log,
    db: context.database(),
  });
}

/** Handlers by message kind. */
export const WORK_HANDLERS: Record<string, WorkHandler> = {
  "payment.collect": (body, context) => handlePaymentMessage(body, paymentDeps(context)),
  "stripe.event": (body, context) => handlePaymentMessage(body, paymentDeps(context)),
  "catalogue.push": handleCataloguePush,
  "risk.signal": (body, context) => handleRiskMessage(body, context.riskDeps()),
  "risk.farm": (body, context) => handleRiskMessage(body, context.riskDeps()),
  "risk.notify": (body, context) => handleRiskMessage(body, context.riskDeps()),
};

/** Retry delay for a message on its `attempts`-th delivery: 5 s doubling, at most 10 min. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(5 * 2 ** Math.max(0, attempts - 1), 600);
}

/** Retry delay for kinds no handler knows: a newer deployment may, so they are not dropped. */
const UNKNOWN_KIND_DELAY_SECONDS = 60;

function envelopeOf(body: unknown): { kind: string } | null {
  if (typeof body !== "object" || body === null) {
    return null;
  }
  const { v, kind } = body as { v?: unknown; kind?: unknown };
  return v === 1 && typeof kind === "string" ? { kind } : null;
}

/** Builds a consumer over a handler table (tests may pass their own). */
export function createWorkConsumer(handlers: Record<string, WorkHandler>): QueueHandler {
  return async (batch, env, ctx) => {
    const level = isLogLevel(env.LOG_LEVEL) ? env.LOG_LEVEL : "info";
    const log = createLogger({ level, bindings: { queue: batch.queue } });
    let deps: (RiskDeps & { close(): Promise<void> }) | null = null;
    let db: Database | null = null;
    const context: WorkContext = {
      env,
      log,
      database() {
        db ??= openDatabase(configFor(env).database, { max: PUSH_CONCURRENCY });
        return db;
      },
      riskDeps() {
        deps ??= openRiskDeps(configFor(env), {
          work: {
            send: async (body) => {
              await env.WORK.send(body, { contentType: "json" });
            },
          },
          clock: systemClock,
          ids: createIdGenerator(systemClock.nowMs),
          log,
        });
        return deps;
      },
    };
    const counts = { ack: 0, retry: 0, drop: 0 };
    try {
      for (const message of batch.messages) {
        const envelope = envelopeOf(message.body);
        const handler = envelope ? handlers[envelope.kind] : undefined;
        let outcome: WorkOutcome;
        if (!envelope) {
          outcome = { action: "drop", detail: "not a { v: 1, kind } message" };
        } else if (!handler) {
          log.warn("no handler for message kind; retrying", { kind: envelope.kind });
          message.retry({ delaySeconds: UNKNOWN_KIND_DELAY_SECONDS });
          counts.retry += 1;
          continue;
        } else {
          try {
            outcome = await handler(message.body, context);
          } catch (error) {
            outcome = { action: "retry", detail: String(error) };
          }
        }
        counts[outcome.action] += 1;
        const fields = {
          messageId: message.id,
          kind: envelope?.kind,
          attempts: message.attempts,
          detail: outcome.detail,
        };
        if (outcome.action === "retry") {
          log.warn("work message will be retried", fields);
          message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
        } else {
          if (outcome.action === "drop") {
            log.error("work message dropped", fields);
          }
          message.ack();
        }
      }
    } finally {
      if (deps !== null) {
        ctx.waitUntil((deps as { close(): Promise<void> }).close());
      }
      if (db !== null) {
        ctx.waitUntil((db as Database).end());
      }
      log.info("work batch", { messages: batch.messages.length, ...counts });
    }
  };
}

/** The `meterline-work` consumer (registered in functions/index.ts). */
export const workConsumer: QueueHandler = createWorkConsumer(WORK_HANDLERS);

/**
 * Dead letters of `meterline-work`: logged in full at error level for a human, then acked.
 * Without this entry the router's prefix match would hand them back to the live consumer.
 */
export const workDeadLetters: QueueHandler = async (batch) => {
  const log = createLogger({ bindings: { queue: batch.queue } });
  for (const message of batch.messages) {
    log.error("work message dead-lettered", {
      messageId: message.id,
      attempts: message.attempts,
      body: message.body,
    });
    message.ack();
  }
};
