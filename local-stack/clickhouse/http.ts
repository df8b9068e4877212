/**
 * ClickHouse's HTTP interface in front of the engine: health endpoints, authentication, one
 * engine call per request, and the response headers @clickhouse/client-web reads.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { hostname } from "node:os";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import type { Logger } from "../../lib/log/logger.ts";
import { authenticate, type Credentials, claimOf } from "./auth.ts";
import type { Engine, EngineResult } from "./engine.ts";
import { toWireError } from "./errors.ts";
import { type Plan, planRequest } from "./request.ts";

export interface HandlerOptions {
  engine: Engine;
  credentials: Credentials;
  log: Logger;
}

const DISPLAY_NAME = `meterline-local-clickhouse@${hostname()}`;
const BINARY_FORMATS =
  /^(Native|RowBinary.*|Parquet|Arrow|ArrowStream|ORC|Avro|Protobuf.*|CapnProto|MsgPack|BSONEachRow|Npy)$/;

/** The Content-Type ClickHouse sends for an output format. */
export function contentTypeOf(format: string): string {
  if (format.startsWith("JSON")) {
    return "application/json; charset=UTF-8";
  }
  if (format.startsWith("TabSeparated") || format.startsWith("TSV")) {
    return "text/tab-separated-values; charset=UTF-8";
  }
  if (format.startsWith("CSV")) {
    return `text/csv; charset=UTF-8; header=${format.includes("WithNames") ? "present" : "absent"}`;
  }
  if (format === "XML") {
    return "application/xml; charset=UTF-8";
  }
  return BINARY_FORMATS.test(format) ? "application/octet-stream" : "text/plain; charset=UTF-8";
}

function summaryOf(result: EngineResult, resultBytes: number): string {
  return JSON.stringify({
    read_rows: String(result.readRows),
    read_bytes: String(result.readBytes),
    written_rows: String(result.writtenRows),
    written_bytes: String(result.writtenBytes),
    total_rows_to_read: String(result.readRows),
    // chdb does not report how many rows the result holds; its size is known.
    result_rows: "0",
    result_bytes: String(resultBytes),
    elapsed_ns: String(Math.round(result.elapsedMs * 1e6)),
  });
}

/** Compresses with the first method the client accepts that we can produce. */
function compressed(body: Uint8Array, acceptEncoding: string): [Uint8Array, string | undefined] {
  const accepted = acceptEncoding.toLowerCase();
  if (/\bgzip\b/.test(accepted)) {
    return [gzipSync(body), "gzip"];
  }
  if (/\bdeflate\b/.test(accepted)) {
    return [deflateSync(body), "deflate"];
  }
  if (/\bbr\b/.test(accepted)) {
    return [brotliCompressSync(body), "br"];
  }
  return [body, undefined];
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function sendText(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, {
    "Content-Type": "text/plain; charset=UTF-8",
    "X-ClickHouse-Server-Display-Name": DISPLAY_NAME,
  });
  response.end(text);
}

/**
 * The request listener. Health paths answer `Ok.` without credentials, as ClickHouse does;
 * `/` with a query (in the URL or the body) is authenticated and executed.
 */
export function createHandler(options: HandlerOptions) {
  const { engine, credentials, log } = options;

  async function answerQuery(request: IncomingMessage, response: ServerResponse, url: URL) {
    const startedMs = performance.now();
    const method = request.method ?? "GET";
    const header = (name: string) => {
      const value = request.headers[name];
      return Array.isArray(value) ? value.join(", ") : value;
    };
    let plan: Plan | undefined;
    try {
      const body = await readBody(request);
      const bodyMs = performance.now() - startedMs;
      authenticate(claimOf(header, url.searchParams), credentials);
      plan = await planRequest({ method, url, header, body });
      const result = await engine.run(plan.context, plan.call);
      let payload = result.body;
      let encoding: string | undefined;
      if (plan.compressResponse && payload.length > 0) {
        [payload, encoding] = compressed(payload, header("accept-encoding") ?? "");
      }
      const headers: Record<string, string> = {
        "Content-Type": contentTypeOf(plan.format),
        "Content-Length": String(payload.length),
        "X-ClickHouse-Server-Display-Name": DISPLAY_NAME,
        "X-ClickHouse-Query-Id": plan.queryId,
        "X-ClickHouse-Timezone": engine.timezone,
        "X-ClickHouse-Summary": summaryOf(result, result.body.length),
      };
      if (plan.call.kind === "query") {
        headers["X-ClickHouse-Format"] = plan.format;
      }
      if (encoding) {
        headers["Content-Encoding"] = encoding;
      }
      response.writeHead(200, headers);
      response.end(method === "HEAD" ? undefined : payload);
      log.info("query", {
        queryId: plan.queryId,
        kind: plan.call.kind,
        status: 200,
        durationMs: Math.round(performance.now() - startedMs),
        bodyMs: Math.round(bodyMs),
        queuedMs: Math.round(result.queuedMs),
        engineMs: Math.round(result.elapsedMs),
        readRows: result.readRows,
        writtenRows: result.writtenRows,
      });
    } catch (error) {
      const wire = toWireError(error, engine.version);
      if (response.headersSent) {
        // Too late for a status line: cut the connection so the client sees a broken answer.
        response.destroy();
        log.error("failed after answering", { queryId: plan?.queryId, error: wire.text });
        return;
      }
      response.writeHead(wire.status, {
        "Content-Type": "text/plain; charset=UTF-8",
        "X-ClickHouse-Server-Display-Name": DISPLAY_NAME,
        "X-ClickHouse-Exception-Code": String(wire.code),
        ...(plan ? { "X-ClickHouse-Query-Id": plan.queryId } : {}),
      });
      response.end(`${wire.text}\n`);
      log.warn("query failed", {
        queryId: plan?.queryId,
        status: wire.status,
        code: wire.code,
        durationMs: Math.round(performance.now() - startedMs),
        error: wire.text.slice(0, 500),
      });
    }
  }

  return (request: IncomingMessage, response: ServerResponse): void => {
    const url = new URL(request.url ?? "/", "http://clickhouse.local");
    const method = request.method ?? "GET";
    const hasBody =
      request.headers["content-length"] !== undefined && request.headers["content-length"] !== "0";
    const chunked = request.headers["transfer-encoding"] !== undefined;
    if (url.pathname === "/ping" || url.pathname === "/replicas_status") {
      sendText(response, 200, "Ok.\n");
      return;
    }
    if (url.pathname !== "/") {
      sendText(
        response,
        404,
        `There is no handle ${url.pathname}\n\nUse / or /ping for health checks.\n`,
      );
      return;
    }
    const isRead = method === "GET" || method === "HEAD";
    if (isRead && !url.searchParams.has("query") && !hasBody && !chunked) {
      sendText(response, 200, "Ok.\n");
      return;
    }
    answerQuery(request, response, url).catch((error: unknown) => {
      log.error("request handler failed", { error });
      response.destroy();
    });
  };
}
