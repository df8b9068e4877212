import { env, exports } from "cloudflare:workers";

/** The base URL worker tests call; any host works, the Worker is invoked directly. */
export const BASE = "http://meterline.test";

export interface CallOptions {
  method?: string;
  key?: string | null;
  body?: unknown;
  rawBody?: BodyInit;
  headers?: Record<string, string>;
}

/** Calls the Worker's fetch handler like a client would; `key` defaults to the admin key. */
export async function call(path: string, options: CallOptions = {}): Promise<Response> {
  const headers = new Headers(options.headers);
  const key = options.key === undefined ? env.ADMIN_API_KEY : options.key;
  if (key !== null) {
    headers.set("authorization", `Bearer ${key}`);
  }
  let body: BodyInit | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    if (!headers.has("content-type")) {
      headers.set("content-type", "application/json");
    }
  }
  return exports.default.fetch(
    new Request(`${BASE}${path}`, {
      method: options.method ?? (body ? "POST" : "GET"),
      headers,
      body,
    }),
  );
}

/** Calls and parses JSON, failing loudly with the body when the status is unexpected. */
export async function callJson<T = Record<string, unknown>>(
  path: string,
  expectedStatus: number,
  options: CallOptions = {},
): Promise<T> {
  const response = await call(path, options);
  const text = await response.text();
  if (response.status !== expectedStatus) {
    throw new Error(
      `${options.method ?? "request"} ${path}: expected ${expectedStatus}, got ${response.status}: ${text}`,
    );
  }
  return JSON.parse(text) as T;
}

/** A short unique suffix so tests never share catalogue rows or account meters. */
export function unique(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}
