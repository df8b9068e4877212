import { Hono } from "hono";
import type { AppEnv } from "../context.ts";
import { meterFor } from "../meters.ts";

/**
 * Baselines for the ingestion benchmark, measured in the same runtime and harness. Mounted only
 * when ENVIRONMENT is "local".
 * - `POST /_bench/discard` reads and parses a body, then throws it away: what the runtime, HTTP
 *   and JSON parsing alone allow (the ceiling).
 * - `POST /_bench/write` parses the body and makes one minimal durable write in the account
 *   meter of each account it names: what the runtime's Durable Object storage allows when every
 *   account of a request must commit (the write ceiling).
 */
export const benchRoutes = new Hono<AppEnv>()
  .post("/_bench/discard", async (c) => {
    const parsed = JSON.parse(await c.req.text()) as unknown;
    const count = Array.isArray(parsed) ? parsed.length : 1;
    return c.json({ accepted: count, duplicates: 0, rejected: [] }, 202);
  })
  .post("/_bench/write", async (c) => {
    const parsed = JSON.parse(await c.req.text()) as unknown;
    const events = (Array.isArray(parsed) ? parsed : [parsed]) as {
      id?: unknown;
      account?: unknown;
    }[];
    const firstIdByAccount = new Map<string, string>();
    for (const event of events) {
      if (typeof event.account === "string" && !firstIdByAccount.has(event.account)) {
        firstIdByAccount.set(event.account, String(event.id));
      }
    }
    await Promise.all(
      [...firstIdByAccount].map(([accountId, id]) =>
        meterFor(c.env, accountId).diagnosticWrite(accountId, id),
      ),
    );
    return c.json({ accepted: events.length, duplicates: 0, rejected: [] }, 202);
  });
