/**
 * The small HTTP toolkit the sandbox's routes share: an error carrying its status, JSON replies
 * in QStash's `{"error": "..."}` shape, body reading with a size cap, and bearer-token checks.
 */
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

/** One request as the routes see it, with reply helpers. */
export interface Exchange {
  method: string;
  /** The raw request target (path and query, undecoded). */
  target: string;
  path: string;
  query: URLSearchParams;
  /** Lower-case names, single values. */
  headers: Record<string, string>;
  body: Buffer;
  callerIp: string;
  json(status: number, value: unknown): void;
  empty(status?: number): void;
}

/** An expected refusal: becomes `status` with `{"error": message}`. */
export class HttpError extends Error {
  override name = "HttpError";
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** Throws the 404 for a missing `what` named `id`. */
export function notFound(what: string, id: string): never {
  throw new HttpError(404, `${what} ${id} not found`);
}

/** QStash accepts messages up to 1 MB on paid plans; anything far beyond is a client bug. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;

/** Reads the whole request body; 413 past 10 MB. */
export async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) {
      throw new HttpError(413, `request body is larger than ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/** Parses a JSON body, 400 when it is not JSON. */
export function parseJson(body: Buffer): unknown {
  if (body.length === 0) {
    return {};
  }
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new HttpError(400, "request body is not valid JSON");
  }
}

export function sendJson(response: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  response.end(text);
}

export function sendEmpty(response: ServerResponse, status = 200): void {
  response.writeHead(status, { "content-length": 0 });
  response.end();
}

/** Throws 401 unless the request carries `Authorization: Bearer <token>`. */
export function requireBearer(request: IncomingMessage, token: string): void {
  const header = request.headers.authorization ?? "";
  const expected = Buffer.from(`Bearer ${token}`);
  const given = Buffer.from(header);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new HttpError(401, "missing or invalid bearer token");
  }
}

/** Request headers as a single-valued, lower-case map (repeated values joined by ", "). */
export function headerMap(request: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) {
      out[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
    }
  }
  return out;
}
