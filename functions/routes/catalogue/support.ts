import type { OpenAPIHono, RouteConfig } from "@hono/zod-openapi";
import type { Context } from "hono";
import { type Database, openDatabase } from "../../../lib/adapters/postgres.ts";
import { loadAccountConfigSnapshot } from "../../../lib/catalogue/account-config.ts";
import {
  type CreateOutcome,
  type IdempotentRequest,
  readIdempotencyKey,
} from "../../../lib/catalogue/idempotency.ts";
import { PUSH_CONCURRENCY, propagateChange } from "../../../lib/catalogue/propagation.ts";
import { AppError } from "../../../lib/errors/index.ts";
import type { AppEnv } from "../../context.ts";
import { meterFor } from "../../meters.ts";
import { authenticate } from "../../middleware/auth.ts";
import { possibleIdsOnly } from "../../middleware/path-ids.ts";

type CatalogueHandler = (c: Context<AppEnv>) => Promise<Response>;

/**
 * Mounts an admin-only catalogue route and registers its full description (zod schemas and all)
 * in the OpenAPI document. The request is not validated by zod at run time: lib/catalogue
 * validates every body, query and header in one pass, so a 422 lists every field error with a
 * stable code, including the ones only the database can find (unknown meters, plans).
 */
export function mountAdminRoute(
  router: OpenAPIHono<AppEnv>,
  route: RouteConfig,
  handler: CatalogueHandler,
): void {
  router.openAPIRegistry.registerPath(route);
  const path = route.path.replaceAll(/\/{(.+?)}/g, "/:$1");
  router.on(
    route.method.toUpperCase(),
    path,
    authenticate({ adminOnly: true }),
    possibleIdsOnly,
    handler,
  );
}

/** The JSON body, or MALFORMED_BODY / UNSUPPORTED_MEDIA_TYPE. */
export async function readJsonBody(c: Context<AppEnv>): Promise<unknown> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/(?:[\w.+-]+\+)?json(?:\s*;.*)?$/i.test(type)) {
    throw new AppError("UNSUPPORTED_MEDIA_TYPE", "Send JSON", {
      detail: "Send the body as JSON with `Content-Type: application/json`.",
    });
  }
  const text = await c.req.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new AppError("MALFORMED_BODY", "The body is not valid JSON", {
      detail: "The request body could not be parsed as JSON.",
    });
  }
}

/**
 * Opens Postgres for this request; close it with `closeLater`. Sized for the pushes that follow
 * a change, which share it (Workers allow six simultaneous connections per invocation).
 */
export function openCatalogue(c: Context<AppEnv>): Database {
  return openDatabase(c.get("config").database, { max: PUSH_CONCURRENCY });
}

/** Closes a request's database once the response is on its way. */
export function closeLater(c: Context<AppEnv>, db: Database): void {
  c.executionCtx.waitUntil(db.end());
}

/** The Idempotency-Key of a create, with what identifies the request; null without a key. */
export function idempotentRequest(c: Context<AppEnv>, body: unknown): IdempotentRequest | null {
  const key = readIdempotencyKey(c.req.header("idempotency-key"));
  return key === null ? null : { key, method: c.req.method, path: c.req.path, body };
}

/**
 * Tells the affected account meters about a committed change (pushes, or the WORK queue past
 * the inline limit), reading their configurations through `db`. Never throws: the meters'
 * revalidation is the backstop.
 */
export async function propagate(
  c: Context<AppEnv>,
  db: Database,
  accountIds: string[],
): Promise<void> {
  if (accountIds.length === 0) {
    return;
  }
  await propagateChange(
    {
      load: (accountId) => loadAccountConfigSnapshot(db, accountId),
      configure: (accountId, config) => meterFor(c.env, accountId).configure(config),
      enqueue: async (messages) => {
        await c.env.WORK.sendBatch(messages.map((body) => ({ body, contentType: "json" })));
      },
      log: c.get("log"),
    },
    accountIds,
  );
}

/** Sends a create's response (first time or replayed) and propagates a first-time change. */
export async function sendCreated(
  c: Context<AppEnv>,
  db: Database,
  outcome: CreateOutcome,
): Promise<Response> {
  if (!outcome.replayed) {
    await propagate(c, db, outcome.affectedAccounts);
  }
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (outcome.replayed) {
    headers["Idempotent-Replayed"] = "true";
  }
  return c.body(outcome.bodyText, outcome.status as 200 | 201, headers);
}
