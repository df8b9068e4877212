/**
 * The benchmark environment: the local stack on free ports in a scratch folder on disk, the
 * migrations, and the Worker in workerd through Miniflare's API with Durable Object state on
 * disk. Everything is torn down by `stop()`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Stack, startStack, workerEnv } from "../../local-stack/stack.ts";
import { migrateClickHouse } from "../../migrations/clickhouse.ts";
import { migratePostgres } from "../../migrations/postgres.ts";
import { type MiniflareWorker, startMiniflareWorker } from "../../scripts/miniflare-worker.ts";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const BENCH_ADMIN_KEY = "ml_admin_bench_0123456789abcdef01234567";

export interface BenchEnvironment {
  stack: Stack;
  worker: MiniflareWorker;
  url: string;
  adminKey: string;
  dataDir: string;
  stop(): Promise<void>;
}

export async function startBenchEnvironment(
  log: (line: string) => void = () => {},
): Promise<BenchEnvironment> {
  // Not tmpfs: /tmp here is on the same disk as the project, so Durable Object state is on disk.
  const dataDir = mkdtempSync(join(process.env.BENCH_DATA_DIR ?? tmpdir(), "meterline-bench-"));
  log(`starting the local stack in ${dataDir}`);
  const stack = await startStack({ dataDir, ephemeral: true, onProgress: (m) => log(`  ${m}`) });
  try {
    await migratePostgres({
      url: stack.info.postgres.appUrl,
      wsProxy: stack.info["neon-proxy"].wsProxy,
    });
    await migrateClickHouse({ ...stack.info.clickhouse, database: "meterline" });
    log("starting the Worker (Miniflare API, Durable Objects on disk)");
    const worker = await startMiniflareWorker({
      root: ROOT,
      env: { ...workerEnv(stack.info, BENCH_ADMIN_KEY), LOG_LEVEL: "warn" },
      persistDir: join(dataDir, "worker"),
    });
    return {
      stack,
      worker,
      url: worker.url,
      adminKey: BENCH_ADMIN_KEY,
      dataDir,
      async stop() {
        await worker.stop();
        await stack.stop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await stack.stop();
    throw error;
  }
}
