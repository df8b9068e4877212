/**
 * The HTTP face of the local Upstash stand-in: Upstash's REST protocol in front of a real
 * redis-server. Routes: `POST /` (one JSON command), `POST /pipeline`, `POST /multi-exec`
 * (atomic, on a connection of its own) and the path form `GET|POST /<cmd>/<arg>/...`.
 */
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "../../lib/log/logger.ts";
import { CommandError, type PreparedCommand, parseCommand, prepareCommand } from "./commands.ts";
import type { ConnectionPool } from "./connection.ts";
import { entryJson, errorJson } from "./reply-json.ts";
import type { Reply } from "./resp.ts";
import type { ScriptShaMap } from "./scripts.ts";

export interface GatewayOptions {
  token: string;
  pool: ConnectionPool;
  scripts: ScriptShaMap;
  logger: Logger;
  /** Larger bodies get 413; Upstash's own limits are per plan, ours only guard memory. */
  maxBodyBytes?: number;
}

/** Upstash's wording for a missing or wrong token (see its "http unauthorized" guide). */
export const UNAUTHORIZED_MESSAGE = "WRONGPASS invalid or missing auth token";

const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;
const ALLOWED_METHODS = new Set(["GET", "HEAD", "POST", "PUT"]);

interface Answer {
  status: number;
  /** JSON text; built by hand so integers keep their exact digits. */
  body: string;
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // Stop buffering; the answer closes the connection instead of draining the rest.
        chunks.length = 0;
        reject(new HttpError(413, `ERR request body exceeds ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => resolve(Buffer.concat(chunks)));
    request.on("error", reject);
  });
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new HttpError(400, "ERR failed to parse the request body as JSON");
  }
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** `Authorization: Bearer <token>`, or `?_token=` as Upstash also accepts. */
function presentedToken(request: IncomingMessage, url: URL): string | undefined {
  const header = request.headers.authorization;
  if (header?.toLowerCase().startsWith("bearer ")) {
    return header.slice("bearer ".length).trim();
  }
  return url.searchParams.get("_token") ?? undefined;
}

/** `/set/foo/bar?EX=100` plus an optional raw body value → `set foo bar <body> EX 100`. */
function pathCommand(url: URL, body: Buffer): Buffer[] {
  const segments = url.pathname.split("/").slice(1);
  if (segments.at(-1) === "") {
    segments.pop();
  }
  const args: Buffer[] = segments.map((segment) => {
    try {
      return Buffer.from(decodeURIComponent(segment), "utf8");
    } catch {
      throw new HttpError(400, `ERR malformed percent-encoding in path segment ${segment}`);
    }
  });
  if (body.length > 0) {
    args.push(body);
  }
  for (const [key, value] of url.searchParams) {
    if (key === "_token") {
      continue;
    }
    args.push(Buffer.from(key, "utf8"));
    if (value !== "") {
      args.push(Buffer.from(value, "utf8"));
    }
  }
  return args;
}

/** Builds the gateway; call `listen` on the result. */
export function createGateway(options: GatewayOptions): Server {
  const { pool, scripts, logger } = options;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  // Upstash uses this header for read-your-writes across replicas. One local node is always
  // consistent, so any increasing value satisfies the client, which only echoes it back.
  let syncToken = 0;

  /** Blocking commands get a connection of their own so they cannot stall everyone else. */
  function sendAll(commands: PreparedCommand[]): Promise<Reply[]> {
    const argsList = commands.map((command) => command.args);
    if (!commands.some((command) => command.blocking)) {
      return pool.send(argsList);
    }
    return pool.withDedicated(async (connection) => ({
      value: await connection.send(argsList),
      reusable: true,
    }));
  }

  async function single(raw: Buffer[], base64: boolean): Promise<Answer> {
    const command = prepareCommand(raw, scripts);
    const [reply] = await sendAll([command]);
    const shown = command.adjust(reply as Reply);
    return { status: shown.kind === "error" ? 400 : 200, body: entryJson(shown, base64) };
  }

  async function pipeline(value: unknown, base64: boolean): Promise<Answer> {
    if (!Array.isArray(value) || value.length === 0) {
      throw new HttpError(400, "ERR a pipeline must be a non-empty JSON array of commands");
    }
    // A refused command answers its own entry; the others still run, in order.
    const prepared = value.map((item): PreparedCommand | CommandError => {
      try {
        return prepareCommand(parseCommand(item), scripts);
      } catch (error) {
        if (error instanceof CommandError) {
          return error;
        }
        throw error;
      }
    });
    const runnable = prepared.filter((c): c is PreparedCommand => !(c instanceof CommandError));
    const replies = runnable.length === 0 ? [] : await sendAll(runnable);
    let next = 0;
    const entries = prepared.map((command) => {
      if (command instanceof CommandError) {
        return errorJson(command.message);
      }
      return entryJson(command.adjust(replies[next++] as Reply), base64);
    });
    return { status: 200, body: `[${entries.join(",")}]` };
  }

  async function transaction(value: unknown, base64: boolean): Promise<Answer> {
    if (!Array.isArray(value) || value.length === 0) {
      throw new HttpError(400, "ERR a transaction must be a non-empty JSON array of commands");
    }
    const prepared = value.map((item) => prepareCommand(parseCommand(item), scripts));
    const wrapped = [[Buffer.from("MULTI")], ...prepared.map((c) => c.args), [Buffer.from("EXEC")]];
    return pool.withDedicated(async (connection) => {
      const replies = await connection.send(wrapped);
      const opened = replies[0] as Reply;
      const exec = replies.at(-1) as Reply;
      if (opened.kind !== "simple" || opened.value !== "OK") {
        // The connection is in an unknown state; the pool drops it.
        return {
          value: { status: 500, body: errorJson(`ERR MULTI failed: ${describe(opened)}`) },
          reusable: false,
        };
      }
      if (exec.kind === "error") {
        // EXECABORT: a command was rejected while queueing. Name it, as Redis' text does not.
        const cause = replies.slice(1, -1).find((r) => r.kind === "error");
        const detail = cause ? ` (${describe(cause)})` : "";
        return {
          value: { status: 400, body: errorJson(`${exec.message}${detail}`) },
          reusable: true,
        };
      }
      if (exec.kind !== "array" || exec.items === null) {
        return {
          value: { status: 400, body: errorJson("EXECABORT Transaction aborted") },
          reusable: true,
        };
      }
      const entries = exec.items.map((reply, i) =>
        entryJson((prepared[i] as PreparedCommand).adjust(reply), base64),
      );
      return { value: { status: 200, body: `[${entries.join(",")}]` }, reusable: true };
    });
  }

  async function answer(request: IncomingMessage): Promise<Answer> {
    const method = request.method ?? "GET";
    if (!ALLOWED_METHODS.has(method)) {
      throw new HttpError(405, `ERR method ${method} is not allowed`);
    }
    const url = new URL(request.url ?? "/", "http://gateway.local");
    const token = presentedToken(request, url);
    if (token === undefined || !sameSecret(token, options.token)) {
      throw new HttpError(401, UNAUTHORIZED_MESSAGE);
    }
    const body = await readBody(request, maxBodyBytes);
    const base64 = request.headers["upstash-encoding"]?.toString().toLowerCase() === "base64";
    switch (url.pathname) {
      case "/":
      case "":
        return single(parseCommand(parseJson(body)), base64);
      case "/pipeline":
        return pipeline(parseJson(body), base64);
      case "/multi-exec":
        return transaction(parseJson(body), base64);
      default:
        return single(pathCommand(url, body), base64);
    }
  }

  return createServer((request: IncomingMessage, response: ServerResponse) => {
    answer(request)
      .catch((error: unknown): Answer => {
        if (error instanceof HttpError) {
          return { status: error.status, body: errorJson(error.message) };
        }
        if (error instanceof CommandError) {
          return { status: 400, body: errorJson(error.message) };
        }
        // Anything else is redis-server being unreachable or a gateway bug.
        logger.error("request failed", { url: request.url, error });
        const message = error instanceof Error ? error.message : String(error);
        return { status: 500, body: errorJson(`ERR gateway: ${message}`) };
      })
      .then(({ status, body }) => {
        syncToken += 1;
        response.writeHead(status, {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          "upstash-sync-token": String(syncToken),
          ...(status === 413 ? { connection: "close" } : {}),
        });
        response.end(request.method === "HEAD" ? undefined : body);
      })
      .catch((error: unknown) => {
        // The client went away mid-answer; nothing to tell it, but keep serving the others.
        logger.warn("could not send an answer", { url: request.url, error });
      });
  });
}

function describe(reply: Reply): string {
  switch (reply.kind) {
    case "error":
      return reply.message;
    case "simple":
      return reply.value;
    default:
      return reply.kind;
  }
}
