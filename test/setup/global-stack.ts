/**
 * Vitest global setup: starts the local stack once per test run, on free ports in a temporary
 * folder (never colliding with a running `npm run dev`), applies migrations, and provides the
 * coordinates to every test project. `STACK_SERVICES=redis,stripe` narrows it while iterating.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { serveStackControl } from "../../local-stack/control.ts";
import {
  type ServiceName,
  type StackInfo,
  startStack,
  workerEnv,
} from "../../local-stack/stack.ts";
import { migrateClickHouse } from "../../migrations/clickhouse.ts";
import { migratePostgres } from "../../migrations/postgres.ts";

export const TEST_ADMIN_KEY = "ml_admin_test_0123456789abcdef0123456789";

declare module "vitest" {
  export interface ProvidedContext {
    stack: StackInfo;
    workerEnv: Record<string, string>;
    stackDataDir: string;
    /** Loopback URL of the stack control API (stop/start a service for outage tests). */
    stackControlUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dataDir = mkdtempSync(join(tmpdir(), "meterline-test-"));
  const startedMs = Date.now();
  const only = process.env.STACK_SERVICES?.split(",").filter(Boolean) as ServiceName[] | undefined;
  const stack = await startStack({ dataDir, ephemeral: true, ...(only ? { only } : {}) });
  if (stack.services.has("neon-proxy")) {
    await migratePostgres({
      url: stack.info.postgres.appUrl,
      wsProxy: stack.info["neon-proxy"].wsProxy,
    });
  }
  if (stack.services.has("clickhouse")) {
    await migrateClickHouse({ ...stack.info.clickhouse, database: "meterline" });
  }
  project.provide("stack", stack.info);
  project.provide("workerEnv", workerEnv(stack.info, TEST_ADMIN_KEY));
  project.provide("stackDataDir", dataDir);
  const control = await serveStackControl(stack);
  project.provide("stackControlUrl", control.url);
  process.stderr.write(`local stack ready in ${Date.now() - startedMs} ms (${dataDir})\n`);
  return async () => {
    await control.close();
    await stack.stop();
    if (!process.env.KEEP_STACK_DATA) {
      rmSync(dataDir, { recursive: true, force: true });
    }
  };
}
