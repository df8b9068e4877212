import { z } from "@hono/zod-openapi";
import { runCreate } from "../../../lib/catalogue/idempotency.ts";
import { parseMeterCreate, parseMeterPatch } from "../../../lib/catalogue/meter-input.ts";
import { getMeter, insertMeter, listMeters, updateMeter } from "../../../lib/catalogue/meters.ts";
import { parsePageRequest } from "../../../lib/catalogue/pagination.ts";
import { BEARER, createRouter, problemResponses } from "../../openapi.ts";
import { IdempotencyHeader, Meter, MeterCreate, MeterPatch, PageQuery, pageOf } from "./schemas.ts";
import {
  closeLater,
  idempotentRequest,
  mountAdminRoute,
  openCatalogue,
  propagate,
  readJsonBody,
  sendCreated,
} from "./support.ts";

const KeyParam = z.object({ key: z.string() });
const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });

/** Admin endpoints for meters: what is counted and how. Meters are shared by every account. */
export const meterRoutes = createRouter();

mountAdminRoute(
  meterRoutes,
  {
    method: "post",
    path: "/v1/meters",
    summary: "Create a meter",
    security: BEARER,
    request: { headers: IdempotencyHeader, body: { required: true, content: json(MeterCreate) } },
    responses: {
      201: { description: "Created", content: json(Meter) },
      ...problemResponses(400, 401, 403, 409, 415, 422, 503),
    },
  },
  async (c) => {
    const body = await readJsonBody(c);
    const meter = parseMeterCreate(body);
    const request = idempotentRequest(c, body);
    const db = openCatalogue(c);
    try {
      const nowMs = c.get("clock").nowMs();
      const outcome = await runCreate(db, request, nowMs, async (tx) => ({
        status: 201,
        body: await insertMeter(tx, meter, nowMs),
        // A new meter prices nothing yet; meters meeting its key reload on their own.
        affectedAccounts: [],
      }));
      return await sendCreated(c, db, outcome);
    } finally {
      closeLater(c, db);
    }
  },
);

mountAdminRoute(
  meterRoutes,
  {
    method: "get",
    path: "/v1/meters",
    summary: "List meters by key",
    security: BEARER,
    request: { query: PageQuery },
    responses: {
      200: { description: "A page of meters", content: json(pageOf(Meter, "MeterPage")) },
      ...problemResponses(401, 403, 422, 503),
    },
  },
  async (c) => {
    const page = parsePageRequest(c.req.query());
    const db = openCatalogue(c);
    try {
      return c.json(await listMeters(db, page), 200);
    } finally {
      closeLater(c, db);
    }
  },
);

mountAdminRoute(
  meterRoutes,
  {
    method: "get",
    path: "/v1/meters/{key}",
    summary: "Read a meter",
    security: BEARER,
    request: { params: KeyParam },
    responses: {
      200: { description: "The meter", content: json(Meter) },
      ...problemResponses(401, 403, 404, 503),
    },
  },
  async (c) => {
    const db = openCatalogue(c);
    try {
      return c.json(await getMeter(db, c.req.param("key") ?? ""), 200);
    } finally {
      closeLater(c, db);
    }
  },
);

mountAdminRoute(
  meterRoutes,
  {
    method: "patch",
    path: "/v1/meters/{key}",
    summary: "Change a meter's name, description, unit or breakdowns",
    description:
      "How events are counted (aggregation, valueProperty, seriesProperty, " +
      "heartbeatTimeoutSeconds, allowNegative) is fixed: changing it is a 409 IMMUTABLE_FIELD.",
    security: BEARER,
    request: { params: KeyParam, body: { required: true, content: json(MeterPatch) } },
    responses: {
      200: { description: "The changed meter", content: json(Meter) },
      ...problemResponses(400, 401, 403, 404, 409, 415, 422, 503),
    },
  },
  async (c) => {
    const key = c.req.param("key") ?? "";
    const body = await readJsonBody(c);
    const db = openCatalogue(c);
    try {
      const nowMs = c.get("clock").nowMs();
      const result = await db.transaction(async (tx) => {
        const current = await getMeter(tx, key, { forUpdate: true });
        return updateMeter(tx, key, parseMeterPatch(body, current), nowMs);
      });
      await propagate(c, db, result.affectedAccounts);
      return c.json(result.meter, 200);
    } finally {
      closeLater(c, db);
    }
  },
);
