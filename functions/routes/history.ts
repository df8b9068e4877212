import { createRoute, z } from "@hono/zod-openapi";
import { openClickHouse } from "../../lib/adapters/clickhouse.ts";
import { wrapClickHouseError } from "../../lib/analytics/errors.ts";
import {
  GRANULARITY_SECONDS,
  type Granularity,
  MAX_HISTORY_BUCKETS,
  MAX_HISTORY_ROWS,
  queryHistory,
} from "../../lib/analytics/history.ts";
import { AppError } from "../../lib/errors/index.ts";
import { KEY_PATTERN } from "../../lib/ingest/event.ts";
import { parseRfc3339 } from "../../lib/ingest/time.ts";
import { accountScope, authenticate } from "../middleware/auth.ts";
import { possibleIdsOnly } from "../middleware/path-ids.ts";
import { BEARER, createRouter, problemResponses } from "../openapi.ts";

/** Property names as ingestion accepts them; `group_by` must be one (it is only a map key). */
const PROPERTY_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,63}$/;
const MAX_METERS = 20;

const iso = (ms: number) => new Date(ms).toISOString();

const HistorySchema = z
  .object({
    account: z.string(),
    from: z.string(),
    to: z.string(),
    granularity: z.enum(["minute", "hour", "day"]),
    groupBy: z.string().nullable(),
    truncated: z.boolean().openapi({
      description: `True when more than ${MAX_HISTORY_ROWS} rows matched; narrow the query`,
    }),
    buckets: z.array(
      z.object({
        start: z.string().openapi({ description: "Bucket start, aligned to UTC" }),
        meter: z.string(),
        group: z.string().nullable(),
        events: z.number().int(),
        valueSum: z.string().nullable().openapi({ description: "Exact decimal text" }),
        valueMax: z.string().nullable(),
      }),
    ),
  })
  .openapi("UsageHistory");

const route = createRoute({
  method: "get",
  path: "/v1/accounts/{accountId}/usage/history",
  summary: "Usage over time, from the analytics store",
  description:
    "Accepted events per UTC-aligned minute, hour or day and meter in the half-open window " +
    "[from, to), optionally broken down by one event property, with the sum and maximum of the " +
    "events' values. Answered from ClickHouse: each event counts once however often the " +
    "pipeline delivered it, and lags ingestion by the pipeline's latency (seconds). At most " +
    `${MAX_HISTORY_BUCKETS} buckets per query.`,
  security: BEARER,
  request: {
    params: z.object({ accountId: z.string() }),
    query: z.object({
      from: z.string().openapi({ description: "RFC 3339 instant, inclusive" }),
      to: z.string().openapi({ description: "RFC 3339 instant, exclusive" }),
      granularity: z.enum(["minute", "hour", "day"]).default("hour"),
      meter: z.union([z.string(), z.array(z.string())]).optional(),
      group_by: z.string().optional().openapi({ description: "An event property name" }),
    }),
  },
  responses: {
    200: { description: "History", content: { "application/json": { schema: HistorySchema } } },
    ...problemResponses(400, 401, 404, 422, 503),
  },
});

function invalid(field: string, detail: string): AppError {
  return new AppError("INVALID_QUERY", `${field} is invalid`, {
    detail,
    fieldErrors: [{ field: `/${field}`, code: "invalid", detail }],
  });
}

function instant(field: string, value: string): number {
  const ms = parseRfc3339(value);
  if (ms === null) {
    throw invalid(field, `${field} must be an RFC 3339 instant, e.g. 2026-12-04T10:00:00Z`);
  }
  return ms;
}

/** `GET /v1/accounts/{accountId}/usage/history`: the admin key or the account's own key. */
export const historyRoutes = createRouter();

historyRoutes.use("/v1/accounts/:accountId/usage/history", authenticate(), possibleIdsOnly);
historyRoutes.openapi(route, async (c) => {
  const accountId = accountScope(c, c.req.valid("param").accountId);
  const params = c.req.valid("query");
  const fromMs = instant("from", params.from);
  const toMs = instant("to", params.to);
  if (toMs <= fromMs) {
    throw invalid("to", "to must be after from");
  }
  const granularity: Granularity = params.granularity;
  const buckets = Math.ceil((toMs - fromMs) / (GRANULARITY_SECONDS[granularity] * 1000));
  if (buckets > MAX_HISTORY_BUCKETS) {
    throw invalid(
      "to",
      `The window spans ${buckets} ${granularity} buckets; at most ${MAX_HISTORY_BUCKETS} per query.`,
    );
  }
  const meters =
    params.meter === undefined ? [] : Array.isArray(params.meter) ? params.meter : [params.meter];
  if (meters.length > MAX_METERS || meters.some((m) => !KEY_PATTERN.test(m))) {
    throw invalid("meter", `Up to ${MAX_METERS} meter keys matching ${KEY_PATTERN.source}.`);
  }
  const groupBy = params.group_by ?? null;
  if (groupBy !== null && !PROPERTY_NAME.test(groupBy)) {
    throw invalid("group_by", `group_by must be a property name matching ${PROPERTY_NAME.source}.`);
  }
  const ch = openClickHouse(c.get("config").clickhouse);
  const result = await queryHistory(ch, {
    accountId,
    fromMs,
    toMs,
    granularity,
    meters,
    groupBy,
  }).catch((error: unknown) => {
    throw wrapClickHouseError(error);
  });
  return c.json(
    {
      account: accountId,
      from: iso(fromMs),
      to: iso(toMs),
      granularity,
      groupBy,
      truncated: result.truncated,
      buckets: result.rows.map((row) => ({
        start: iso(row.startMs),
        meter: row.meter,
        group: row.group,
        events: row.events,
        valueSum: row.valueSum,
        valueMax: row.valueMax,
      })),
    },
    200,
  );
});
