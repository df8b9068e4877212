import { Hono } from "hono";
import { openClickHouse } from "../../lib/adapters/clickhouse.ts";
import { openDatabase } from "../../lib/adapters/postgres.ts";
import { openQStash } from "../../lib/adapters/qstash.ts";
import { openRedis } from "../../lib/adapters/redis.ts";
import { openStripe } from "../../lib/adapters/stripe.ts";
import { type Probe, runProbes } from "../../lib/health/probes.ts";
import type { AppEnv } from "../context.ts";

/** `GET /healthz`: reachability and latency of every dependency, through the production SDKs. */
export const healthRoutes = new Hono<AppEnv>().get("/healthz", async (c) => {
  const config = c.get("config");
  const db = openDatabase(config.database, { max: 1 });
  const probes: Probe[] = [
    {
      name: "postgres",
      check: async () => {
        const { rows } = await db.query<{ ok: number }>("select 1 as ok");
        if (rows[0]?.ok !== 1) {
          throw new Error("unexpected answer to select 1");
        }
      },
    },
    {
      name: "clickhouse",
      check: async () => {
        const result = await openClickHouse(config.clickhouse).ping();
        if (!result.success) {
          throw result.error;
        }
      },
    },
    {
      name: "redis",
      check: async () => {
        const pong = await openRedis(config.redis).ping();
        if (pong !== "PONG") {
          throw new Error(`unexpected answer to PING: ${pong}`);
        }
      },
    },
    {
      name: "stripe",
      check: async () => {
        await openStripe(config.stripe, { timeoutMs: 3_000 }).customers.list({ limit: 1 });
      },
    },
    {
      name: "qstash",
      check: async () => {
        await openQStash(config.qstash).schedules.list();
      },
    },
  ];
  const report = await runProbes(probes, c.get("clock"));
  c.executionCtx.waitUntil(db.end());
  return c.json(report, report.status === "ok" ? 200 : 503);
});
