import { neon } from "@neondatabase/serverless";
import {
  configureDriver,
  type PostgresSettings,
  type Queryable,
  type QueryResult,
  wrapDatabaseError,
} from "../adapters/postgres.ts";

/** One parameterised statement, for batches. */
export interface Statement {
  text: string;
  params: unknown[];
}

/**
 * Postgres over Neon's SQL-over-HTTP endpoint: no connection to set up, one HTTP request per
 * query, and several statements in one request as a non-interactive transaction. The fraud hot
 * paths use it for their reads and their one-shot writes (a decision's audit record and links),
 * which keeps a decision to one Postgres round trip; read-modify-write transactions (the ladder)
 * use the WebSocket pool instead. Locally the same driver reaches the stack's `/sql` stand-in.
 */
export interface HttpSql extends Queryable {
  /** Runs the statements in one request, in one transaction: all commit or none. */
  batch(statements: Statement[]): Promise<QueryResult<Record<string, unknown>>[]>;
}

/** Opens the HTTP client (stateless: nothing to close). Errors as in lib/adapters/postgres.ts. */
export function openHttpSql(settings: PostgresSettings): HttpSql {
  configureDriver(settings);
  const sql = neon(settings.url, { fullResults: true });
  return {
    async query<Row>(text: string, params: unknown[] = []): Promise<QueryResult<Row>> {
      try {
        const result = await sql.query(text, params);
        return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
      } catch (error) {
        throw wrapDatabaseError(error);
      }
    },
    async batch(statements) {
      try {
        const results = await sql.transaction(statements.map((s) => sql.query(s.text, s.params)));
        return results.map((r) => ({
          rows: r.rows as Record<string, unknown>[],
          rowCount: r.rowCount ?? 0,
        }));
      } catch (error) {
        throw wrapDatabaseError(error);
      }
    },
  };
}
