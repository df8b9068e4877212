/**
 * Whether the rated-usage pipeline has drained: `npm run bench` waits for it between the
 * benchmarks that share one environment, so one benchmark's backlog does not load the next.
 */
import { createClient } from "@clickhouse/client-web";
import pg from "pg";
import type { BenchEnvironment } from "./support/environment.ts";

/** How long the pipeline's event counts must stay unchanged to count as drained. */
const QUIET_MS = 3_000;
const DRAIN_TIMEOUT_MS = 300_000;

/**
 * Waits until the events in ClickHouse and in the Postgres ledger have stopped changing for
 * `QUIET_MS`; returns the seconds until the last change (0 when nothing was in flight).
 */
export async function waitForQuietPipeline(
  env: BenchEnvironment,
  log: (line: string) => void,
): Promise<number> {
  const ch = createClient({ ...env.stack.info.clickhouse, database: "meterline" });
  const db = new pg.Client({ connectionString: env.stack.info.postgres.appUrl });
  await db.connect();
  try {
    const startedMs = performance.now();
    let lastChangeMs = startedMs;
    let last = "";
    for (;;) {
      const result = await ch.query({
        query: "SELECT count() AS n FROM usage_events",
        format: "JSONEachRow",
      });
      const [events] = await result.json<{ n: string | number }>();
      const { rows } = await db.query<{ n: string }>(
        "select coalesce(sum(event_count), 0)::text as n from usage_rollups",
      );
      const seen = `${events?.n}/${rows[0]?.n}`;
      const nowMs = performance.now();
      if (seen !== last) {
        if (last !== "") {
          lastChangeMs = nowMs;
        }
        last = seen;
      } else if (nowMs - lastChangeMs >= QUIET_MS) {
        return (lastChangeMs - startedMs) / 1000;
      }
      if (nowMs - startedMs > DRAIN_TIMEOUT_MS) {
        log(`  the pipeline was still moving after ${DRAIN_TIMEOUT_MS / 1000} s; going on`);
        return (nowMs - startedMs) / 1000;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } finally {
    await ch.close();
    await db.end();
  }
}
