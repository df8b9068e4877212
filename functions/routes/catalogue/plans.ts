import { z } from "@hono/zod-openapi";
import { runCreate } from "../../../lib/catalogue/idempotency.ts";
import { parsePageRequest } from "../../../lib/catalogue/pagination.ts";
import { parsePlanCreate, parsePlanVersion } from "../../../lib/catalogue/plan-input.ts";
import {
  appendPlanVersion,
  getPlan,
  insertPlan,
  listPlans,
  lockPlanForVersion,
} from "../../../lib/catalogue/plans.ts";
import { BEARER, createRouter, problemResponses } from "../../openapi.ts";
import {
  IdempotencyHeader,
  PageQuery,
  Plan,
  PlanCreate,
  PlanVersionCreate,
  pageOf,
} from "./schemas.ts";
import {
  closeLater,
  idempotentRequest,
  mountAdminRoute,
  openCatalogue,
  readJsonBody,
  sendCreated,
} from "./support.ts";

const IdParam = z.object({ id: z.string().openapi({ example: "plan_01jd…" }) });
const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });

/** Admin endpoints for versioned price plans. */
export const planRoutes = createRouter();

mountAdminRoute(
  planRoutes,
  {
    method: "post",
    path: "/v1/plans",
    summary: "Create a plan with its first version(s)",
    security: BEARER,
    request: { headers: IdempotencyHeader, body: { required: true, content: json(PlanCreate) } },
    responses: {
      201: { description: "Created", content: json(Plan) },
      ...problemResponses(400, 401, 403, 409, 415, 422, 503),
    },
  },
  async (c) => {
    const body = await readJsonBody(c);
    const request = idempotentRequest(c, body);
    const db = openCatalogue(c);
    try {
      const nowMs = c.get("clock").nowMs();
      const plan = await parsePlanCreate(db, body, nowMs);
      const outcome = await runCreate(db, request, nowMs, async (tx) => ({
        status: 201,
        body: await insertPlan(tx, plan, c.get("ids"), nowMs),
        affectedAccounts: [],
      }));
      return await sendCreated(c, db, outcome);
    } finally {
      closeLater(c, db);
    }
  },
);

mountAdminRoute(
  planRoutes,
  {
    method: "get",
    path: "/v1/plans",
    summary: "List plans (oldest first) with their versions",
    security: BEARER,
    request: { query: PageQuery },
    responses: {
      200: { description: "A page of plans", content: json(pageOf(Plan, "PlanPage")) },
      ...problemResponses(401, 403, 422, 503),
    },
  },
  async (c) => {
    const page = parsePageRequest(c.req.query());
    const db = openCatalogue(c);
    try {
      return c.json(await listPlans(db, page), 200);
    } finally {
      closeLater(c, db);
    }
  },
);

mountAdminRoute(
  planRoutes,
  {
    method: "get",
    path: "/v1/plans/{id}",
    summary: "Read a plan with its versions",
    security: BEARER,
    request: { params: IdParam },
    responses: {
      200: { description: "The plan", content: json(Plan) },
      ...problemResponses(401, 403, 404, 503),
    },
  },
  async (c) => {
    const db = openCatalogue(c);
    try {
      return c.json(await getPlan(db, c.req.param("id") ?? ""), 200);
    } finally {
      closeLater(c, db);
    }
  },
);

mountAdminRoute(
  planRoutes,
  {
    method: "post",
    path: "/v1/plans/{id}/versions",
    summary: "Schedule a new version of a plan",
    description:
      "The version applies from `effectiveFrom` (at least CATALOGUE_LEAD_SECONDS = 300 s ahead) " +
      "to every account on the plan; usage before it is rated under the previous version. " +
      "Every account meter on the plan is told at once.",
    security: BEARER,
    request: {
      params: IdParam,
      headers: IdempotencyHeader,
      body: { required: true, content: json(PlanVersionCreate) },
    },
    responses: {
      201: { description: "The plan with the new version", content: json(Plan) },
      ...problemResponses(400, 401, 403, 404, 409, 415, 422, 503),
    },
  },
  async (c) => {
    const planId = c.req.param("id") ?? "";
    const body = await readJsonBody(c);
    const request = idempotentRequest(c, body);
    const db = openCatalogue(c);
    try {
      const nowMs = c.get("clock").nowMs();
      const outcome = await runCreate(db, request, nowMs, async (tx) => {
        const context = await lockPlanForVersion(tx, planId);
        const version = await parsePlanVersion(tx, body, context, nowMs);
        const result = await appendPlanVersion(tx, planId, version, c.get("ids"), nowMs);
        return { status: 201, body: result.plan, affectedAccounts: result.affectedAccounts };
      });
      return await sendCreated(c, db, outcome);
    } finally {
      closeLater(c, db);
    }
  },
);
