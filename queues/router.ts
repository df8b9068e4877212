import { createLogger } from "../lib/log/logger.ts";

/** Handles one queue's batches; acks and retries per message itself. */
export type QueueHandler = (
  batch: MessageBatch<unknown>,
  env: Env,
  ctx: ExecutionContext,
) => Promise<void>;

/**
 * Routes each batch to its queue's consumer by queue name. Names carry an environment suffix in
 * some deployments (`meterline-rated-usage-staging`), so routing matches on the prefix.
 */
export function routeQueues(handlers: Record<string, QueueHandler>): QueueHandler {
  const entries = Object.entries(handlers).sort((a, b) => b[0].length - a[0].length);
  return async (batch, env, ctx) => {
    const match = entries.find(
      ([name]) => batch.queue === name || batch.queue.startsWith(`${name}-`),
    );
    if (!match) {
      createLogger().error("no consumer for queue; retrying its messages", { queue: batch.queue });
      batch.retryAll({ delaySeconds: 60 });
      return;
    }
    await match[1](batch, env, ctx);
  };
}
