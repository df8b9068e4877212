/**
 * The ClickHouse engine in-process (chdb), one call at a time.
 *
 * Isolation: every request gets a fresh chdb connection on the shared data folder, applies its
 * database, settings and bound parameters there with `USE`/`SET`, runs, and closes it. A
 * connection carries its own session state, so nothing one request sets can reach the next, and
 * opening one costs about half a millisecond. Calls are serialised because chdb's engine is a
 * process-wide singleton whose parameter handling is not safe under concurrent calls; a long
 * query delays the queue (bounded by `max_execution_time`) but cannot touch another's state.
 */
import { mkdirSync } from "node:fs";
import type { RawInsertFormat } from "chdb";
import { ClickHouseFailure } from "./errors.ts";
import { isPlainName, quoteIdentifier, stringLiteral } from "./sql.ts";

/** Text formats chdb accepts for its zero-copy insert; others run as inline SQL. */
export const ZERO_COPY_FORMATS = new Set([
  "JSONEachRow",
  "JSONCompactEachRow",
  "CSV",
  "CSVWithNames",
  "TSV",
  "TabSeparated",
  "TSVWithNames",
  "TabSeparatedWithNames",
]);

/** Per-request state, applied to the request's own connection before its statement runs. */
export interface CallContext {
  /** `USE` this database first; undefined keeps `default`. */
  database: string | undefined;
  /** Setting name and raw value, as the URL carried them. */
  settings: ReadonlyArray<readonly [string, string]>;
  /** Query parameter name (without `param_`) and its raw, still TSV-escaped value. */
  params: ReadonlyArray<readonly [string, string]>;
  /** HTTP GET: only read queries, as the real server enforces with `readonly = 2`. */
  readonly: boolean;
}

export type EngineCall =
  | { kind: "query"; sql: string; defaultFormat: string }
  | {
      kind: "insert";
      table: string;
      columns: string[] | undefined;
      format: string;
      rows: Uint8Array;
    };

export interface EngineResult {
  body: Uint8Array;
  readRows: number;
  readBytes: number;
  writtenRows: number;
  writtenBytes: number;
  /** Wall time of the call (connection, prelude, statement), in milliseconds. */
  elapsedMs: number;
  /** Time spent waiting for earlier calls, in milliseconds. */
  queuedMs: number;
}

export interface Engine {
  /** `SELECT version()` of the embedded ClickHouse, e.g. "26.7.2.1". */
  version: string;
  /** The engine's time zone, reported in `X-ClickHouse-Timezone`. */
  timezone: string;
  /** Runs one call on a fresh connection after every earlier call finished. */
  run(context: CallContext, call: EngineCall): Promise<EngineResult>;
  /** Waits for queued calls, then releases the engine. */
  close(): Promise<void>;
}

/**
 * The `SET`/`USE` statements that give a connection one request's state. Values become string
 * literals, so the engine sees exactly the bytes the URL carried: parameters keep their TSV
 * escaping for the engine to parse by the placeholder's type, as the HTTP server does.
 */
export function preludeOf(context: CallContext): string {
  const statements: string[] = [];
  if (context.readonly) {
    statements.push("SET readonly = 2");
  }
  if (context.database !== undefined) {
    statements.push(`USE ${quoteIdentifier(context.database)}`);
  }
  const assignments: string[] = [];
  for (const [name, value] of context.settings) {
    if (!isPlainName(name)) {
      throw new ClickHouseFailure("UNKNOWN_SETTING", `Unknown setting '${name}'`);
    }
    assignments.push(`${name} = ${stringLiteral(value)}`);
  }
  for (const [name, value] of context.params) {
    if (!isPlainName(name)) {
      throw new ClickHouseFailure("BAD_ARGUMENTS", `Invalid query parameter name '${name}'`);
    }
    assignments.push(`param_${name} = ${stringLiteral(value)}`);
  }
  if (assignments.length > 0) {
    statements.push(`SET ${assignments.join(", ")}`);
  }
  return statements.join("; ");
}

/**
 * Opens the engine on `<dataDir>` (created if absent). One extra connection stays open for the
 * engine's lifetime so the data folder stays bound between requests. Fails if chdb cannot load.
 */
export async function openEngine(dataDir: string): Promise<Engine> {
  mkdirSync(dataDir, { recursive: true });
  const chdb = await import("chdb");
  const anchor = new chdb.Session(dataDir);
  const about = await anchor.queryAsync("SELECT version(), timezone()", { format: "TSVRaw" });
  const [version = "", timezone = ""] = about.text().trim().split("\t");
  let tail: Promise<unknown> = Promise.resolve();
  let closed = false;

  type Outcome = Omit<EngineResult, "elapsedMs" | "queuedMs">;

  async function execute(context: CallContext, call: EngineCall): Promise<Outcome> {
    const connection = new chdb.Session(dataDir);
    try {
      const prelude = preludeOf(context);
      if (prelude !== "") {
        await connection.queryAsync(prelude, { format: "TSV" });
      }
      if (call.kind === "insert") {
        const summary = await connection.insert({
          table: call.table,
          ...(call.columns ? { columns: call.columns } : {}),
          format: call.format as RawInsertFormat,
          values: call.rows,
        });
        return {
          body: new Uint8Array(0),
          readRows: summary.rowsWritten,
          readBytes: summary.bytesWritten,
          writtenRows: summary.rowsWritten,
          writtenBytes: summary.bytesWritten,
        };
      }
      const result = await connection.queryAsync(call.sql, { format: call.defaultFormat });
      return {
        body: result.bytes(),
        readRows: result.rowsRead,
        readBytes: result.bytesRead,
        writtenRows: 0,
        writtenBytes: 0,
      };
    } finally {
      connection.close();
    }
  }

  return {
    version,
    timezone,
    run(context, call) {
      if (closed) {
        return Promise.reject(new Error("the engine is shutting down"));
      }
      const queuedAtMs = performance.now();
      const work = async () => {
        const startedMs = performance.now();
        const result = await execute(context, call);
        const finishedMs = performance.now();
        return { ...result, queuedMs: startedMs - queuedAtMs, elapsedMs: finishedMs - startedMs };
      };
      const running = tail.then(work, work);
      tail = running.catch(() => undefined);
      return running;
    },
    async close() {
      closed = true;
      await tail;
      anchor.close();
      await chdb.drainPending();
    },
  };
}
