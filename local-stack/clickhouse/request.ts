/**
 * Turns one HTTP request into one engine call, classifying URL parameters as the ClickHouse
 * HTTP server does: `query`, `param_*` (bound parameters), a few reserved names, and everything
 * else as a setting for this request only.
 */
import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";
import type { CallContext, EngineCall } from "./engine.ts";
import { ZERO_COPY_FORMATS } from "./engine.ts";
import { ClickHouseFailure } from "./errors.ts";
import { insertTargetOf, shapeOf } from "./sql.ts";

/** Parameters the server reads itself or ignores; they are never settings. */
const RESERVED = new Set([
  "query",
  "database",
  "default_format",
  "query_id",
  "user",
  "password",
  "quota_key",
  "role",
  "compress",
  "decompress",
  "stacktrace",
  "buffer_size",
  "wait_end_of_query",
  "session_id",
  "session_timeout",
  "session_check",
  "client_protocol_version",
  "close_session",
]);

export interface IncomingQuery {
  method: string;
  url: URL;
  header(name: string): string | undefined;
  body: Buffer;
}

export interface Plan {
  queryId: string;
  context: CallContext;
  call: EngineCall;
  /** The output format, for `X-ClickHouse-Format` and the content type. */
  format: string;
  /** `enable_http_compression` was set: compress the answer if the client accepts it. */
  compressResponse: boolean;
}

function decodedBody(body: Buffer, encoding: string | undefined): Buffer {
  const method = (encoding ?? "").trim().toLowerCase();
  if (method === "" || method === "identity" || body.length === 0) {
    return body;
  }
  const decoders: Record<string, (input: Buffer) => Buffer> = {
    gzip: gunzipSync,
    deflate: inflateSync,
    br: brotliDecompressSync,
  };
  const decode = decoders[method];
  if (!decode) {
    throw new ClickHouseFailure(
      "NOT_IMPLEMENTED",
      `Content-Encoding '${method}' is not supported by the local ClickHouse stand-in (gzip, deflate, br are)`,
    );
  }
  try {
    return decode(body);
  } catch (error) {
    throw new ClickHouseFailure(
      "CANNOT_DECOMPRESS",
      `Cannot decompress the request body as ${method}: ${String(error)}`,
    );
  }
}

/** Multipart bodies carry `query` and `param_*` as form fields; external tables are refused. */
async function formFields(body: Buffer, contentType: string): Promise<[string, string][]> {
  const form = await new Response(new Uint8Array(body), {
    headers: { "content-type": contentType },
  }).formData();
  const fields: [string, string][] = [];
  for (const [name, value] of form.entries()) {
    if (typeof value !== "string") {
      throw new ClickHouseFailure(
        "NOT_IMPLEMENTED",
        `External data ('${name}') is not supported by the local ClickHouse stand-in`,
      );
    }
    fields.push([name, value]);
  }
  return fields;
}

function isTrue(value: string | undefined): boolean {
  return value !== undefined && /^(1|true|yes|on)$/i.test(value.trim());
}

/**
 * Builds the engine call for a request. Throws ClickHouseFailure for what the real server
 * would refuse (multi-statements, an empty query) and for features the stand-in lacks
 * (sessions, native compression, external data), so a test never passes by accident.
 */
export async function planRequest(incoming: IncomingQuery): Promise<Plan> {
  const contentType = incoming.header("content-type") ?? "";
  const multipart = contentType.toLowerCase().startsWith("multipart/form-data");
  const body = decodedBody(incoming.body, incoming.header("content-encoding"));
  const entries: [string, string][] = [...incoming.url.searchParams.entries()];
  if (multipart) {
    entries.push(...(await formFields(body, contentType)));
  }

  let queryParam = "";
  let database = incoming.header("x-clickhouse-database");
  let defaultFormat = incoming.header("x-clickhouse-format");
  const settings = new Map<string, string>();
  const params = new Map<string, string>();
  for (const [name, value] of entries) {
    if (name === "query") {
      queryParam = multipart ? queryParam + value : value;
    } else if (name.startsWith("param_")) {
      // The first value wins, as in the real server.
      if (!params.has(name.slice("param_".length))) {
        params.set(name.slice("param_".length), value);
      }
    } else if (name === "database") {
      database ??= value;
    } else if (name === "default_format") {
      defaultFormat ??= value;
    } else if (name === "session_id" && value !== "") {
      throw new ClickHouseFailure(
        "NOT_IMPLEMENTED",
        "HTTP sessions (session_id) are not supported by the local ClickHouse stand-in",
      );
    } else if ((name === "compress" || name === "decompress") && isTrue(value)) {
      throw new ClickHouseFailure(
        "NOT_IMPLEMENTED",
        `ClickHouse native compression ('${name}') is not supported by the local stand-in`,
      );
    } else if (name !== "" && !RESERVED.has(name)) {
      settings.set(name, value);
    }
  }

  const context: CallContext = {
    database: database === "" ? undefined : database,
    settings: [...settings],
    params: [...params],
    readonly: incoming.method === "GET" || incoming.method === "HEAD",
  };
  const queryId =
    incoming.url.searchParams.get("query_id") ?? incoming.header("x-clickhouse-query-id");
  const compressResponse = isTrue(settings.get("enable_http_compression"));
  const base = { queryId: queryId || crypto.randomUUID(), context, compressResponse };

  const target = multipart ? undefined : insertTargetOf(queryParam);
  if (target && ZERO_COPY_FORMATS.has(target.format)) {
    return {
      ...base,
      format: defaultFormat || "TabSeparated",
      call: { kind: "insert", ...target, rows: body },
    };
  }

  const bodyText = multipart ? "" : body.toString("utf8");
  const sql = queryParam === "" ? bodyText : `${queryParam}\n${bodyText}`;
  const shape = shapeOf(sql);
  if (shape.empty) {
    throw new ClickHouseFailure("SYNTAX_ERROR", "Empty query");
  }
  if (shape.multiStatement) {
    throw new ClickHouseFailure(
      "SYNTAX_ERROR",
      "Syntax error (Multi-statements are not allowed): the HTTP interface runs one statement per request",
    );
  }
  const format = shape.outputFormat ?? (defaultFormat || "TabSeparated");
  return { ...base, format, call: { kind: "query", sql, defaultFormat: format } };
}
