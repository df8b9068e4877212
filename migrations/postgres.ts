/**
 * Versioned SQL migrations for the ledger database, applied through Neon's serverless driver so
 * the same command migrates Neon in production and the local stack in dev and tests.
 *
 * Files are `migrations/postgres/NNNN_name.sql`, applied in version order, each in its own
 * transaction together with its row in `schema_migrations`. A session advisory lock serialises
 * concurrent migrators; the loser waits, then finds everything applied.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@neondatabase/serverless";
import { configureDriver } from "../lib/adapters/postgres.ts";

const DEFAULT_DIR = fileURLToPath(new URL("./postgres/", import.meta.url));
const FILE_PATTERN = /^(\d{4})_([a-z0-9][a-z0-9_]*)\.sql$/;
/**
 * Session advisory lock key (arbitrary but fixed) that every meterline migrator, in any process,
 * takes before reading or writing `schema_migrations`. Advisory locks are per database.
 */
export const MIGRATION_LOCK_KEY = "7310522819044417";

export interface MigrateOptions {
  /** Connection string; a role that may create tables in the target database. */
  url: string;
  /** host:port of the local WebSocket proxy; omit for Neon itself. */
  wsProxy?: string;
  /** Folder of `NNNN_name.sql` files; defaults to `migrations/postgres/`. */
  dir?: string;
  log?: (msg: string) => void;
}

/**
 * The migrator could not reach Postgres at all: nothing listens at the WebSocket address, the
 * upgrade was refused, or the connection closed before Postgres answered. A server that answers
 * and refuses (a wrong password, a missing database) is a plain Error with its message.
 */
export class PostgresUnreachableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PostgresUnreachableError";
  }
}

export interface MigrateResult {
  /** File names applied by this run, in order. */
  applied: string[];
  /** File names that were already applied. */
  skipped: string[];
}

interface MigrationFile {
  version: string;
  name: string;
  fileName: string;
  sql: string;
  checksum: string;
}

interface AppliedRow {
  version: string;
  name: string;
  checksum: string;
}

/** Reads and orders the migration files; a misnamed `.sql` or a duplicate version is an error. */
function readMigrations(dir: string): MigrationFile[] {
  const files: MigrationFile[] = [];
  for (const fileName of readdirSync(dir).sort()) {
    if (!fileName.endsWith(".sql")) {
      continue;
    }
    const match = FILE_PATTERN.exec(fileName);
    if (!match) {
      throw new Error(`${fileName}: migration files are named NNNN_lower_snake_name.sql`);
    }
    const version = match[1] ?? "";
    const clash = files.find((file) => file.version === version);
    if (clash) {
      throw new Error(`${fileName} and ${clash.fileName} share version ${version}`);
    }
    const sql = readFileSync(join(dir, fileName), "utf8");
    // Line endings are normalised so a checkout with CRLF does not look like an edit.
    const checksum = createHash("sha256").update(sql.replace(/\r\n/g, "\n")).digest("hex");
    files.push({ version, name: match[2] ?? "", fileName, sql, checksum });
  }
  return files;
}

/** Refuses to go on when history and files disagree: edited, deleted or out-of-order files. */
function checkHistory(files: MigrationFile[], applied: AppliedRow[]): void {
  const byVersion = new Map(files.map((file) => [file.version, file]));
  for (const row of applied) {
    const file = byVersion.get(row.version);
    if (!file) {
      throw new Error(
        `migration ${row.version}_${row.name} is recorded as applied but its file is missing`,
      );
    }
    if (file.checksum !== row.checksum) {
      throw new Error(
        `${file.fileName} changed after it was applied (checksum ${row.checksum.slice(0, 12)}… ` +
          `is now ${file.checksum.slice(0, 12)}…); add a new migration instead of editing it`,
      );
    }
  }
  const newest = applied.at(-1)?.version;
  const late = files.find(
    (file) =>
      newest !== undefined &&
      file.version < newest &&
      !applied.some((row) => row.version === file.version),
  );
  if (late) {
    throw new Error(
      `${late.fileName} is older than the applied migration ${newest}; give it a higher number`,
    );
  }
}

function describeFailure(file: MigrationFile, error: unknown): string {
  const pgError = error as { message?: string; code?: string; position?: string };
  const parts = [`Postgres migration ${file.fileName} failed: ${pgError.message ?? String(error)}`];
  if (pgError.code) {
    parts.push(`(SQLSTATE ${pgError.code})`);
  }
  const position = Number(pgError.position);
  if (Number.isInteger(position) && position > 0) {
    const line = file.sql.slice(0, position - 1).split("\n").length;
    parts.push(`at line ${line}`);
  }
  return parts.join(" ");
}

async function applyOne(client: Client, file: MigrationFile): Promise<void> {
  await client.query("begin");
  try {
    const xactId = "select pg_current_xact_id()::text as id";
    const before = (await client.query<{ id: string }>(xactId)).rows[0]?.id;
    // No parameters: the simple protocol runs every statement in the file.
    await client.query(file.sql);
    const after = (await client.query<{ id: string }>(xactId)).rows[0]?.id;
    if (before !== after) {
      throw new Error(
        "the file ended the migration's transaction (COMMIT or ROLLBACK inside it); " +
          "statements before that point may have been committed",
      );
    }
    await client.query(
      "insert into schema_migrations (version, name, checksum) values ($1, $2, $3)",
      [file.version, file.name, file.checksum],
    );
    await client.query("commit");
  } catch (error) {
    await client.query("rollback").catch(() => {});
    throw new Error(describeFailure(file, error), { cause: error });
  }
}

/** The message of anything thrown or emitted, including the driver's WebSocket ErrorEvents. */
function messageOf(error: unknown): string {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === "string" && message !== "" ? message : String(error);
}

/** host:port the driver opens its WebSocket to: the local proxy, or Neon's endpoint on 443. */
function webSocketAddress(options: MigrateOptions): { host: string; port: number } {
  if (options.wsProxy) {
    const at = options.wsProxy.lastIndexOf(":");
    return { host: options.wsProxy.slice(0, at), port: Number(options.wsProxy.slice(at + 1)) };
  }
  return { host: new URL(options.url).hostname, port: 443 };
}

/**
 * Why a WebSocket that never opened failed, in words: the driver only reports "network error or
 * non-101 status", so one TCP connection tells a closed port apart from a refused upgrade.
 */
function whyUnreachable(address: { host: string; port: number }): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(address);
    socket.setTimeout(5_000, () => {
      socket.destroy();
      resolve("no answer within 5 s");
    });
    socket.once("connect", () => {
      socket.destroy();
      resolve("the port is open but the WebSocket upgrade failed (is it the Neon proxy?)");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => {
      resolve(error.code === "ECONNREFUSED" ? "connection refused" : messageOf(error));
    });
  });
}

interface Session {
  client: Client;
  /** Unlocks and ends the session; never hangs, whatever state the connection is in. */
  close(): Promise<void>;
}

/**
 * Connects and takes the migration lock. Every failure rejects with a readable message: an
 * unreachable proxy or server is PostgresUnreachableError; Postgres refusing the session (a
 * wrong password, a missing database: the driver sends the password without waiting, so these
 * surface at the first query) is an Error naming the target and Postgres' words.
 */
async function openSession(options: MigrateOptions): Promise<Session> {
  const { host, port } = webSocketAddress(options);
  const target = new URL(options.url);
  const where = `${target.host}${target.pathname}${options.wsProxy ? ` through ${host}:${port}` : ""}`;
  const client = new Client({ connectionString: options.url });
  let ended = false;
  // pg's end() waits for an "end" that has already been emitted when the server hung up first
  // (as after a refused password), and would then leave nothing to run: the process would exit
  // 0 with the migration's promise unsettled. So closing checks this and never waits on it.
  const endedEvent = new Promise<void>((resolve) => {
    client.once("end", () => {
      ended = true;
      resolve();
    });
  });
  client.on("error", () => {
    // A dropped connection also fails the pending query, which is what reports it.
  });
  try {
    await client.connect();
  } catch (error) {
    const reason = error instanceof Error ? messageOf(error) : await whyUnreachable({ host, port });
    throw new PostgresUnreachableError(`cannot connect to ${host}:${port}: ${reason}`, {
      cause: error,
    });
  }
  const close = async () => {
    if (ended) {
      return;
    }
    // Ending the session releases the advisory lock as well; unlocking first is just prompt.
    await client.query(`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`).catch(() => {});
    if (!ended) {
      await Promise.race([client.end().catch(() => {}), endedEvent]);
    }
  };
  try {
    await client.query(`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`);
  } catch (error) {
    await close();
    const sqlState = (error as { code?: unknown }).code;
    const message = `cannot open a Postgres session at ${where}: ${messageOf(error)}`;
    throw typeof sqlState === "string"
      ? new Error(message, { cause: error })
      : new PostgresUnreachableError(message, { cause: error });
  }
  return { client, close };
}

/**
 * Applies every pending migration in `dir` to the database at `url`, in version order, each in
 * one transaction. Re-running is a no-op. Throws, having applied nothing further, when a
 * migration fails (that one is rolled back completely and the message names the file and the
 * Postgres error), when an applied file was edited or deleted, or when a new file is numbered
 * below one already applied, and when Postgres cannot be reached or refuses the session
 * (PostgresUnreachableError, or an Error with Postgres' message). Concurrent callers are
 * serialised by an advisory lock.
 */
export async function migratePostgres(options: MigrateOptions): Promise<MigrateResult> {
  const log = options.log ?? (() => {});
  const files = readMigrations(options.dir ?? DEFAULT_DIR);
  if (options.wsProxy) {
    configureDriver({ url: options.url, wsProxy: options.wsProxy });
  }
  const { client, close } = await openSession(options);
  try {
    await client.query(
      `create table if not exists schema_migrations (
        version text primary key,
        name text not null,
        checksum text not null,
        applied_at timestamptz not null default now()
      )`,
    );
    const history = await client.query<AppliedRow>(
      "select version, name, checksum from schema_migrations order by version",
    );
    checkHistory(files, history.rows);
    const done = new Set(history.rows.map((row) => row.version));
    const result: MigrateResult = { applied: [], skipped: [] };
    for (const file of files) {
      if (done.has(file.version)) {
        result.skipped.push(file.fileName);
        continue;
      }
      log(`applying ${file.fileName}`);
      await applyOne(client, file);
      result.applied.push(file.fileName);
    }
    log(`${result.applied.length} applied, ${result.skipped.length} already applied`);
    return result;
  } finally {
    await close();
  }
}
