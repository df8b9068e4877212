import { createRoute, z } from "@hono/zod-openapi";
import { AppError } from "../../lib/errors/index.ts";
import { loadRiskConfig, updateRiskConfig } from "../../lib/fraud/config-store.ts";
import {
  disposableDomainsStatus,
  replaceDisposableDomains,
} from "../../lib/fraud/disposable-domains.ts";
import { rebuildRiskCache } from "../../lib/fraud/level-cache.ts";
import { notifyMessage } from "../../lib/fraud/messages.ts";
import { RiskSignalSchema, recordRiskSignal, signalFromWire } from "../../lib/fraud/signals.ts";
import { authenticate } from "../middleware/auth.ts";
import { BEARER, createRouter, problemResponses } from "../openapi.ts";
import { LevelSchema, withRiskDeps } from "./risk-support.ts";

/**
 * Admin endpoints of the fraud capability: the scoring configuration, manual signals (the same
 * API the Stripe webhook uses through lib/), the disposable-domain list and the Redis mirrors.
 */
export const riskAdminRoutes = createRouter();
riskAdminRoutes.use("/v1/risk/config", authenticate({ adminOnly: true }));
riskAdminRoutes.use("/v1/risk/signals", authenticate({ adminOnly: true }));
riskAdminRoutes.use("/v1/risk/disposable-domains", authenticate({ adminOnly: true }));
riskAdminRoutes.use("/v1/risk/cache/rebuild", authenticate({ adminOnly: true }));

const ConfigSchema = z
  .object({
    version: z.number().int().openapi({ description: "0: the compiled defaults" }),
    config: z.record(z.string(), z.unknown()).openapi({
      description: "Weights and thresholds per rule, decision and ladder bands, lists",
    }),
  })
  .openapi("RiskConfig");

riskAdminRoutes.openapi(
  createRoute({
    method: "get",
    path: "/v1/risk/config",
    summary: "The risk scoring configuration in force",
    security: BEARER,
    responses: {
      200: {
        description: "Configuration",
        content: { "application/json": { schema: ConfigSchema } },
      },
      ...problemResponses(401, 403, 503),
    },
  }),
  async (c) => {
    const versioned = await withRiskDeps(c, (deps) => loadRiskConfig(deps));
    return c.json(versioned, 200);
  },
);

riskAdminRoutes.openapi(
  createRoute({
    method: "put",
    path: "/v1/risk/config",
    summary: "Change weights and thresholds",
    description:
      "Any subset of the configuration, merged over the version in force (objects merge, arrays " +
      "replace), validated and saved as the next version with an audit record. Takes effect for " +
      "the next decision.",
    security: BEARER,
    request: {
      body: {
        required: true,
        content: {
          "application/json": {
            schema: z.object({
              config: z.record(z.string(), z.unknown()),
              reason: z.string().trim().min(3).max(2000),
            }),
          },
        },
      },
    },
    responses: {
      200: { description: "Saved", content: { "application/json": { schema: ConfigSchema } } },
      ...problemResponses(401, 403, 422, 503),
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const saved = await withRiskDeps(c, (deps) =>
      updateRiskConfig(
        { db: deps.db, redis: deps.redis, ids: deps.ids, nowMs: deps.clock.nowMs() },
        body.config,
        "admin",
        body.reason,
      ),
    );
    return c.json(saved, 200);
  },
);

riskAdminRoutes.openapi(
  createRoute({
    method: "post",
    path: "/v1/risk/signals",
    summary: "Record a risk signal",
    description:
      "Early fraud warnings, disputes, failed charges (the Stripe webhook records the same " +
      "through lib/fraud/signals.ts) or any other signal kind, e.g. from an operator. " +
      "Idempotent by (account, kind, sourceId).",
    security: BEARER,
    request: {
      body: { required: true, content: { "application/json": { schema: RiskSignalSchema } } },
    },
    responses: {
      200: {
        description: "Recorded (or already recorded)",
        content: {
          "application/json": {
            schema: z.object({
              status: z.enum(["recorded", "duplicate"]),
              signalId: z.string(),
              accountId: z.string(),
              level: LevelSchema,
              score: z.number().int(),
              transitionId: z.string().nullable(),
            }),
          },
        },
      },
      ...problemResponses(401, 403, 404, 422, 503),
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const outcome = await withRiskDeps(c, async (deps) => {
      const result = await recordRiskSignal(deps, signalFromWire(body));
      if (result.status !== "unknown_account" && result.notificationPending && deps.work) {
        await deps.work.send(notifyMessage(result.accountId));
      }
      return result;
    });
    if (outcome.status === "unknown_account") {
      throw new AppError("NOT_FOUND", "No such account", {
        detail: "No account has this Stripe customer id.",
      });
    }
    return c.json(
      {
        status: outcome.status,
        signalId: outcome.signalId,
        accountId: outcome.accountId,
        level: outcome.level,
        score: outcome.score,
        transitionId: outcome.transition?.id ?? null,
      },
      200,
    );
  },
);

const DomainsStatusSchema = z.object({
  count: z.number().int(),
  loadedAt: z.string().nullable(),
});

riskAdminRoutes.openapi(
  createRoute({
    method: "get",
    path: "/v1/risk/disposable-domains",
    summary: "How many disposable email domains are loaded",
    security: BEARER,
    responses: {
      200: {
        description: "Status",
        content: { "application/json": { schema: DomainsStatusSchema } },
      },
      ...problemResponses(401, 403, 503),
    },
  }),
  async (c) => {
    const status = await withRiskDeps(c, (deps) => disposableDomainsStatus(deps.redis));
    return c.json(
      {
        count: status.count,
        loadedAt: status.loadedAtMs === null ? null : new Date(status.loadedAtMs).toISOString(),
      },
      200,
    );
  },
);

riskAdminRoutes.openapi(
  createRoute({
    method: "put",
    path: "/v1/risk/disposable-domains",
    summary: "Replace the disposable email domain list",
    description:
      "A JSON array of domains, e.g. the `disposable-email-domains` package's index.json. The " +
      "Redis set is replaced atomically.",
    security: BEARER,
    request: {
      body: {
        required: true,
        content: {
          "application/json": { schema: z.array(z.string().max(253)).max(1_000_000) },
        },
      },
    },
    responses: {
      200: {
        description: "Loaded",
        content: {
          "application/json": {
            schema: z.object({ count: z.number().int(), rejected: z.number().int() }),
          },
        },
      },
      ...problemResponses(400, 401, 403, 422, 503),
    },
  }),
  async (c) => {
    const domains = c.req.valid("json");
    const result = await withRiskDeps(c, (deps) =>
      replaceDisposableDomains(deps.redis, domains, deps.clock.nowMs()),
    );
    c.get("log").info("disposable domains loaded", result);
    return c.json(result, 200);
  },
);

riskAdminRoutes.openapi(
  createRoute({
    method: "post",
    path: "/v1/risk/cache/rebuild",
    summary: "Rebuild the Redis mirrors of ladder levels and flags from Postgres",
    description:
      "Runs by itself when the rate limiter finds the mirror missing (Redis data loss); this " +
      "endpoint forces it.",
    security: BEARER,
    responses: {
      200: {
        description: "Rebuilt",
        content: { "application/json": { schema: z.object({ levels: z.number().int() }) } },
      },
      ...problemResponses(401, 403, 503),
    },
  }),
  async (c) => {
    const result = await withRiskDeps(c, (deps) =>
      rebuildRiskCache(deps.db, deps.redis, deps.clock.nowMs()),
    );
    return c.json(result, 200);
  },
);
