import { neonConfig, Pool, type PoolClient } from "@neondatabase/serverless";
import { AppError } from "../errors/index.ts";

/**
 * Postgres through Neon's serverless driver. Production connects to Neon over its WebSocket
 * endpoint; locally `wsProxy` points the same driver at a WebSocket-to-TCP proxy in front of a
 * plain PostgreSQL server. Nothing else differs.
 */
export interface PostgresSettings {
  url: string;
  /** host:port of a local WebSocket proxy; unset in production. */
  wsProxy?: string | undefined;
  /** URL of a local HTTP SQL endpoint for `neon()`; unset in production. */
  httpEndpoint?: string | undefined;
}

/** A row-returning query result. */
export interface QueryResult<Row> {
  rows: Row[];
  rowCount: number;
}

/** What lib/ code sees of a database session or transaction. */
export interface Queryable {
  query<Row = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<Row>>;
}

/** A database handle opened for one invocation; end it with `ctx.waitUntil(db.end())`. */
export interface Database extends Queryable {
  /** Runs `work` in one transaction on one connection; rolls back if it throws. */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  end(): Promise<void>;
}

/** Postgres SQLSTATE codes meterline branches on. */
export const PG_UNIQUE_VIOLATION = "23505";
export const PG_SERIALIZATION_FAILURE = "40001";
export const PG_DEADLOCK_DETECTED = "40P01";
/** Text the database encoding cannot hold: NUL (U+0000) above all, or an invalid byte sequence. */
export const PG_CHARACTER_NOT_IN_REPERTOIRE = "22021";
export const PG_UNTRANSLATABLE_CHARACTER = "22P05";

let configuredFor: string | undefined;

/**
 * Points the driver at the local proxy when one is configured. neonConfig is module-global, so
 * this runs once per isolate; every invocation in one isolate shares the same settings.
 */
export function configureDriver(settings: PostgresSettings): void {
  const key = `${settings.wsProxy ?? ""}|${settings.httpEndpoint ?? ""}`;
  if (configuredFor === key) {
    return;
  }
  configuredFor = key;
  if (settings.wsProxy) {
    const proxy = settings.wsProxy;
    neonConfig.wsProxy = (host, port) => `${proxy}/v1?address=${host}:${port}`;
    neonConfig.useSecureWebSocket = false;
    neonConfig.pipelineTLS = false;
    neonConfig.pipelineConnect = "password";
  }
  if (settings.httpEndpoint) {
    const endpoint = settings.httpEndpoint;
    neonConfig.fetchEndpoint = () => endpoint;
  }
}

function isConnectionFailure(error: unknown): boolean {
  const text = String((error as { message?: unknown })?.message ?? error);
  return /ECONNREFUSED|WebSocket|socket|Connection terminated|connect|timeout|closed/i.test(text);
}

/**
 * SQLSTATEs that mean "the server is not available right now" rather than "this statement is
 * wrong": connection exceptions (class 08), shutdowns and restarts (57P01-57P03, which Neon
 * sends when a compute is suspended or restarted) and a full connection table (53300).
 */
function isUnavailableState(sqlState: string): boolean {
  return sqlState.startsWith("08") || /^57P0[123]$/.test(sqlState) || sqlState === "53300";
}

/**
 * Wraps infrastructure failures (not SQL errors) as retryable DEPENDENCY_UNAVAILABLE, and text
 * Postgres cannot store (NUL, untranslatable characters) as VALIDATION_FAILED (422): input the
 * validators let through is the caller's to fix, not an internal error. Other SQL errors pass.
 */
export function wrapDatabaseError(error: unknown): unknown {
  const sqlState = (error as { code?: unknown })?.code;
  const isSqlState = typeof sqlState === "string" && /^[0-9A-Z]{5}$/.test(sqlState);
  if (sqlState === PG_CHARACTER_NOT_IN_REPERTOIRE || sqlState === PG_UNTRANSLATABLE_CHARACTER) {
    return new AppError("VALIDATION_FAILED", "The request holds text that cannot be stored", {
      detail:
        "A text value holds a character that cannot be stored, such as NUL (U+0000). " +
        "Remove control characters from names, descriptions and ids.",
      cause: error,
    });
  }
  if (isSqlState && !isUnavailableState(sqlState)) {
    return error;
  }
  if (isSqlState || isConnectionFailure(error)) {
    return new AppError("DEPENDENCY_UNAVAILABLE", "Postgres is unreachable", {
      detail: "The ledger database did not answer. Retry shortly.",
      cause: error,
      retryable: true,
      retryAfterSeconds: 5,
    });
  }
  return error;
}

/** Opens a pool for one invocation. `max` stays within Workers' simultaneous-connection limit. */
export function openDatabase(settings: PostgresSettings, options: { max?: number } = {}): Database {
  configureDriver(settings);
  const pool = new Pool({ connectionString: settings.url, max: options.max ?? 4 });
  pool.on("error", () => {
    // An idle client died (server restart, proxy gone). The next query reconnects or fails.
  });

  async function run<Row>(
    target: Pool | PoolClient,
    sql: string,
    params?: unknown[],
  ): Promise<QueryResult<Row>> {
    try {
      const result = await target.query(sql, params as unknown[]);
      return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
    } catch (error) {
      throw wrapDatabaseError(error);
    }
  }

  return {
    query: (sql, params) => run(pool, sql, params),
    async transaction(work) {
      let client: PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        throw wrapDatabaseError(error);
      }
      // A checked-out client's connection error is its own event, not the pool's: without a
      // listener it would be an uncaught exception. The failing query reports it anyway.
      const onError = () => {};
      client.on("error", onError);
      const tx: Queryable = { query: (sql, params) => run(client, sql, params) };
      try {
        await run(client, "BEGIN");
        const result = await work(tx);
        await run(client, "COMMIT");
        client.off("error", onError);
        client.release();
        return result;
      } catch (error) {
        let broken = false;
        try {
          await client.query("ROLLBACK");
        } catch {
          // The connection is already broken; releasing it with an error discards it.
          broken = true;
        }
        // A healthy connection after a rolled-back SQL error goes back to the pool; a broken
        // one is discarded with the listener on, for errors its dying socket may still raise.
        if (!broken) {
          client.off("error", onError);
        }
        client.release(broken);
        throw error;
      }
    },
    async end() {
      try {
        await pool.end();
      } catch {
        // Ending a pool whose sockets already died is not worth failing a request over.
      }
    },
  };
}
