/**
 * `npm run dev`: the whole local cloud in one command. Starts every stand-in (Postgres behind a
 * Neon-style proxy, ClickHouse, Upstash Redis, the Stripe sandbox, QStash) on fixed loopback
 * ports with state in `.data/`, applies migrations, and runs `wrangler dev` wired to them.
 * Ctrl-C stops every process it started.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startStack, workerEnv } from "../local-stack/stack.ts";
import { migrateClickHouse } from "../migrations/clickhouse.ts";
import { migratePostgres } from "../migrations/postgres.ts";
import { DEV_PORTS, DEV_WORKER_PORT } from "./dev-ports.ts";
import { startWorker } from "./worker-process.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DATA = join(ROOT, ".data");

function adminKey(): string {
  const file = join(DATA, "admin-key");
  if (existsSync(file)) {
    return readFileSync(file, "utf8").trim();
  }
  const key = `ml_admin_${crypto.randomUUID().replaceAll("-", "")}`;
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

function step(message: string): void {
  process.stdout.write(`  \u2022 ${message}\n`);
}

async function main(): Promise<void> {
  mkdirSync(DATA, { recursive: true });
  const startedMs = Date.now();
  process.stdout.write("meterline dev: starting the local cloud\n");
  const workerUrl = `http://127.0.0.1:${DEV_WORKER_PORT}`;
  const stack = await startStack({
    dataDir: DATA,
    ports: { ...DEV_PORTS },
    workerUrl,
    onProgress: step,
  });
  let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) {
      return;
    }
    stopping = true;
    process.stdout.write("\nstopping…\n");
    await worker?.stop();
    await stack.stop();
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));
  try {
    step("applying Postgres migrations");
    const pg = await migratePostgres({
      url: stack.info.postgres.appUrl,
      wsProxy: stack.info["neon-proxy"].wsProxy,
    });
    step(`Postgres: ${pg.applied.length} applied, ${pg.skipped.length} already there`);
    step("applying ClickHouse migrations");
    const ch = await migrateClickHouse({ ...stack.info.clickhouse, database: "meterline" });
    step(`ClickHouse: ${ch.applied.length} applied, ${ch.skipped.length} already there`);
    const key = adminKey();
    const env = { ...workerEnv(stack.info, key), PUBLIC_BASE_URL: workerUrl };
    step("starting wrangler dev");
    worker = await startWorker({
      root: ROOT,
      port: DEV_WORKER_PORT,
      env,
      persistTo: join(DATA, "wrangler"),
      logFile: join(DATA, "logs", "worker.log"),
    });
    const health = (await (await fetch(`${worker.url}/healthz`)).json()) as {
      status: string;
      dependencies: { name: string; reachable: boolean; latencyMs: number }[];
    };
    process.stdout.write(
      `\nmeterline is up in ${((Date.now() - startedMs) / 1000).toFixed(1)} s\n\n`,
    );
    process.stdout.write(`  Worker        ${worker.url}\n`);
    process.stdout.write(`  Health        ${worker.url}/healthz  (${health.status})\n`);
    for (const dep of health.dependencies) {
      process.stdout.write(
        `    ${dep.reachable ? "ok  " : "DOWN"} ${dep.name.padEnd(11)} ${dep.latencyMs} ms\n`,
      );
    }
    process.stdout.write(`  OpenAPI       ${worker.url}/openapi.json\n`);
    process.stdout.write(`  Dashboard     ${worker.url}/dashboard\n`);
    process.stdout.write(`  Admin key     ${key}\n`);
    process.stdout.write(`  Postgres      ${stack.info.postgres.appUrl}\n`);
    process.stdout.write(`  ClickHouse    ${stack.info.clickhouse.url}\n`);
    process.stdout.write(`  Upstash       ${stack.info.redis.url}\n`);
    process.stdout.write(`  Stripe        ${stack.info.stripe.url}\n`);
    process.stdout.write(`  QStash        ${stack.info.qstash.url}\n`);
    process.stdout.write(`  Logs          ${join(DATA, "logs")}\n\nCtrl-C stops everything.\n`);
    const code = await worker.exited;
    process.stdout.write(
      `wrangler dev exited (${code}); see ${join(DATA, "logs", "worker.log")}\n`,
    );
    await stop(1);
  } catch (error) {
    process.stderr.write(
      `\nmeterline dev failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    await stop(1);
  }
}

await main();
