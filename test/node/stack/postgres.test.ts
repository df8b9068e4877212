/**
 * The local Neon stand-in, tested with the official driver as its only client: the WebSocket
 * tunnel (Pool, Client), the SQL-over-HTTP endpoint (`neon()`), the proxy's refusal to reach
 * anything but the cluster, outages of a private cluster, and the migration runner.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client, NeonDbError, neon, neonConfig, Pool } from "@neondatabase/serverless";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it, vi } from "vitest";
import { WebSocket } from "ws";
import { wrapDatabaseError } from "../../../lib/adapters/postgres.ts";
import { type RunningService, spawnService } from "../../../local-stack/process.ts";
import type { NeonProxyInfo, PostgresInfo } from "../../../local-stack/stack.ts";
import { MIGRATION_LOCK_KEY, migratePostgres } from "../../../migrations/postgres.ts";

const stack = inject("stack");
const proxy = stack["neon-proxy"];
const appUrl = stack.postgres.appUrl;
const appPassword = new URL(appUrl).password;
const PRODUCTION_HOST = "ep-cool-name-123456.us-east-2.aws.neon.tech";

/**
 * neonConfig is process-global, so the tunnel and HTTP endpoint are chosen by the cluster port
 * in the connection string: the private outage cluster below registers its own proxy here, and
 * everything else (including production host names, port 5432) goes to the shared stack.
 */
const privateProxies = new Map<number, NeonProxyInfo>();
function proxyFor(port: string | number): NeonProxyInfo {
  return privateProxies.get(Number(port)) ?? proxy;
}
beforeEach(() => {
  neonConfig.wsProxy = (host, port) => `${proxyFor(port).wsProxy}/v1?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = "password";
  neonConfig.fetchEndpoint = (_host, port) => proxyFor(port).httpEndpoint;
});

function unique(prefix: string): string {
  return `${prefix}_${randomUUID().replace(/-/g, "").slice(0, 12)}`;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function caught(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Record<string, unknown>;
  }
  throw new Error("expected a rejection");
}

describe("WebSocket tunnel (Pool and Client)", () => {
  it("logs the app role in with the pipelined cleartext password, as Neon does", async () => {
    const admin = neon(stack.postgres.adminUrl);
    const rules = await admin`select auth_method from pg_hba_file_rules
      where 'app' = any(user_name) and address = '127.0.0.1'`;
    expect(rules).toEqual([{ auth_method: "password" }]);

    const client = new Client(appUrl);
    await client.connect();
    const { rows } = await client.query("select current_user as who, current_database() as db");
    await client.end();
    expect(neonConfig.pipelineConnect).toBe("password");
    expect(rows).toEqual([{ who: "app", db: "meterline" }]);
  });

  it("commits and rolls back transactions and binds parameters", async () => {
    const table = unique("tunnel_tx");
    const client = new Client(appUrl);
    await client.connect();
    await client.query(`create table ${table} (id int primary key, label text not null)`);
    await client.query("begin");
    await client.query(`insert into ${table} values ($1, $2)`, [1, "kept"]);
    await client.query("commit");
    await client.query("begin");
    await client.query(`insert into ${table} values ($1, $2)`, [2, "dropped"]);
    await client.query("rollback");
    const { rows } = await client.query(`select id, label from ${table} where id > $1`, [0]);
    const typed = await client.query("select $1::int + 1 as n, $2::text as s, $3::jsonb as j", [
      41,
      "it's",
      JSON.stringify({ a: [1, 2] }),
    ]);
    await client.end();
    expect(rows).toEqual([{ id: 1, label: "kept" }]);
    expect(typed.rows).toEqual([{ n: 42, s: "it's", j: { a: [1, 2] } }]);
  });

  it("runs N concurrent transactions on N distinct backends", async () => {
    const table = unique("tunnel_conc");
    const n = 8;
    const pool = new Pool({ connectionString: appUrl, max: n });
    await pool.query(`create table ${table} (pid int not null)`);
    // Every transaction waits until all n are open, so they must be on n connections at once.
    let open = 0;
    let allOpen: () => void = () => {};
    const barrier = new Promise<void>((resolve) => {
      allOpen = resolve;
    });
    const pids = await Promise.all(
      Array.from({ length: n }, async () => {
        const client = await pool.connect();
        try {
          await client.query("begin");
          const { rows } = await client.query<{ pid: number }>("select pg_backend_pid() as pid");
          open += 1;
          if (open === n) {
            allOpen();
          }
          await barrier;
          await client.query(`insert into ${table} values ($1)`, [rows[0]?.pid]);
          await client.query("commit");
          return rows[0]?.pid;
        } finally {
          client.release();
        }
      }),
    );
    const { rows } = await pool.query(`select count(distinct pid)::int as pids from ${table}`);
    await pool.end();
    expect(new Set(pids).size).toBe(n);
    expect(rows).toEqual([{ pids: n }]);
  });

  it("surfaces SQL errors with their SQLSTATE and fields", async () => {
    const table = unique("tunnel_err");
    const client = new Client(appUrl);
    await client.connect();
    const missing = await caught(client.query("select * from no_such_table"));
    await client.query(`create table ${table} (id int constraint ${table}_pk primary key)`);
    await client.query(`insert into ${table} values (1)`);
    const duplicate = await caught(client.query(`insert into ${table} values (1)`));
    const stillUsable = await client.query("select 1 as one");
    await client.end();
    expect(missing.code).toBe("42P01");
    expect(missing.message).toBe('relation "no_such_table" does not exist');
    expect(duplicate).toMatchObject({
      code: "23505",
      constraint: `${table}_pk`,
      table,
      detail: "Key (id)=(1) already exists.",
    });
    expect(stillUsable.rows).toEqual([{ one: 1 }]);
  });

  it("maps a production Neon host name onto the local cluster", async () => {
    const url = `postgresql://app:${appPassword}@${PRODUCTION_HOST}/meterline?sslmode=require`;
    const client = new Client(url);
    await client.connect();
    const { rows } = await client.query(
      "select current_database() as db, inet_server_port() as port",
    );
    await client.end();
    const viaHttp = await neon(url)`select current_database() as db`;
    expect(rows).toEqual([{ db: "meterline", port: stack.postgres.port }]);
    expect(viaHttp).toEqual([{ db: "meterline" }]);
  });
});

describe("proxy refuses to reach anything but the cluster", () => {
  let decoy: Server;
  let decoyPort = 0;
  let decoyConnections = 0;

  beforeAll(async () => {
    decoy = createServer((socket) => {
      decoyConnections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => decoy.listen(0, "127.0.0.1", resolve));
    decoyPort = (decoy.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => decoy.close(resolve));
  });

  it("answers 403 to a tunnel aimed at another loopback port and never dials it", async () => {
    const statuses = await Promise.all(
      [`127.0.0.1:${decoyPort}`, `localhost:${decoyPort}`, `[::1]:${decoyPort}`].map(
        (address) =>
          new Promise<number>((resolve, reject) => {
            const ws = new WebSocket(`ws://${proxy.wsProxy}/v1?address=${address}`);
            // Aborting a handshake we no longer need reports an error we expect.
            ws.on("error", () => {});
            ws.once("unexpected-response", (_request, response) => {
              resolve(response.statusCode ?? 0);
              ws.terminate();
            });
            ws.once("open", () => reject(new Error(`tunnel to ${address} was opened`)));
          }),
      ),
    );
    const client = new Client(`postgresql://app:${appPassword}@127.0.0.1:${decoyPort}/meterline`);
    const driverError = await caught(client.connect());
    const httpError =
      await caught(
        neon(`postgresql://app:${appPassword}@127.0.0.1:${decoyPort}/meterline`)`select 1`,
      );
    expect(statuses).toEqual([403, 403, 403]);
    expect(driverError.message).toBe("Received network error or non-101 status code.");
    expect(httpError).toBeInstanceOf(NeonDbError);
    expect(httpError.message).toBe(
      `127.0.0.1:${decoyPort} is not the local Postgres cluster ` +
        `(127.0.0.1:${stack.postgres.port}); refused`,
    );
    expect(decoyConnections).toBe(0);
  });
});

describe("SQL over HTTP (neon())", () => {
  it("binds params and returns jsonb, bigint, numeric, null and timestamps typed", async () => {
    const sql = neon(appUrl);
    const rows = await sql`select ${41}::int + 1 as n,
      ${JSON.stringify({ plan: "pro", tiers: [1, 2] })}::jsonb as j,
      9007199254740993::bigint as big,
      ${"12.345678901234567890"}::numeric as amount,
      ${null}::text as nothing,
      '2026-01-31T23:00:00Z'::timestamptz as at`;
    expect(rows).toEqual([
      {
        n: 42,
        j: { plan: "pro", tiers: [1, 2] },
        big: "9007199254740993",
        amount: "12.345678901234567890",
        nothing: null,
        at: new Date("2026-01-31T23:00:00Z"),
      },
    ]);
  });

  it("returns full results with command, row count and field types", async () => {
    const result = await neon(appUrl).query("select $1::text as label, 7::int8 as n", ["x"], {
      fullResults: true,
    });
    expect(result.command).toBe("SELECT");
    expect(result.rowCount).toBe(1);
    expect(result.rows).toEqual([{ label: "x", n: "7" }]);
    expect(result.fields.map((field) => [field.name, field.dataTypeID])).toEqual([
      ["label", 25],
      ["n", 20],
    ]);
  });

  it("runs transaction([...]) atomically with the requested isolation and modes", async () => {
    const sql = neon(appUrl);
    const table = unique("http_tx");
    await sql.query(`create table ${table} (id int primary key)`);
    const [isolation, inserted] = await sql.transaction(
      (tx) => [
        tx`select current_setting('transaction_isolation') as level`,
        tx.query(`insert into ${table} values (1), (2) returning id`),
      ],
      { isolationLevel: "Serializable" },
    );
    const failed = await caught(
      sql.transaction([
        sql.query(`insert into ${table} values (3)`),
        sql.query(`insert into ${table} values (1)`),
      ]),
    );
    const readOnly = await caught(
      sql.transaction([sql.query(`insert into ${table} values (4)`)], { readOnly: true }),
    );
    const ids = await sql.query(`select id from ${table} order by id`);
    expect(isolation).toEqual([{ level: "serializable" }]);
    expect(inserted).toEqual([{ id: 1 }, { id: 2 }]);
    expect(failed.code).toBe("23505");
    expect(readOnly.code).toBe("25006");
    expect(ids).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it("raises NeonDbError with the Postgres error fields", async () => {
    const sql = neon(appUrl);
    const missing = await caught(sql`select * from no_such_table`);
    const table = unique("http_err");
    await sql.query(`create table ${table} (id int constraint ${table}_pk primary key)`);
    await sql.query(`insert into ${table} values (1)`);
    const duplicate = await caught(sql.query(`insert into ${table} values (1)`));
    const twoStatements = await caught(sql`select 1; select 2`);
    const badPassword = await caught(neon(appUrl.replace(appPassword, "wrong"))`select 1`);
    expect(missing).toBeInstanceOf(NeonDbError);
    expect(missing).toMatchObject({
      message: 'relation "no_such_table" does not exist',
      code: "42P01",
      severity: "ERROR",
      position: "15",
      routine: "parserOpenTable",
    });
    expect(duplicate).toMatchObject({
      code: "23505",
      constraint: `${table}_pk`,
      table,
      schema: "public",
      detail: "Key (id)=(1) already exists.",
    });
    // Like Neon, one HTTP query is one prepared statement.
    expect(twoStatements.code).toBe("42601");
    expect(badPassword.code).toBe("28P01");
  });
});

describe("outages of a private cluster", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "meterline-pg-outage-"));
  const postgresScript = fileURLToPath(
    new URL("../../../local-stack/postgres/main.ts", import.meta.url),
  );
  const proxyScript = fileURLToPath(
    new URL("../../../local-stack/neon-proxy/main.ts", import.meta.url),
  );
  let postgres: RunningService<PostgresInfo & { postmasterPid: number }>;
  let tunnel: RunningService<NeonProxyInfo>;
  let port = 0;

  function startPostgres() {
    return spawnService<PostgresInfo & { postmasterPid: number }>({
      name: "postgres-outage",
      script: postgresScript,
      args: ["--data", join(dataDir, "postgres"), "--port", String(port), "--fast"],
      logDir: join(dataDir, "logs"),
    });
  }

  /** Alive and not a zombie (this container's init does not reap orphans). */
  function isRunning(pid: number): boolean {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
    } catch {
      return false;
    }
  }

  beforeAll(async () => {
    postgres = await startPostgres();
    port = postgres.info.port;
    tunnel = await spawnService<NeonProxyInfo>({
      name: "neon-proxy-outage",
      script: proxyScript,
      args: ["--data", join(dataDir, "neon-proxy"), "--port", "0", "--pg-port", String(port)],
      logDir: join(dataDir, "logs"),
    });
    privateProxies.set(port, tunnel.info);
  });
  afterAll(async () => {
    await tunnel?.stop();
    await postgres?.stop();
    privateProxies.delete(port);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("fails queries while postgres is down and serves them again after a restart", async () => {
    const url = postgres.info.appUrl;
    const pool = new Pool({ connectionString: url, max: 2 });
    pool.on("error", () => {});
    const sql = neon(url);
    await pool.query("create table survivor (id int)");
    await sql`insert into survivor values (1)`;

    await postgres.stop();
    const tunnelError = await caught(pool.query("select 1"));
    const httpError = await caught(sql`select 1`);

    postgres = await startPostgres();
    const afterRestart = await pool.query("select count(*)::int as n from survivor");
    const afterRestartHttp = await sql`select count(*)::int as n from survivor`;
    await pool.end();

    expect(tunnelError.message).toBe("Connection terminated unexpectedly");
    expect(wrapDatabaseError(tunnelError)).toMatchObject({ code: "DEPENDENCY_UNAVAILABLE" });
    expect(httpError).toBeInstanceOf(NeonDbError);
    expect(httpError.message).toBe(
      "Server error (HTTP status 503): " +
        JSON.stringify({
          message: `could not reach the local Postgres cluster: connect ECONNREFUSED 127.0.0.1:${port}`,
        }),
    );
    expect(postgres.info.port).toBe(port);
    expect(afterRestart.rows).toEqual([{ n: 1 }]);
    expect(afterRestartHttp).toEqual([{ n: 1 }]);
  });

  it("takes the postmaster down with a supervisor killed by SIGKILL, then restarts", async () => {
    const postmasterPid = postgres.info.postmasterPid;
    process.kill(postgres.pid, "SIGKILL");
    await postgres.exited;
    // The postmaster gets SIGINT from its parent-death signal and shuts down by itself.
    await vi.waitFor(() => expect(isRunning(postmasterPid)).toBe(false), {
      timeout: 15_000,
      interval: 20,
    });

    postgres = await startPostgres();
    const rows = await neon(postgres.info.appUrl)`select count(*)::int as n from survivor`;
    expect(rows).toEqual([{ n: 1 }]);
  });

  it("restarts after the whole process group was SIGKILLed mid-flight", async () => {
    const postmasterPid = postgres.info.postmasterPid;
    process.kill(-postgres.pid, "SIGKILL");
    await postgres.exited;
    expect(isRunning(postmasterPid)).toBe(false);

    postgres = await startPostgres();
    const rows = await neon(postgres.info.appUrl)`select count(*)::int as n from survivor`;
    expect(rows).toEqual([{ n: 1 }]);
  });

  it("leaves no postmaster behind when the orchestrator stops it", async () => {
    const postmasterPid = postgres.info.postmasterPid;
    await postgres.stop();
    expect(isRunning(postmasterPid)).toBe(false);
    postgres = await startPostgres();
  });
});

describe("migratePostgres", () => {
  const admin = () => neon(stack.postgres.adminUrl);
  const folders: string[] = [];
  afterAll(() => {
    for (const folder of folders) {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  /** A fresh database owned by app, and a temporary folder of migration files. */
  async function scratch(files: Record<string, string>) {
    const database = unique("mig");
    await admin().query(`create database ${database} owner app`);
    const dir = mkdtempSync(join(tmpdir(), "meterline-migrations-"));
    folders.push(dir);
    for (const [name, sql] of Object.entries(files)) {
      writeFileSync(join(dir, name), sql);
    }
    const url = withDatabase(appUrl, database);
    return {
      url,
      dir,
      sql: neon(url),
      migrate: () => migratePostgres({ url, dir, wsProxy: proxy.wsProxy }),
    };
  }

  const first = {
    "0001_accounts.sql": "create table accounts (id text primary key);\n",
    "0002_usage.sql":
      "create table usage (account_id text references accounts, quantity numeric not null);\n" +
      "create index usage_account on usage (account_id);\n",
  };

  it("applies pending files in order and records them with checksums", async () => {
    const db = await scratch(first);
    const logged: string[] = [];
    const result = await migratePostgres({
      url: db.url,
      dir: db.dir,
      wsProxy: proxy.wsProxy,
      log: (msg) => logged.push(msg),
    });
    const history = await db.sql`select version, name, length(checksum) as len
      from schema_migrations order by version`;
    const tables = await db.sql`select to_regclass('usage')::text as usage`;
    expect(result).toEqual({ applied: ["0001_accounts.sql", "0002_usage.sql"], skipped: [] });
    expect(history).toEqual([
      { version: "0001", name: "accounts", len: 64 },
      { version: "0002", name: "usage", len: 64 },
    ]);
    expect(tables).toEqual([{ usage: "usage" }]);
    expect(logged).toEqual([
      "applying 0001_accounts.sql",
      "applying 0002_usage.sql",
      "2 applied, 0 already applied",
    ]);
  });

  it("does nothing when every file is already applied", async () => {
    const db = await scratch(first);
    await db.migrate();
    const again = await db.migrate();
    const history = await db.sql`select count(*)::int as n from schema_migrations`;
    expect(again).toEqual({ applied: [], skipped: ["0001_accounts.sql", "0002_usage.sql"] });
    expect(history).toEqual([{ n: 2 }]);
  });

  it("rolls a failing migration back completely and names the file and the error", async () => {
    const db = await scratch(first);
    await db.migrate();
    writeFileSync(
      join(db.dir, "0003_broken.sql"),
      "create table invoices (id text primary key);\n" +
        "insert into invoices values ('inv_1');\n" +
        "select * from missing_table;\n",
    );
    writeFileSync(join(db.dir, "0004_after.sql"), "create table later (id int);\n");
    const error = await caught(db.migrate());
    const state = await db.sql`select to_regclass('invoices')::text as invoices,
      to_regclass('later')::text as later,
      (select count(*)::int from schema_migrations) as recorded`;
    expect(error.message).toBe(
      'Postgres migration 0003_broken.sql failed: relation "missing_table" does not exist ' +
        "(SQLSTATE 42P01) at line 3",
    );
    expect(state).toEqual([{ invoices: null, later: null, recorded: 2 }]);
  });

  it("rejects an applied file whose content changed and applies nothing", async () => {
    const db = await scratch(first);
    await db.migrate();
    writeFileSync(join(db.dir, "0001_accounts.sql"), "create table accounts (id bigint);\n");
    writeFileSync(join(db.dir, "0003_more.sql"), "create table more (id int);\n");
    const error = await caught(db.migrate());
    const state = await db.sql`select to_regclass('more')::text as more`;
    expect(String(error.message)).toMatch(
      /^0001_accounts\.sql changed after it was applied \(checksum [0-9a-f]{12}… is now [0-9a-f]{12}…\); add a new migration instead of editing it$/,
    );
    expect(state).toEqual([{ more: null }]);
  });

  it("refuses a new file numbered below an applied one, and a deleted applied file", async () => {
    const db = await scratch(first);
    await db.migrate();
    writeFileSync(join(db.dir, "0000_early.sql"), "create table early (id int);\n");
    const late = await caught(db.migrate());
    rmSync(join(db.dir, "0000_early.sql"));
    rmSync(join(db.dir, "0002_usage.sql"));
    const deleted = await caught(db.migrate());
    const state = await db.sql`select to_regclass('early')::text as early`;
    expect(late.message).toBe(
      "0000_early.sql is older than the applied migration 0002; give it a higher number",
    );
    expect(deleted.message).toBe(
      "migration 0002_usage is recorded as applied but its file is missing",
    );
    expect(state).toEqual([{ early: null }]);
  });

  it("refuses a file that commits its own transaction", async () => {
    const db = await scratch({ "0001_sneaky.sql": "create table a (id int);\ncommit;\n" });
    const error = await caught(db.migrate());
    expect(error.message).toMatch(/^Postgres migration 0001_sneaky\.sql failed: the file ended/);
  });

  it("serialises concurrent migrators with the advisory lock", async () => {
    const db = await scratch({
      ...first,
      // Not idempotent: running it twice would fail on the duplicate table.
      "0003_counter.sql": "create table counter (n int);\ninsert into counter values (1);\n",
    });
    const holder = new Client(db.url);
    await holder.connect();
    await holder.query(`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`);
    const runs = Promise.all([db.migrate(), db.migrate(), db.migrate()]);
    // All three are queued behind the lock the test holds before any of them proceeds.
    await vi.waitFor(
      async () => {
        const waiting = await db.sql`select count(*)::int as n from pg_locks
          where locktype = 'advisory' and not granted
            and database = (select oid from pg_database where datname = current_database())`;
        expect(waiting).toEqual([{ n: 3 }]);
      },
      { timeout: 15_000, interval: 25 },
    );
    await holder.query(`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`);
    await holder.end();
    const results = await runs;
    const applied = results.flatMap((result) => result.applied).sort();
    const counter = await db.sql`select count(*)::int as n from counter`;
    expect(applied).toEqual(["0001_accounts.sql", "0002_usage.sql", "0003_counter.sql"]);
    for (const result of results) {
      expect([...result.applied, ...result.skipped].sort()).toEqual(applied);
    }
    expect(counter).toEqual([{ n: 1 }]);
  });
});
