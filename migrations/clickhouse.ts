/**
 * ClickHouse schema migrations through @clickhouse/client-web, the SDK production uses against
 * ClickHouse Cloud. Files are `migrations/clickhouse/NNNN_name.sql`; statements end with `;` at
 * the end of a line. Applied files are recorded in `<database>.schema_migrations` with their
 * SHA-256; re-running skips them, and an edited applied file is an error.
 *
 * ClickHouse DDL is not transactional, so "a failed migration leaves the schema as it was" is
 * built here: every statement must be undoable, and the undo steps of what this run changed are
 * replayed in reverse when a later statement fails.
 * - `CREATE TABLE|VIEW|MATERIALIZED VIEW|DICTIONARY|DATABASE|FUNCTION IF NOT EXISTS x`: undone by
 *   dropping x, but only when x did not exist before this run (checked first).
 * - `ALTER TABLE t ADD COLUMN|INDEX IF NOT EXISTS c ...` (one action): undone by dropping c when
 *   c did not exist before the statement.
 * - Any statement on a table this migration created (e.g. seed `INSERT`s): undone by the drop.
 * - Anything else (DROP, RENAME, MODIFY, mutations...) cannot be undone, so it is allowed only as
 *   the last statement of its file: if it fails, everything before it is undone; if it
 *   succeeds, there is nothing after it to fail.
 * A file that breaks these rules is refused before any of its statements runs. Run migrations
 * from one place at a time (the deploy step): ClickHouse has no lock to serialise two runners.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ClickHouseClient, createClient } from "@clickhouse/client-web";
import {
  createdObject,
  dropOf,
  dropPartOf,
  type ObjectRef,
  planSteps,
  quote,
  splitStatements,
} from "./clickhouse/plan.ts";

export interface ClickHouseMigrationOptions {
  url: string;
  username: string;
  password: string;
  database: string;
  /** Folder of `NNNN_name.sql` files; defaults to `migrations/clickhouse`. */
  dir?: string;
  log?: (msg: string) => void;
}

export interface ClickHouseMigrationReport {
  /** Migrations applied by this run, in order (file names without `.sql`). */
  applied: string[];
  /** Migrations already recorded with a matching checksum. */
  skipped: string[];
}

const DEFAULT_DIR = fileURLToPath(new URL("./clickhouse/", import.meta.url));
const FILE_RE = /^(\d{4})_[A-Za-z0-9_-]+\.sql$/;

/** One file of `dir`: its name without `.sql`, number, SHA-256 (hex) and text. */
interface Migration {
  name: string;
  version: number;
  checksum: string;
  sql: string;
}

async function rows<T>(
  client: ClickHouseClient,
  query: string,
  params: Record<string, unknown> = {},
): Promise<T[]> {
  const result = await client.query({ query, query_params: params, format: "JSONEachRow" });
  return result.json<T>();
}

/** Whether `ref` exists now, from the system tables. */
async function objectExists(client: ClickHouseClient, ref: ObjectRef): Promise<boolean> {
  const byKind: Record<string, string> = {
    DATABASE: "SELECT 1 FROM system.databases WHERE name = {n:String}",
    FUNCTION: "SELECT 1 FROM system.functions WHERE name = {n:String}",
    DICTIONARY:
      "SELECT 1 FROM system.dictionaries WHERE database = {d:String} AND name = {n:String}",
  };
  const query =
    byKind[ref.kind] ??
    "SELECT 1 FROM system.tables WHERE database = {d:String} AND name = {n:String}";
  return (await rows(client, query, { d: ref.database, n: ref.name })).length > 0;
}

async function partExists(
  client: ClickHouseClient,
  table: ObjectRef,
  part: string,
  name: string,
): Promise<boolean> {
  const source = part === "COLUMN" ? "system.columns" : "system.data_skipping_indices";
  const query = `SELECT 1 FROM ${source} WHERE database = {d:String} AND table = {t:String} AND name = {n:String}`;
  return (await rows(client, query, { d: table.database, t: table.name, n: name })).length > 0;
}

/** Reads `NNNN_name.sql` files in order; refuses stray `.sql` names and duplicate numbers. */
function readMigrations(dir: string): Migration[] {
  const migrations: Migration[] = [];
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith(".sql")) {
      continue;
    }
    const match = FILE_RE.exec(file);
    if (!match) {
      throw new Error(`${file}: migration files are named NNNN_name.sql`);
    }
    const version = Number(match[1]);
    if (migrations.some((m) => m.version === version)) {
      throw new Error(`${file}: another migration already has number ${match[1]}`);
    }
    const sql = readFileSync(join(dir, file), "utf8");
    const checksum = createHash("sha256").update(sql, "utf8").digest("hex");
    migrations.push({ name: file.slice(0, -".sql".length), version, checksum, sql });
  }
  return migrations;
}

const LEDGER_DDL = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version UInt32,
  name String,
  checksum String,
  statements UInt32,
  applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(applied_at) ORDER BY version`;

/**
 * Applies one file and then `record`s it; if a statement or the record fails, replays the undo
 * steps of what the file changed, newest first, and throws with the ClickHouse error. If an
 * undo step itself fails the error says so loudly: the schema is then no longer as it was.
 */
async function applyOne(
  client: ClickHouseClient,
  database: string,
  migration: Migration,
  record: (statements: number) => Promise<void>,
): Promise<number> {
  const statements = splitStatements(migration.sql);
  const absentNow = new Set<string>();
  for (const statement of statements) {
    const ref = createdObject(statement, database);
    if (ref && !(await objectExists(client, ref))) {
      absentNow.add(JSON.stringify(ref));
    }
  }
  const steps = planSteps(migration.name, statements, database, (ref) =>
    absentNow.has(JSON.stringify(ref)),
  );
  const undo: string[] = [];
  let failedAt = "recording it";
  try {
    for (const [index, step] of steps.entries()) {
      failedAt = `statement ${index + 1}`;
      let undoStep: string | undefined;
      if (step.undo === "create" && absentNow.has(JSON.stringify(step.ref))) {
        undoStep = dropOf(step.ref);
      } else if (
        step.undo === "add" &&
        !(await partExists(client, step.table, step.part, step.name))
      ) {
        undoStep = dropPartOf(step.table, step.part, step.name);
      }
      await client.command({ query: step.statement.text });
      if (undoStep) {
        undo.push(undoStep);
      }
    }
    failedAt = "recording it";
    await record(steps.length);
    return steps.length;
  } catch (error) {
    const failures: string[] = [];
    for (const statement of undo.reverse()) {
      try {
        await client.command({ query: statement });
      } catch (undoError) {
        failures.push(`${statement}: ${String(undoError)}`);
      }
    }
    const reason = error instanceof Error ? error.message : String(error);
    const undone = failures.length === 0 ? `undid ${undo.length} change(s)` : "UNDO FAILED";
    const partly =
      failures.length > 0 ? `\nthe schema is partly changed: ${failures.join("\n")}` : "";
    throw new Error(`${migration.name} failed at ${failedAt} (${undone}): ${reason}${partly}`, {
      cause: error,
    });
  }
}

/**
 * Brings `options.database` up to date: creates it and its `schema_migrations` ledger if
 * absent, verifies the checksum of every recorded migration (an edited applied file throws
 * before anything runs), then applies the others in number order, recording each. Throws on
 * the first failure, after undoing that migration's changes (see the module comment).
 */
export async function migrateClickHouse(
  options: ClickHouseMigrationOptions,
): Promise<ClickHouseMigrationReport> {
  const log = options.log ?? (() => {});
  const auth = { url: options.url, username: options.username, password: options.password };
  const admin = createClient(auth);
  const client = createClient({ ...auth, database: options.database });
  try {
    await admin.command({ query: `CREATE DATABASE IF NOT EXISTS ${quote(options.database)}` });
    await client.command({ query: LEDGER_DDL });
    const recorded = new Map(
      (
        await rows<{ version: number; name: string; checksum: string }>(
          client,
          "SELECT version, name, checksum FROM schema_migrations FINAL ORDER BY version",
        )
      ).map((row) => [row.version, row]),
    );
    const migrations = readMigrations(options.dir ?? DEFAULT_DIR);
    for (const migration of migrations) {
      const record = recorded.get(migration.version);
      if (record && record.checksum !== migration.checksum) {
        throw new Error(
          `${migration.name} was changed after it was applied (checksum ${record.checksum.slice(0, 12)}… ` +
            `recorded, ${migration.checksum.slice(0, 12)}… on disk); add a new migration instead`,
        );
      }
    }
    const report: ClickHouseMigrationReport = { applied: [], skipped: [] };
    for (const migration of migrations) {
      if (recorded.has(migration.version)) {
        report.skipped.push(migration.name);
        continue;
      }
      const count = await applyOne(client, options.database, migration, async (statements) => {
        await client.insert({
          table: "schema_migrations",
          values: [
            {
              version: migration.version,
              name: migration.name,
              checksum: migration.checksum,
              statements,
            },
          ],
          format: "JSONEachRow",
        });
      });
      report.applied.push(migration.name);
      log(`clickhouse: applied ${migration.name} (${count} statements)`);
    }
    return report;
  } finally {
    await Promise.all([admin.close(), client.close()]);
  }
}
