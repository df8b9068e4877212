/**
 * Neon's SQL-over-HTTP endpoint (`POST /sql`) as `neon()` from `@neondatabase/serverless` uses
 * it. One query runs on its own (autocommit); `{queries:[...]}` runs as one transaction with the
 * requested isolation, read-only and deferrable modes. Values go back as text and the driver
 * parses them by `dataTypeID`. A Postgres error is HTTP 400 with its fields, which the driver
 * copies onto `NeonDbError`; a cluster that cannot be reached is HTTP 503.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import pg from "pg";
import type { Credentials, PoolRegistry } from "./pools.ts";
import { resolveTarget } from "./target.ts";

/** Neon caps request bodies too; 10 MiB is plenty for local work. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;

const ISOLATION_LEVELS: Record<string, string> = {
  ReadUncommitted: "read uncommitted",
  ReadCommitted: "read committed",
  RepeatableRead: "repeatable read",
  Serializable: "serializable",
};

/** The fields of a Postgres ErrorResponse that the driver copies onto NeonDbError. */
const ERROR_FIELDS = [
  "severity",
  "code",
  "detail",
  "hint",
  "position",
  "internalPosition",
  "internalQuery",
  "where",
  "schema",
  "table",
  "column",
  "dataType",
  "constraint",
  "file",
  "line",
  "routine",
] as const;

/** Keeps every value as the text Postgres sent; the client parses it. */
const TEXT_ONLY = { getTypeParser: () => (value: string) => value };

interface SqlQuery {
  query: string;
  params: unknown[];
}

/** A request the endpoint refuses before touching the database. */
class BadRequest extends Error {}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

function parseCredentials(connectionString: string | undefined, clusterPort: number): Credentials {
  if (!connectionString) {
    throw new BadRequest("missing Neon-Connection-String header");
  }
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    throw new BadRequest("Neon-Connection-String is not a valid URL");
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new BadRequest("Neon-Connection-String must be a postgres:// or postgresql:// URL");
  }
  const target = resolveTarget(url.host, clusterPort);
  if (!target.ok) {
    throw new BadRequest(target.reason);
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (!url.username || !database) {
    throw new BadRequest("Neon-Connection-String needs a user and a database");
  }
  return {
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database,
    applicationName: url.searchParams.get("application_name") ?? undefined,
  };
}

function parseQuery(value: unknown): SqlQuery {
  const candidate = value as { query?: unknown; params?: unknown };
  if (typeof candidate?.query !== "string") {
    throw new BadRequest("each query needs a string `query`");
  }
  if (candidate.params !== undefined && !Array.isArray(candidate.params)) {
    throw new BadRequest("`params` must be an array");
  }
  return { query: candidate.query, params: (candidate.params as unknown[]) ?? [] };
}

async function readBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      throw new BadRequest(`request body exceeds ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new BadRequest("request body is not JSON");
  }
}

/** `BEGIN` with the batch modes from the Neon-Batch-* headers. */
function beginStatement(request: IncomingMessage): string {
  const parts = ["begin"];
  const isolation = header(request, "Neon-Batch-Isolation-Level");
  if (isolation !== undefined) {
    const level = ISOLATION_LEVELS[isolation];
    if (!level) {
      throw new BadRequest(`unknown Neon-Batch-Isolation-Level ${JSON.stringify(isolation)}`);
    }
    parts.push(`isolation level ${level}`);
  }
  const readOnly = header(request, "Neon-Batch-Read-Only");
  if (readOnly !== undefined) {
    parts.push(readOnly === "true" ? "read only" : "read write");
  }
  const deferrable = header(request, "Neon-Batch-Deferrable");
  if (deferrable !== undefined) {
    parts.push(deferrable === "true" ? "deferrable" : "not deferrable");
  }
  return parts.join(" ");
}

async function runOne(client: pg.PoolClient, sql: SqlQuery, arrayMode: boolean) {
  // Extended protocol, as Neon uses: one statement per query, parameters bound server-side.
  const result = await client.query({
    text: sql.query,
    values: sql.params,
    rowMode: "array",
    types: TEXT_ONLY,
    queryMode: "extended",
  } as pg.QueryArrayConfig);
  const fields = result.fields.map((field) => ({ ...field }));
  const rows = arrayMode
    ? result.rows
    : result.rows.map((row) => Object.fromEntries(fields.map((field, i) => [field.name, row[i]])));
  return {
    command: result.command,
    rowCount: result.rowCount,
    rows,
    fields,
    rowAsArray: arrayMode,
  };
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  response.end(text);
}

function sendError(response: ServerResponse, error: unknown): void {
  if (error instanceof BadRequest) {
    send(response, 400, { message: error.message });
    return;
  }
  if (error instanceof pg.DatabaseError) {
    const body: Record<string, unknown> = { message: error.message };
    for (const field of ERROR_FIELDS) {
      body[field] = error[field];
    }
    send(response, 400, body);
    return;
  }
  const message = error instanceof Error ? error.message : String(error);
  send(response, 503, { message: `could not reach the local Postgres cluster: ${message}` });
}

/** Handles one `POST /sql` request against the cluster on 127.0.0.1:`clusterPort`. */
export async function handleSql(
  request: IncomingMessage,
  response: ServerResponse,
  pools: PoolRegistry,
  clusterPort: number,
): Promise<void> {
  let client: pg.PoolClient | undefined;
  let broken = false;
  try {
    if (header(request, "Neon-Raw-Text-Output") !== "true") {
      throw new BadRequest("the local stand-in supports only Neon-Raw-Text-Output: true");
    }
    const arrayMode = header(request, "Neon-Array-Mode") === "true";
    const credentials = parseCredentials(header(request, "Neon-Connection-String"), clusterPort);
    const body = (await readBody(request)) as { queries?: unknown };
    const batch = Array.isArray(body?.queries) ? body.queries.map(parseQuery) : undefined;
    const single = batch ? undefined : parseQuery(body);
    const begin = batch ? beginStatement(request) : undefined;

    client = await pools.poolFor(credentials).connect();
    if (single) {
      send(response, 200, await runOne(client, single, arrayMode));
      return;
    }
    await client.query(begin ?? "begin");
    try {
      const results = [];
      for (const query of batch ?? []) {
        results.push(await runOne(client, query, arrayMode));
      }
      await client.query("commit");
      send(response, 200, { results });
    } catch (error) {
      await client.query("rollback").catch(() => {
        broken = true;
      });
      throw error;
    }
  } catch (error) {
    broken ||=
      error instanceof pg.DatabaseError
        ? error.severity === "FATAL" || error.severity === "PANIC"
        : !(error instanceof BadRequest);
    sendError(response, error);
  } finally {
    // A connection that failed outside SQL (socket closed, server gone) is discarded.
    client?.release(broken);
  }
}
