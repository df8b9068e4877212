import { createRoute, z } from "@hono/zod-openapi";
import { AppError } from "../../lib/errors/index.ts";
import { setLevelByAdmin } from "../../lib/fraud/admin.ts";
import { decideDeployment, type SpendStatus } from "../../lib/fraud/deployment.ts";
import { normaliseEmail } from "../../lib/fraud/identity.ts";
import { restrictionsFor } from "../../lib/fraud/levels.ts";
import { notifyMessage } from "../../lib/fraud/messages.ts";
import { decideSignup } from "../../lib/fraud/signup.ts";
import { readRiskStatus } from "../../lib/fraud/status.ts";
import { parseRfc3339 } from "../../lib/ingest/time.ts";
import { meterFor } from "../meters.ts";
import { accountScope, authenticate, pendingKeyHash } from "../middleware/auth.ts";
import { possibleIdsOnly } from "../middleware/path-ids.ts";
import { BEARER, createRouter, plainText, problemResponses } from "../openapi.ts";
import {
  isoOrNull,
  LevelSchema,
  ReasonSchema,
  VerdictSchema,
  withRiskDeps,
} from "./risk-support.ts";

/**
 * Risk scoring and the throttle ladder: `POST /v1/risk/signups`, `POST /v1/risk/deployments`
 * (the admission check), `GET /v1/accounts/{id}/risk` and the admin's
 * `POST /v1/accounts/{id}/risk/level`. See docs/fraud.md.
 */
export const riskRoutes = createRouter();

const country = z
  .string()
  .regex(/^[A-Za-z]{2}$/)
  .transform((v) => v.toUpperCase());

const SignupSchema = z
  .object({
    accountId: z.string().min(1).max(200).openapi({ description: "The new account's id" }),
    email: z.string().min(3).max(320),
    ip: z
      .union([z.ipv4(), z.ipv6()])
      .optional()
      .openapi({ description: "The user's IP; default: the request's CF-Connecting-IP" }),
    country: country.optional().openapi({ description: "Default: Cloudflare's request.cf" }),
    asn: z.number().int().min(0).optional().openapi({ description: "Default: request.cf.asn" }),
    deviceId: z.string().min(1).max(200).optional(),
    cardFingerprint: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .openapi({ description: "Stripe's card fingerprint" }),
    cardCountry: country.optional(),
    linkedIdentity: z
      .object({
        provider: z.string().min(1).max(50).openapi({ example: "github" }),
        createdAt: z
          .string()
          .refine((v) => parseRfc3339(v) !== null, "an RFC 3339 instant")
          .openapi({ description: "When the linked identity was created" }),
      })
      .optional(),
  })
  .openapi("SignupRiskRequest");

riskRoutes.use("/v1/risk/signups", authenticate({ adminOnly: true }));
riskRoutes.openapi(
  createRoute({
    method: "post",
    path: "/v1/risk/signups",
    summary: "Score a signup",
    description:
      "Explainable 0–100 score with the rules that produced it and a decision: allow, challenge " +
      "(require card verification), review (hold for a human) or deny. Counts the signup in the " +
      "per-IP, device, card and domain velocity windows. Admin key (the platform) only.",
    security: BEARER,
    request: {
      body: { required: true, content: { "application/json": { schema: SignupSchema } } },
    },
    responses: {
      200: { description: "Decision", content: { "application/json": { schema: VerdictSchema } } },
      ...problemResponses(400, 401, 403, 422, 503),
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const email = normaliseEmail(body.email);
    if (email === null) {
      throw new AppError("VALIDATION_FAILED", "The email address is not valid", {
        detail: "/email: expected local@domain.tld",
        fieldErrors: [{ field: "/email", code: "invalid_email", detail: "expected local@domain" }],
      });
    }
    // Cloudflare's metadata describes whoever called us: used only when the body says nothing.
    const cf = c.req.raw.cf as { country?: unknown; asn?: unknown } | undefined;
    const cfCountry = typeof cf?.country === "string" ? cf.country.toUpperCase() : null;
    const verdict = await withRiskDeps(c, (deps) =>
      decideSignup(deps, {
        accountId: body.accountId,
        email,
        ip: body.ip ?? c.req.header("cf-connecting-ip") ?? null,
        country: body.country ?? (cfCountry && /^[A-Z]{2}$/.test(cfCountry) ? cfCountry : null),
        asn: body.asn ?? (typeof cf?.asn === "number" ? cf.asn : null),
        deviceId: body.deviceId ?? null,
        cardFingerprint: body.cardFingerprint ?? null,
        cardCountry: body.cardCountry ?? null,
        linkedIdentity: body.linkedIdentity
          ? {
              provider: body.linkedIdentity.provider,
              createdAtMs: parseRfc3339(body.linkedIdentity.createdAt) as number,
            }
          : null,
      }),
    );
    c.get("log").info("signup scored", {
      accountId: body.accountId,
      score: verdict.score,
      decision: verdict.decision,
    });
    return c.json(verdict, 200);
  },
);

const DeploymentSchema = z
  .object({
    accountId: z.string().min(1).max(200),
    deploymentId: z.string().min(1).max(200).optional(),
    image: z.string().min(1).max(500).openapi({ example: "ghcr.io/acme/api:1.4.2" }),
    command: z.array(z.string().max(2000)).max(100).default([]),
    resources: z.object({
      vcpus: z.number().positive().max(4096),
      memoryMb: z.number().int().positive().max(16_777_216),
      gpus: z.number().int().min(0).max(1024).default(0),
      instances: z.number().int().min(1).max(100_000).default(1),
    }),
    regions: z.array(z.string().min(1).max(50)).min(1).max(100),
  })
  .openapi("DeploymentRiskRequest");

riskRoutes.use("/v1/risk/deployments", authenticate({ meterVerifies: true }));
riskRoutes.openapi(
  createRoute({
    method: "post",
    path: "/v1/risk/deployments",
    summary: "Admission check for a deployment",
    description:
      "Scores the requested image, command, resources and regions against the account's plan, " +
      "and honours the account's spend cap and throttle level: suspended or capped accounts are " +
      "denied, limited accounts need review. The admin key may ask for any account; an account " +
      "key only for its own.",
    security: BEARER,
    request: {
      body: { required: true, content: { "application/json": { schema: DeploymentSchema } } },
    },
    responses: {
      200: { description: "Decision", content: { "application/json": { schema: VerdictSchema } } },
      ...problemResponses(400, 401, 404, 422, 503),
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const accountId = accountScope(c, body.accountId);
    const keyHash = pendingKeyHash(c);
    const spend: Promise<SpendStatus> = meterFor(c.env, accountId)
      .spendCapped(accountId, keyHash)
      .then(
        (reply): SpendStatus => {
          if (reply.status === "unauthenticated") {
            throw new AppError("UNAUTHENTICATED", "Missing or invalid API key", {
              detail: "The API key is not valid or was revoked.",
            });
          }
          return reply.status === "ok" ? (reply.capped ? "capped" : "ok") : "unknown";
        },
        (error: unknown): SpendStatus => {
          c.get("log").warn("spend status unavailable for admission", { accountId, error });
          return "unknown";
        },
      );
    const verdict = await withRiskDeps(c, (deps) =>
      decideDeployment(
        deps,
        {
          accountId,
          deploymentId: body.deploymentId ?? null,
          image: body.image,
          command: body.command,
          resources: body.resources,
          regions: body.regions,
        },
        spend,
      ),
    );
    if (verdict === null) {
      throw new AppError("NOT_FOUND", "No such account", {
        detail: "The account does not exist or this key cannot see it.",
      });
    }
    c.get("log").info("deployment scored", {
      accountId,
      score: verdict.score,
      decision: verdict.decision,
    });
    return c.json(verdict, 200);
  },
);

const RestrictionsSchema = z.object({
  rateTier: z.enum(["standard", "restricted"]),
  deployments: z.enum(["allowed", "review", "denied"]),
  usageAccepted: z.literal(true),
});

const RiskStatusSchema = z
  .object({
    accountId: z.string(),
    level: LevelSchema,
    levelSince: z.string().nullable(),
    restrictions: RestrictionsSchema,
    score: z.number().int().optional().openapi({ description: "Admin key only" }),
    reasons: z.array(ReasonSchema).optional().openapi({ description: "Admin key only" }),
    baselineAt: z.string().nullable().optional(),
    transitions: z
      .array(
        z.object({
          id: z.string(),
          action: z.string(),
          actor: z.string(),
          reason: z.string(),
          from: LevelSchema.nullable(),
          to: LevelSchema.nullable(),
          reasons: z.array(ReasonSchema),
          at: z.string(),
        }),
      )
      .optional(),
    signals: z
      .array(
        z.object({
          id: z.string(),
          kind: z.string(),
          sourceId: z.string(),
          amountMinor: z.string().nullable(),
          currency: z.string().nullable(),
          occurredAt: z.string(),
          recordedAt: z.string(),
          evidence: z.record(z.string(), z.unknown()),
        }),
      )
      .optional(),
    decisions: z
      .array(
        z.object({
          id: z.string(),
          action: z.string(),
          decision: z.string().nullable(),
          score: z.number().int().nullable(),
          reasons: z.array(ReasonSchema),
          at: z.string(),
        }),
      )
      .optional(),
  })
  .openapi("AccountRiskStatus");

const AccountParam = z.object({ accountId: z.string().min(1).max(200) });

riskRoutes.use("/v1/accounts/:accountId/risk", authenticate(), possibleIdsOnly);
riskRoutes.openapi(
  createRoute({
    method: "get",
    path: "/v1/accounts/{accountId}/risk",
    summary: "An account's fraud status",
    description:
      "Its throttle level and what that restricts. With the admin key also the score, the rules " +
      "behind it and the recent transitions, signals and decisions; an account key sees only its " +
      "own level and restrictions (the rules are not disclosed to the account holder).",
    security: BEARER,
    request: { params: AccountParam },
    responses: {
      200: {
        description: "Status",
        content: { "application/json": { schema: RiskStatusSchema } },
      },
      ...problemResponses(401, 404, 503),
    },
  }),
  async (c) => {
    const accountId = accountScope(c, c.req.valid("param").accountId);
    const status = await withRiskDeps(c, (deps) => readRiskStatus(deps.http, accountId));
    if (status === null) {
      throw new AppError("NOT_FOUND", "No such account", {
        detail: "The account does not exist or this key cannot see it.",
      });
    }
    const base = {
      accountId,
      level: status.level,
      levelSince: isoOrNull(status.levelSinceMs),
      restrictions: status.restrictions,
    };
    if (c.get("principal").kind !== "admin") {
      return c.json(base, 200);
    }
    return c.json(
      {
        ...base,
        score: status.score,
        reasons: status.reasons,
        baselineAt: isoOrNull(status.baselineAtMs),
        transitions: status.transitions.map(({ atMs, ...t }) => ({
          ...t,
          at: new Date(atMs).toISOString(),
        })),
        signals: status.signals.map(({ occurredAtMs, recordedAtMs, ...s }) => ({
          ...s,
          occurredAt: new Date(occurredAtMs).toISOString(),
          recordedAt: new Date(recordedAtMs).toISOString(),
        })),
        decisions: status.decisions.map(({ atMs, ...d }) => ({
          ...d,
          at: new Date(atMs).toISOString(),
        })),
      },
      200,
    );
  },
);

const SetLevelSchema = z
  .object({
    level: LevelSchema,
    reason: plainText({ multiline: true })
      .trim()
      .min(3)
      .max(2000)
      .openapi({ description: "Why: kept in the audit record and sent to the platform" }),
  })
  .openapi("SetRiskLevel");

riskRoutes.use(
  "/v1/accounts/:accountId/risk/level",
  authenticate({ adminOnly: true }),
  possibleIdsOnly,
);
riskRoutes.openapi(
  createRoute({
    method: "post",
    path: "/v1/accounts/{accountId}/risk/level",
    summary: "Set an account's throttle level (admin)",
    description:
      "Moves the account to any level, typically down after a review. Audited with the reason; " +
      "signals recorded before this decision no longer raise the level.",
    security: BEARER,
    request: {
      params: AccountParam,
      body: { required: true, content: { "application/json": { schema: SetLevelSchema } } },
    },
    responses: {
      200: {
        description: "The new state",
        content: {
          "application/json": {
            schema: z.object({
              accountId: z.string(),
              level: LevelSchema,
              previousLevel: LevelSchema,
              transitionId: z.string().nullable(),
              restrictions: RestrictionsSchema,
            }),
          },
        },
      },
      ...problemResponses(401, 403, 422, 503),
    },
  }),
  async (c) => {
    const { accountId } = c.req.valid("param");
    const body = c.req.valid("json");
    const result = await withRiskDeps(c, async (deps) => {
      const outcome = await setLevelByAdmin(deps, {
        accountId,
        level: body.level,
        reason: body.reason,
        actor: "admin",
      });
      if (outcome.notificationPending && deps.work) {
        await deps.work.send(notifyMessage(accountId));
      }
      return outcome;
    });
    return c.json(
      {
        accountId,
        level: result.risk.level,
        previousLevel: result.transition?.from ?? result.risk.level,
        transitionId: result.transition?.id ?? null,
        restrictions: restrictionsFor(result.risk.level),
      },
      200,
    );
  },
);
