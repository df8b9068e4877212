import { createMiddleware } from "hono/factory";
import { systemClock } from "../../lib/clock/clock.ts";
import { configFor } from "../../lib/env/config.ts";
import { createIdGenerator } from "../../lib/ids/ids.ts";
import { createLogger } from "../../lib/log/logger.ts";
import type { AppEnv } from "../context.ts";

const REQUEST_ID_HEADER = "Request-Id";

/**
 * Builds the per-request dependencies (clock, ids, logger, config), stamps the request id on
 * the response, and writes one summary log line per request.
 */
export const requestContext = createMiddleware<AppEnv>(async (c, next) => {
  const ids = createIdGenerator(systemClock.nowMs);
  const requestId = ids.next("request");
  c.set("requestId", requestId);
  c.set("clock", systemClock);
  c.set("ids", ids);
  c.header(REQUEST_ID_HEADER, requestId);
  const startedMs = systemClock.nowMs();
  // Logging must work before the config is known to be valid, so the level falls back to info.
  const level =
    c.env.LOG_LEVEL === "debug" || c.env.LOG_LEVEL === "warn" ? c.env.LOG_LEVEL : "info";
  const log = createLogger({ level, bindings: { requestId } });
  c.set("log", log);
  c.set("config", configFor(c.env));
  await next();
  const principal = c.get("principal");
  log.info("request", {
    method: c.req.method,
    path: c.req.path,
    status: c.res.status,
    durationMs: systemClock.nowMs() - startedMs,
    accountId: principal?.kind === "account" ? principal.accountId : undefined,
  });
});
