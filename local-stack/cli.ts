/**
 * `npm run stack [-- --only postgres,clickhouse] [--env]`: the local stand-ins alone, without a
 * Worker, in the foreground on the fixed dev ports with state in `.data/` (the same state as
 * `npm run dev`, so not both at once). Applies the migrations, prints each service's URL and
 * credentials and the `.dev.vars` lines for a Worker run separately (`npx wrangler dev`), and
 * stops every service's process group on Ctrl-C. `--env` prints only those lines on stdout
 * (`npm run -s stack -- --env`); progress goes to stderr either way.
 *
 * Postgres comes with its Neon proxy: the migrator and the Worker reach Postgres only through it.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { migrateClickHouse } from "../migrations/clickhouse.ts";
import { migratePostgres } from "../migrations/postgres.ts";
import { DEV_PORTS, DEV_WORKER_PORT } from "../scripts/dev-ports.ts";
import { declaredSecrets } from "../scripts/worker-process.ts";
import { SERVICE_NAMES, type ServiceName, type Stack, startStack, workerEnv } from "./stack.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DATA = join(ROOT, ".data");
const WORKER_URL = `http://127.0.0.1:${DEV_WORKER_PORT}`;

const { values } = parseArgs({
  options: { only: { type: "string" }, env: { type: "boolean", default: false } },
});

const progress = (line: string) => process.stderr.write(`  \u2022 ${line}\n`);
const out = (line = "") => process.stdout.write(`${line}\n`);

function wantedServices(): ServiceName[] {
  const names = values.only?.split(",").map((name) => name.trim()) ?? [...SERVICE_NAMES];
  const unknown = names.filter((name) => !(SERVICE_NAMES as readonly string[]).includes(name));
  if (unknown.length > 0) {
    process.stderr.write(`unknown service ${unknown.join(", ")}; choose from ${SERVICE_NAMES}\n`);
    process.exit(2);
  }
  const wanted = new Set(names as ServiceName[]);
  if (wanted.has("postgres") || wanted.has("neon-proxy")) {
    wanted.add("postgres").add("neon-proxy");
  }
  return SERVICE_NAMES.filter((name) => wanted.has(name));
}

/** The admin key `npm run dev` also uses, kept in `.data/admin-key`. */
function adminKey(): string {
  const file = join(DATA, "admin-key");
  if (existsSync(file)) {
    return readFileSync(file, "utf8").trim();
  }
  const key = `ml_admin_${crypto.randomUUID().replaceAll("-", "")}`;
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

function assertPortFree(port: number, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", () =>
      reject(new Error(`port ${port} (${name}) is in use: is \`npm run dev\` or a stack running?`)),
    );
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve()));
  });
}

/**
 * The Worker's settings for this stack: the secrets wrangler.toml declares as `.dev.vars` lines,
 * and the local-only vars as `--var` flags, since `wrangler dev` reads only declared secrets
 * from `.dev.vars`.
 */
function envLines(stack: Stack, key: string): string[] {
  const secrets = declaredSecrets(ROOT);
  const env = { ...workerEnv(stack.info, key), PUBLIC_BASE_URL: WORKER_URL };
  const entries = Object.entries(env);
  const vars = entries.filter(([name]) => !secrets.has(name));
  return [
    `# .dev.vars for a Worker on ${WORKER_URL} (npm run stack; services not started point at port 9)`,
    ...entries.filter(([name]) => secrets.has(name)).map(([n, v]) => `${n}=${JSON.stringify(v)}`),
    "# local-only vars (wrangler dev reads only declared secrets from .dev.vars):",
    `#   npx wrangler dev ${vars.map(([n, v]) => `--var ${n}:${v}`).join(" ")}`,
  ];
}

function printServices(stack: Stack, key: string): void {
  const { info, services } = stack;
  const rows: [ServiceName, string, string][] = [
    ["postgres", "Postgres", `${info.postgres.appUrl}  (superuser: ${info.postgres.adminUrl})`],
    [
      "neon-proxy",
      "Neon proxy",
      `WebSocket ${info["neon-proxy"].wsProxy}, SQL over HTTP ${info["neon-proxy"].httpEndpoint}`,
    ],
    [
      "clickhouse",
      "ClickHouse",
      `${info.clickhouse.url}  user ${info.clickhouse.username}, password ${info.clickhouse.password}, database meterline`,
    ],
    [
      "redis",
      "Upstash",
      `${info.redis.url}  token ${info.redis.token} (redis-server on port ${info.redis.redisPort})`,
    ],
    [
      "stripe",
      "Stripe",
      `${info.stripe.url}  secret key ${info.stripe.secretKey}, webhook secret ${info.stripe.webhookSecret}`,
    ],
    [
      "qstash",
      "QStash",
      `${info.qstash.url}  token ${info.qstash.token}, signing keys ${info.qstash.currentSigningKey} / ${info.qstash.nextSigningKey}`,
    ],
  ];
  out("\nmeterline local stack\n");
  for (const [, label, text] of rows.filter(([name]) => services.has(name))) {
    out(`  ${label.padEnd(12)} ${text}`);
  }
  out(`  ${"Admin key".padEnd(12)} ${key}`);
  out(`  ${"Logs".padEnd(12)} ${join(DATA, "logs")}\n`);
}

let stack: Stack | undefined;
let starting: Promise<Stack> | undefined;
let stopping = false;

async function stop(code: number): Promise<void> {
  if (stopping) {
    return;
  }
  stopping = true;
  process.stderr.write("\nstopping…\n");
  const running = stack ?? (await starting?.catch(() => undefined));
  await running?.stop();
  process.exit(code);
}

async function main(): Promise<void> {
  // Installed before anything starts, so Ctrl-C at any moment stops what did start.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => void stop(0));
  }
  const only = wantedServices();
  mkdirSync(DATA, { recursive: true });
  for (const name of only) {
    await assertPortFree(DEV_PORTS[name], name);
  }
  process.stderr.write(`starting ${only.join(", ")} (state in ${DATA})\n`);
  starting = startStack({
    dataDir: DATA,
    ports: { ...DEV_PORTS },
    workerUrl: WORKER_URL,
    only,
    onProgress: progress,
  });
  stack = await starting;
  if (stack.services.has("postgres")) {
    const result = await migratePostgres({
      url: stack.info.postgres.appUrl,
      wsProxy: stack.info["neon-proxy"].wsProxy,
    });
    progress(
      `Postgres migrations: ${result.applied.length} applied, ${result.skipped.length} there`,
    );
  }
  if (stack.services.has("clickhouse")) {
    const result = await migrateClickHouse({ ...stack.info.clickhouse, database: "meterline" });
    progress(
      `ClickHouse migrations: ${result.applied.length} applied, ${result.skipped.length} there`,
    );
  }
  const key = adminKey();
  if (!values.env) {
    printServices(stack, key);
  }
  for (const line of envLines(stack, key)) {
    out(line);
  }
  process.stderr.write("\nCtrl-C stops everything.\n");
  // A service that dies on its own takes the stack down with it, rather than leaving half of it.
  const exited = await Promise.race(
    [...stack.services.values()].map((s) => s.exited.then(() => s.name)),
  );
  if (!stopping) {
    process.stderr.write(`${exited} stopped unexpectedly; see ${join(DATA, "logs")}\n`);
    await stop(1);
  }
}

main().catch(async (error: unknown) => {
  process.stderr.write(`npm run stack failed: ${error instanceof Error ? error.message : error}\n`);
  await stop(1);
});
