import { createRoute, z } from "@hono/zod-openapi";
import { AppError } from "../../lib/errors/index.ts";
import { parseRfc3339 } from "../../lib/ingest/time.ts";
import type { UsageQuery } from "../../lib/metering/usage.ts";
import { meterFor } from "../meters.ts";
import { accountScope, authenticate, pendingKeyHash } from "../middleware/auth.ts";
import { possibleIdsOnly } from "../middleware/path-ids.ts";
import { BEARER, createRouter, problemResponses } from "../openapi.ts";

const iso = (ms: number) => new Date(ms).toISOString();

const UsageSchema = z
  .object({
    account: z.string(),
    currency: z.string(),
    timeZone: z.string(),
    period: z.object({ start: z.string(), end: z.string(), sealed: z.boolean() }),
    amount: z.string().openapi({ description: "Rated amount so far, full precision" }),
    spend: z.object({
      spent: z.string(),
      budget: z.string().nullable(),
      capped: z.boolean(),
      alertedPercents: z.array(z.number()),
      // Prepaid credit drawn down in real time by the account meter (lib/metering/credits.ts).
      credits: z.object({
        currency: z.string().nullable(),
        granted: z.string(),
        drawn: z.string(),
        balance: z.string(),
        grants: z.array(
          z.object({
            id: z.string(),
            remaining: z.string(),
            drawn: z.string(),
            expiresAtMs: z.number().nullable(),
          }),
        ),
      }),
    }),
    meters: z.array(
      z.object({
        key: z.string(),
        name: z.string(),
        unit: z.string(),
        aggregation: z.string(),
        quantity: z.string(),
        amount: z.string(),
        events: z.number().int(),
        segments: z.array(
          z.object({
            segment: z.string(),
            quantity: z.string(),
            amount: z.string(),
            events: z.number().int(),
          }),
        ),
        breakdown: z
          .array(z.object({ value: z.string(), quantity: z.string(), events: z.number().int() }))
          .optional(),
        buckets: z.array(
          z.object({ minute: z.string(), quantity: z.string(), events: z.number().int() }),
        ),
      }),
    ),
  })
  .openapi("Usage");

const route = createRoute({
  method: "get",
  path: "/v1/accounts/{accountId}/usage",
  summary: "Real-time usage of a billing period",
  description:
    "Answered by the account's meter, exact at the moment of the call: quantity and rated amount " +
    "per meter, an optional breakdown by one of the meters' groupBy properties, and minute buckets.",
  security: BEARER,
  request: {
    params: z.object({ accountId: z.string() }),
    query: z.object({
      at: z
        .string()
        .optional()
        .openapi({ description: "An RFC 3339 instant inside the wanted period; default now" }),
      meter: z.union([z.string(), z.array(z.string())]).optional(),
      breakdown: z.string().optional().openapi({ description: "A groupBy property" }),
      from: z
        .string()
        .optional()
        .openapi({ description: "Start of the minute-bucket window (RFC 3339)" }),
      to: z
        .string()
        .optional()
        .openapi({ description: "End of the minute-bucket window (RFC 3339)" }),
    }),
  },
  responses: {
    200: { description: "Usage", content: { "application/json": { schema: UsageSchema } } },
    ...problemResponses(400, 401, 404, 503),
  },
});

function instant(name: string, value: string | undefined): number | undefined {
  if (value === undefined) {
    return undefined;
  }
  const ms = parseRfc3339(value);
  if (ms === null) {
    throw new AppError("INVALID_QUERY", `${name} is not an RFC 3339 instant`, {
      detail: `Use a timestamp with a zone, e.g. 2026-12-04T10:00:00Z, for ${name}.`,
      fieldErrors: [{ field: `/${name}`, code: "invalid_instant", detail: "expected RFC 3339" }],
    });
  }
  return ms;
}

/** `GET /v1/accounts/{accountId}/usage`. */
export const usageRoutes = createRouter();

usageRoutes.use(
  "/v1/accounts/:accountId/usage",
  authenticate({ meterVerifies: true }),
  possibleIdsOnly,
);
usageRoutes.openapi(route, async (c) => {
  const accountId = accountScope(c, c.req.valid("param").accountId);
  const params = c.req.valid("query");
  const query: UsageQuery = {};
  const at = instant("at", params.at);
  const from = instant("from", params.from);
  const to = instant("to", params.to);
  if (at !== undefined) {
    query.atMs = at;
  }
  if (from !== undefined) {
    query.bucketsFromMs = from;
  }
  if (to !== undefined) {
    query.bucketsToMs = to;
  }
  if (params.meter !== undefined) {
    query.meters = Array.isArray(params.meter) ? params.meter : [params.meter];
  }
  if (params.breakdown !== undefined) {
    query.breakdownBy = params.breakdown;
  }
  const reply = await meterFor(c.env, accountId).usage(accountId, query, pendingKeyHash(c));
  switch (reply.status) {
    case "unauthenticated":
      throw new AppError("UNAUTHENTICATED", "Missing or invalid API key", {
        detail: "The API key is not valid or was revoked.",
      });
    case "unknown_account":
      throw new AppError("NOT_FOUND", "No such account", {
        detail: "The account does not exist or this key cannot see it.",
      });
    case "unavailable":
      throw new AppError("DEPENDENCY_UNAVAILABLE", "Usage is temporarily unavailable", {
        detail: reply.detail,
        retryAfterSeconds: 2,
      });
  }
  const { report, spend } = reply;
  return c.json(
    {
      account: report.accountId,
      currency: report.currency,
      timeZone: report.timeZone,
      period: {
        start: iso(report.period.startMs),
        end: iso(report.period.endMs),
        sealed: report.period.sealed,
      },
      amount: report.amount,
      spend,
      meters: report.meters.map((m) => ({
        key: m.key,
        name: m.name,
        unit: m.unit,
        aggregation: m.aggregation,
        quantity: m.quantity,
        amount: m.amount,
        events: m.events,
        segments: m.segments,
        ...(m.breakdown ? { breakdown: m.breakdown } : {}),
        buckets: m.buckets.map((b) => ({
          minute: iso(b.minuteMs),
          quantity: b.quantity,
          events: b.events,
        })),
      })),
    },
    200,
  );
});
