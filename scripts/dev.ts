/**
 * `npm run dev`: the whole local cloud in one command. Starts every stand-in (Postgres behind a
 * Neon-style proxy, ClickHouse, Upstash Redis, the Stripe sandbox, QStash) on fixed loopback
 * ports with state in `.data/`, applies migrations, runs `wrangler dev` wired to them, and fires
 * the Worker's crons on schedule. Ctrl-C stops every process it started.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Stack, startStack, workerEnv } from "../local-stack/stack.ts";
import { migrateClickHouse } from "../migrations/clickhouse.ts";
import { migratePostgres } from "../migrations/postgres.ts";
import { DEV_PORTS, DEV_WORKER_PORT } from "./dev-ports.ts";
import { startWorker, type WorkerProcess } from "./worker-process.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DATA = join(ROOT, ".data");
/** The crons wrangler.toml declares; `wrangler dev` does not fire them by itself. */
const CRONS = ["0 * * * *", "*/5 * * * *", "15 3 * * *"];

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

/** Resolves when `port` on 127.0.0.1 can be bound, rejects with a helpful message otherwise. */
function assertPortFree(port: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", () =>
      reject(
        new Error(
          `port ${port} (${what}) is already in use — is another \`npm run dev\` running? ` +
            `Stop it (Ctrl-C in its terminal) or find the process with \`ss -ltnp 'sport = :${port}'\`.`,
        ),
      ),
    );
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve()));
  });
}

/** Minute-granular matcher for the three cron shapes this Worker uses. */
function cronDue(cron: string, at: Date): boolean {
  const [minute, hour] = cron.split(" ");
  const minuteOk =
    minute === "*" ||
    (minute?.startsWith("*/")
      ? at.getUTCMinutes() % Number(minute.slice(2)) === 0
      : Number(minute) === at.getUTCMinutes());
  const hourOk = hour === "*" || Number(hour) === at.getUTCHours();
  return minuteOk && hourOk;
}

async function main(): Promise<void> {
  mkdirSync(DATA, { recursive: true });
  const startedMs = Date.now();
  let stack: Stack | undefined;
  let worker: WorkerProcess | undefined;
  let ticker: ReturnType<typeof setInterval> | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) {
      return;
    }
    stopping = true;
    process.stdout.write("\nstopping…\n");
    clearInterval(ticker);
    await worker?.stop();
    await stack?.stop();
    process.exit(code);
  };
  // Installed before anything starts, so Ctrl-C at any moment stops what did start.
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));
  try {
    process.stdout.write("meterline dev: starting the local cloud\n");
    await assertPortFree(DEV_WORKER_PORT, "the Worker");
    for (const [name, port] of Object.entries(DEV_PORTS)) {
      await assertPortFree(port, name);
    }
    const workerUrl = `http://127.0.0.1:${DEV_WORKER_PORT}`;
    stack = await startStack({
      dataDir: DATA,
      ports: { ...DEV_PORTS },
      workerUrl,
      onProgress: step,
      restartOnExit: true,
    });
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
    const running = worker;
    ticker = setInterval(() => {
      const now = new Date();
      if (now.getUTCSeconds() >= 5) {
        return;
      }
      for (const cron of CRONS.filter((c) => cronDue(c, now))) {
        void fetch(`${running.url}/__scheduled?cron=${encodeURIComponent(cron)}`).then(
          (r) => r.body?.cancel(),
          () => {},
        );
      }
    }, 5_000);
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
    if (health.status !== "ok") {
      process.stdout.write(`  Some dependencies are down: see ${join(DATA, "logs")}\n`);
    }
    process.stdout.write(`  OpenAPI       ${worker.url}/openapi.json\n`);
    process.stdout.write(`  Dashboard     ${worker.url}/dashboard\n`);
    process.stdout.write(`  Admin key     ${key}\n`);
    process.stdout.write(`  Postgres      ${stack.info.postgres.appUrl}\n`);
    process.stdout.write(`  ClickHouse    ${stack.info.clickhouse.url}\n`);
    process.stdout.write(`  Upstash       ${stack.info.redis.url}\n`);
    process.stdout.write(`  Stripe        ${stack.info.stripe.url}\n`);
    process.stdout.write(`  QStash        ${stack.info.qstash.url}\n`);
    process.stdout.write(`  Crons         ${CRONS.join(", ")} (fired by this command, UTC)\n`);
    process.stdout.write(`  Logs          ${join(DATA, "logs")}\n\nCtrl-C stops everything.\n`);
    const code = await worker.exited;
    if (!stopping) {
      process.stdout.write(
        `wrangler dev stopped unexpectedly (${code}); see ${join(DATA, "logs", "worker.log")}\n`,
      );
      await stop(1);
    }
  } catch (error) {
    process.stderr.write(
      `\nmeterline dev failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    await stop(1);
  }
}

await main();
