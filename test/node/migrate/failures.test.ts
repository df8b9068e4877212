/**
 * `npm run migrate` against a Postgres it cannot use: every failure ends the process with exit
 * code 1 and a message saying what went wrong, never exit 0 with nothing done.
 */
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { describe, expect, inject, it } from "vitest";
import { migratePostgres, PostgresUnreachableError } from "../../../migrations/postgres.ts";

const stack = inject("stack");
const proxy = stack["neon-proxy"].wsProxy;
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

function withUrl(change: (url: URL) => void): string {
  const url = new URL(stack.postgres.appUrl);
  change(url);
  return url.toString();
}

const wrongPassword = withUrl((url) => {
  url.password = "wrong";
});
const missingDatabase = withUrl((url) => {
  url.pathname = "/no_such_database";
});
const where = `127.0.0.1:${stack.postgres.port}`;

/** A loopback port nothing listens on: one the kernel just handed out and got back. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Runs `node scripts/migrate.ts --only postgres` with the given environment. */
function runMigrate(
  env: Record<string, string>,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["scripts/migrate.ts", "--only", "postgres"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once("error", reject);
    child.once("close", (status) => resolve({ status, stdout, stderr }));
  });
}

describe("npm run migrate when Postgres refuses or cannot be reached", () => {
  it("exits 1 naming a refused password instead of exiting 0 having done nothing", async () => {
    const run = await runMigrate({ DATABASE_URL: wrongPassword, NEON_WS_PROXY: proxy });
    expect(run).toEqual({
      status: 1,
      stdout: "Postgres\n",
      stderr:
        `migration failed: cannot open a Postgres session at ${where}/meterline through ` +
        `${proxy}: password authentication failed for user "app"\n`,
    });
  });

  it("exits 1 saying the connection was refused when nothing listens at the proxy address", async () => {
    const port = await closedPort();
    const run = await runMigrate({
      DATABASE_URL: stack.postgres.appUrl,
      NEON_WS_PROXY: `127.0.0.1:${port}`,
    });
    expect(run).toEqual({
      status: 1,
      stdout: "Postgres\n",
      stderr: `migration failed: cannot connect to 127.0.0.1:${port}: connection refused\n`,
    });
  });

  it("rejects, rather than never settling, for a missing database or an unreachable proxy", async () => {
    await expect(migratePostgres({ url: missingDatabase, wsProxy: proxy })).rejects.toThrow(
      `cannot open a Postgres session at ${where}/no_such_database through ${proxy}: ` +
        'database "no_such_database" does not exist',
    );
    const port = await closedPort();
    const unreachable = migratePostgres({
      url: stack.postgres.appUrl,
      wsProxy: `127.0.0.1:${port}`,
    });
    await expect(unreachable).rejects.toBeInstanceOf(PostgresUnreachableError);
    await expect(unreachable).rejects.toThrow(
      `cannot connect to 127.0.0.1:${port}: connection refused`,
    );
  });
});
