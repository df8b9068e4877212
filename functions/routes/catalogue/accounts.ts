import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import {
  parseAccountCreate,
  parseAccountPatch,
  type UrlPolicy,
} from "../../../lib/catalogue/account-input.ts";
import {
  getAccount,
  insertAccount,
  listAccounts,
  lockAccount,
  updateAccount,
} from "../../../lib/catalogue/accounts.ts";
import { runCreate } from "../../../lib/catalogue/idempotency.ts";
import { parsePageRequest } from "../../../lib/catalogue/pagination.ts";
import { parsePlanSwitch, schedulePlanSwitch } from "../../../lib/catalogue/plan-switch.ts";
import type { AppEnv } from "../../context.ts";
import { BEARER, createRouter, problemResponses } from "../../openapi.ts";
import {
  Account,
  AccountCreate,
  AccountPatch,
  IdempotencyHeader,
  PageQuery,
  PlanSwitch,
  pageOf,
} from "./schemas.ts";
import {
  closeLater,
  idempotentRequest,
  mountAdminRoute,
  openCatalogue,
  propagate,
  readJsonBody,
  sendCreated,
} from "./support.ts";

const IdParam = z.object({ id: z.string().openapi({ example: "acme-prod" }) });
const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });

/** Notification URLs must be https in production; local stacks deliver to http://127.0.0.1. */
function urlPolicy(c: Context<AppEnv>): UrlPolicy {
  return { allowHttp: c.get("config").environment !== "production" };
}

/** Admin endpoints for accounts: who is billed, how, and on which plan. */
export const accountRoutes = createRouter();

mountAdminRoute(
  accountRoutes,
  {
    method: "post",
    path: "/v1/accounts",
    summary: "Create an account",
    security: BEARER,
    request: {
      headers: IdempotencyHeader,
      body: { required: true, content: json(AccountCreate) },
    },
    responses: {
      201: { description: "Created", content: json(Account) },
      ...problemResponses(400, 401, 403, 409, 415, 422, 503),
    },
  },
  async (c) => {
    const body = await readJsonBody(c);
    const draft = parseAccountCreate(body, urlPolicy(c));
    const request = idempotentRequest(c, body);
    const db = openCatalogue(c);
    try {
      const nowMs = c.get("clock").nowMs();
      const outcome = await runCreate(db, request, nowMs, async (tx) => ({
        status: 201,
        body: await insertAccount(tx, draft, c.get("ids"), nowMs),
        // No meter can have cached an account that did not exist: nothing to tell.
        affectedAccounts: [],
      }));
      return await sendCreated(c, db, outcome);
    } finally {
      closeLater(c, db);
    }
  },
);

mountAdminRoute(
  accountRoutes,
  {
    method: "get",
    path: "/v1/accounts",
    summary: "List accounts by id",
    security: BEARER,
    request: { query: PageQuery },
    responses: {
      200: { description: "A page of accounts", content: json(pageOf(Account, "AccountPage")) },
      ...problemResponses(401, 403, 422, 503),
    },
  },
  async (c) => {
    const page = parsePageRequest(c.req.query());
    const db = openCatalogue(c);
    try {
      return c.json(await listAccounts(db, page, c.get("clock").nowMs()), 200);
    } finally {
      closeLater(c, db);
    }
  },
);

mountAdminRoute(
  accountRoutes,
  {
    method: "get",
    path: "/v1/accounts/{id}",
    summary: "Read an account with its plan schedule",
    security: BEARER,
    request: { params: IdParam },
    responses: {
      200: { description: "The account", content: json(Account) },
      ...problemResponses(401, 403, 404, 503),
    },
  },
  async (c) => {
    const db = openCatalogue(c);
    try {
      return c.json(await getAccount(db, c.req.param("id") ?? "", c.get("clock").nowMs()), 200);
    } finally {
      closeLater(c, db);
    }
  },
);

mountAdminRoute(
  accountRoutes,
  {
    method: "patch",
    path: "/v1/accounts/{id}",
    summary: "Change an account's contact, collection or spend settings",
    security: BEARER,
    request: { params: IdParam, body: { required: true, content: json(AccountPatch) } },
    responses: {
      200: { description: "The changed account", content: json(Account) },
      ...problemResponses(400, 401, 403, 404, 409, 415, 422, 503),
    },
  },
  async (c) => {
    const id = c.req.param("id") ?? "";
    const body = await readJsonBody(c);
    const db = openCatalogue(c);
    try {
      const nowMs = c.get("clock").nowMs();
      const account = await db.transaction(async (tx) => {
        const current = await lockAccount(tx, id);
        return updateAccount(tx, id, parseAccountPatch(body, current, urlPolicy(c)), nowMs);
      });
      await propagate(c, db, [id]);
      return c.json(account, 200);
    } finally {
      closeLater(c, db);
    }
  },
);

mountAdminRoute(
  accountRoutes,
  {
    method: "post",
    path: "/v1/accounts/{id}/plan",
    summary: "Schedule a plan switch",
    description:
      "Usage before `effectiveFrom` is rated under the old plan, after it under the new one; " +
      "the base fee of the period is prorated by the second. At least 300 s ahead.",
    security: BEARER,
    request: {
      params: IdParam,
      headers: IdempotencyHeader,
      body: { required: true, content: json(PlanSwitch) },
    },
    responses: {
      201: { description: "The account with its new schedule", content: json(Account) },
      ...problemResponses(400, 401, 403, 404, 409, 415, 422, 503),
    },
  },
  async (c) => {
    const id = c.req.param("id") ?? "";
    const body = await readJsonBody(c);
    const draft = parsePlanSwitch(body);
    const request = idempotentRequest(c, body);
    const db = openCatalogue(c);
    try {
      const nowMs = c.get("clock").nowMs();
      const outcome = await runCreate(db, request, nowMs, async (tx) => {
        await schedulePlanSwitch(tx, await lockAccount(tx, id), draft, nowMs);
        return { status: 201, body: await getAccount(tx, id, nowMs), affectedAccounts: [id] };
      });
      return await sendCreated(c, db, outcome);
    } finally {
      closeLater(c, db);
    }
  },
);
