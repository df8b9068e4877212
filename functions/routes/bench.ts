import { Hono } from "hono";
import type { AppEnv } from "../context.ts";

/**
 * `POST /_bench/discard`: reads and parses a body, then throws it away. The ingestion benchmark
 * sends the same requests here to measure the ceiling — what the runtime, HTTP and JSON parsing
 * alone allow on this machine. Mounted only when ENVIRONMENT is "local".
 */
export const benchRoutes = new Hono<AppEnv>().post("/_bench/discard", async (c) => {
  const parsed = JSON.parse(await c.req.text()) as unknown;
  const count = Array.isArray(parsed) ? parsed.length : 1;
  return c.json({ accepted: count, duplicates: 0, rejected: [] }, 202);
});
