/**
 * `npm run migrate`: applies the Postgres and ClickHouse migrations to the databases named by
 * the environment — the same variables the Worker reads (DATABASE_URL, CLICKHOUSE_URL,
 * CLICKHOUSE_USER, CLICKHOUSE_PASSWORD, CLICKHOUSE_DATABASE) — or, with `--local`, to the
 * `npm run dev` stack. Re-running is a no-op; a failing migration leaves its schema unchanged.
 */
import { parseArgs } from "node:util";
import { migrateClickHouse } from "../migrations/clickhouse.ts";
import { migratePostgres, PostgresUnreachableError } from "../migrations/postgres.ts";
import { DEV_PORTS } from "./dev-ports.ts";

const { values } = parseArgs({
  options: { local: { type: "boolean", default: false }, only: { type: "string" } },
});

function need(name: string): string {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(
      `missing ${name}: set it in the environment, or use --local for the npm run dev stack\n`,
    );
    process.exit(2);
  }
  return value;
}

async function main(): Promise<void> {
  const only = values.only;
  if (only !== undefined && only !== "postgres" && only !== "clickhouse") {
    process.stderr.write("--only takes postgres or clickhouse\n");
    process.exit(2);
  }
  const log = (msg: string) => process.stdout.write(`  ${msg}\n`);
  if (only !== "clickhouse") {
    const url = values.local ? await localPostgresUrl() : need("DATABASE_URL");
    const wsProxy = values.local
      ? `127.0.0.1:${DEV_PORTS["neon-proxy"]}`
      : process.env.NEON_WS_PROXY;
    process.stdout.write("Postgres\n");
    const result = await migratePostgres({ url, ...(wsProxy ? { wsProxy } : {}), log });
    process.stdout.write(
      `  ${result.applied.length} applied, ${result.skipped.length} already applied\n`,
    );
  }
  if (only !== "postgres") {
    process.stdout.write("ClickHouse\n");
    const result = await migrateClickHouse({
      url: values.local ? `http://127.0.0.1:${DEV_PORTS.clickhouse}` : need("CLICKHOUSE_URL"),
      username: process.env.CLICKHOUSE_USER ?? "default",
      password: values.local
        ? await localClickHousePassword()
        : (process.env.CLICKHOUSE_PASSWORD ?? ""),
      database: process.env.CLICKHOUSE_DATABASE ?? "meterline",
      log,
    });
    process.stdout.write(
      `  ${result.applied.length} applied, ${result.skipped.length} already applied\n`,
    );
  }
}

async function readDevVars(): Promise<Record<string, string>> {
  const { readFileSync } = await import("node:fs");
  const text = readFileSync(new URL("../.dev.vars", import.meta.url), "utf8");
  const vars: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) {
      vars[line.slice(0, eq)] = JSON.parse(line.slice(eq + 1)) as string;
    }
  }
  return vars;
}

async function localPostgresUrl(): Promise<string> {
  return (await readDevVars()).DATABASE_URL ?? need("DATABASE_URL");
}

async function localClickHousePassword(): Promise<string> {
  return (await readDevVars()).CLICKHOUSE_PASSWORD ?? "";
}

main().catch((error: unknown) => {
  const message = (error as { message?: unknown } | null)?.message;
  const hint =
    values.local && error instanceof PostgresUnreachableError ? " — is `npm run dev` running?" : "";
  process.stderr.write(
    `migration failed: ${typeof message === "string" ? message : String(error)}${hint}\n`,
  );
  process.exit(1);
});
