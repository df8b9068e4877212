import type { Context } from "hono";
import { getCookie } from "hono/cookie";
import { openClickHouse } from "../../lib/adapters/clickhouse.ts";
import { openDatabase } from "../../lib/adapters/postgres.ts";
import { accountOfKey, timingSafeEqualText } from "../../lib/auth/api-keys.ts";
import type { GraphQLDeps } from "../../lib/graphql/context.ts";
import { errorBody, type GraphQLErrorCode } from "../../lib/graphql/errors.ts";
import { GRAPHQL_PATH, graphQLServer } from "../../lib/graphql/server.ts";
import type { AppEnv } from "../context.ts";
import { sessionCookieName, verifySession } from "../dashboard/session.ts";
import { meterFor } from "../meters.ts";
import { createRouter } from "../openapi.ts";

/** Largest GraphQL request body accepted; real queries are a few kilobytes. */
const MAX_BODY_BYTES = 64 * 1024;

const STATUS: Partial<Record<GraphQLErrorCode, number>> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  METHOD_NOT_ALLOWED: 405,
  UNSUPPORTED_MEDIA_TYPE: 415,
  BAD_USER_INPUT: 400,
};

function refuse(
  c: Context<AppEnv>,
  code: GraphQLErrorCode,
  message: string,
  detail: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(errorBody(code, message, detail), {
    status: STATUS[code] ?? 400,
    headers: {
      "Content-Type": "application/json; charset=utf-8",
      "Request-Id": c.get("requestId"),
      ...headers,
    },
  });
}

/** Whether the request came over https (decides the cookie's name and Secure flag). */
export function isSecure(c: Context<AppEnv>): boolean {
  return new URL(c.req.url).protocol === "https:";
}

/**
 * True when the browser says the request comes from another site or origin. Sessions only
 * ever act for pages of this origin: SameSite=Strict already keeps the cookie off cross-site
 * requests; this also refuses same-site, cross-origin ones (another subdomain). Browsers send
 * Sec-Fetch-Site; without it, an Origin other than ours (including "null") is foreign, and no
 * Origin at all is a client that is not a browser page.
 */
export function isCrossOrigin(c: Context<AppEnv>): boolean {
  const site = c.req.header("sec-fetch-site");
  if (site !== undefined) {
    return site !== "same-origin" && site !== "none";
  }
  const origin = c.req.header("origin");
  return origin !== undefined && origin !== new URL(c.req.url).origin;
}

/** True when the request carries a valid, unexpired dashboard session for this admin key. */
export async function hasSession(c: Context<AppEnv>): Promise<boolean> {
  const token = getCookie(c, sessionCookieName(isSecure(c)));
  return (
    token !== undefined &&
    (await verifySession(c.get("config").adminApiKey, token, c.get("clock").nowMs()))
  );
}

/** Admin only: the admin key as a bearer token (machines) or a dashboard session (people). */
async function refusal(c: Context<AppEnv>): Promise<Response | null> {
  const header = c.req.header("authorization");
  if (header !== undefined) {
    const key = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] ?? "";
    if (timingSafeEqualText(key, c.get("config").adminApiKey)) {
      return null;
    }
    if (accountOfKey(key) !== null) {
      return refuse(
        c,
        "FORBIDDEN",
        "The GraphQL API needs the admin key",
        "Account keys may only send events and read their own account's usage.",
      );
    }
    return refuse(
      c,
      "UNAUTHENTICATED",
      "Missing or invalid credentials",
      "Send the admin key as `Authorization: Bearer <key>`, or sign in to the dashboard.",
    );
  }
  if (await hasSession(c)) {
    if (isCrossOrigin(c)) {
      return refuse(
        c,
        "FORBIDDEN",
        "Cross-origin request refused",
        "Dashboard sessions only act for pages of this origin.",
      );
    }
    return null;
  }
  return refuse(
    c,
    "UNAUTHENTICATED",
    "Missing or invalid credentials",
    "Send the admin key as `Authorization: Bearer <key>`, or sign in to the dashboard.",
  );
}

/**
 * The resolvers' dependencies for one request: a small Postgres pool (closed after the answer
 * via waitUntil), a ClickHouse client, the account meters and the queue's metrics.
 */
export function graphQLDeps(c: Context<AppEnv>): { deps: GraphQLDeps; close(): void } {
  const config = c.get("config");
  const db = openDatabase(config.database, { max: 4 });
  const deps: GraphQLDeps = {
    db,
    clickhouse: openClickHouse(config.clickhouse),
    clock: c.get("clock"),
    log: c.get("log"),
    requestId: c.get("requestId"),
    meterFor: (accountId) => meterFor(c.env, accountId),
    queueBacklog: async () => {
      const metrics = await c.env.RATED_USAGE.metrics();
      return {
        backlogCount: metrics.backlogCount,
        backlogBytes: metrics.backlogBytes,
        oldestMessageMs: metrics.oldestMessageTimestamp
          ? new Date(metrics.oldestMessageTimestamp).getTime()
          : null,
      };
    },
  };
  return { deps, close: () => c.executionCtx.waitUntil(db.end()) };
}

/**
 * Runs one GraphQL operation in-process for a server-rendered page, through the same server,
 * schema, limits and error codes as `POST /graphql`. The caller has already checked the
 * session. Returns the parsed GraphQL response.
 */
export async function runGraphQL<Data>(
  c: Context<AppEnv>,
  query: string,
  variables: Record<string, unknown>,
): Promise<{ data?: Data; errors?: { message: string; extensions?: { code?: string } }[] }> {
  const { deps, close } = graphQLDeps(c);
  try {
    const request = new Request(new URL(GRAPHQL_PATH, c.req.url), {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ query, variables }),
    });
    const response = await graphQLServer().fetch(request, { deps });
    return (await response.json()) as { data?: Data; errors?: { message: string }[] };
  } finally {
    close();
  }
}

/** `POST /graphql`: the read-only GraphQL API (see lib/graphql and docs/dashboard.md). */
export const graphqlRoutes = createRouter();

graphqlRoutes.all(GRAPHQL_PATH, async (c) => {
  if (c.req.method !== "POST") {
    return refuse(
      c,
      "METHOD_NOT_ALLOWED",
      "Use POST",
      "The GraphQL API answers POST with a JSON body only.",
      { Allow: "POST" },
    );
  }
  const denied = await refusal(c);
  if (denied) {
    return denied;
  }
  // JSON only: a form or text/plain POST (which a browser may send cross-site without a
  // preflight) is never executed.
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    return refuse(
      c,
      "UNSUPPORTED_MEDIA_TYPE",
      "Send application/json",
      'POST the operation as JSON: {"query": "...", "variables": {...}}.',
    );
  }
  const body = await c.req.text();
  if (new TextEncoder().encode(body).length > MAX_BODY_BYTES) {
    return refuse(
      c,
      "BAD_USER_INPUT",
      "The request is too large",
      `GraphQL requests may be at most ${MAX_BODY_BYTES} bytes.`,
    );
  }
  const { deps, close } = graphQLDeps(c);
  try {
    const request = new Request(c.req.url, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: c.req.header("accept") ?? "application/json",
      },
      body,
    });
    const response = await graphQLServer().fetch(request, { deps });
    const headers = new Headers(response.headers);
    headers.set("Request-Id", c.get("requestId"));
    headers.set("Cache-Control", "no-store");
    return new Response(response.body, { status: response.status, headers });
  } finally {
    close();
  }
});
