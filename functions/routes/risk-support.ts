import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { AppError, isAppError } from "../../lib/errors/index.ts";
import { openRiskDeps, type RiskDeps } from "../../lib/fraud/deps.ts";
import { RISK_LEVELS } from "../../lib/fraud/levels.ts";
import { DECISIONS } from "../../lib/fraud/rules.ts";
import type { AppEnv } from "../context.ts";

/** Shared pieces of the fraud routes: dependencies per request and response schemas. */

/** True for failures of Redis or QStash over HTTP (not SQL or our own errors). */
function isHttpDependencyFailure(error: unknown): boolean {
  const name = (error as { name?: unknown })?.name;
  const message = String((error as { message?: unknown })?.message ?? "");
  return (
    name === "UpstashError" ||
    name === "QstashError" ||
    /fetch failed|network|ECONNREFUSED|socket|timed? ?out/i.test(message)
  );
}

/**
 * Runs `work` with the fraud dependencies of this request. Work deferred through `deps.defer`
 * runs after the response (waitUntil), and the database is closed once it is done. Redis and
 * QStash outages become retryable DEPENDENCY_UNAVAILABLE.
 */
export async function withRiskDeps<T>(
  c: Context<AppEnv>,
  work: (deps: RiskDeps) => Promise<T>,
): Promise<T> {
  const deferred: Promise<unknown>[] = [];
  const deps = openRiskDeps(c.get("config"), {
    work: {
      send: async (body) => {
        await c.env.WORK.send(body, { contentType: "json" });
      },
    },
    clock: c.get("clock"),
    ids: c.get("ids"),
    log: c.get("log"),
    defer: (work) => {
      deferred.push(work);
    },
  });
  try {
    return await work(deps);
  } catch (error) {
    if (!isAppError(error) && isHttpDependencyFailure(error)) {
      throw new AppError("DEPENDENCY_UNAVAILABLE", "A fraud data store is unreachable", {
        detail: "Redis or QStash did not answer. Retry shortly.",
        cause: error,
        retryAfterSeconds: 2,
      });
    }
    throw error;
  } finally {
    // Deferred work (notifications, farm messages) may still use the connections.
    c.executionCtx.waitUntil(Promise.allSettled(deferred).then(() => deps.close()));
  }
}

export const ReasonSchema = z
  .object({
    rule: z.string().openapi({ example: "card_velocity" }),
    points: z.number().int(),
    detail: z.string().openapi({ example: "3 signups with this card in 24 h (threshold 3)" }),
    atLeast: z
      .enum(DECISIONS)
      .optional()
      .openapi({ description: "For policies: the least strict decision they allow" }),
  })
  .openapi("RiskReason");

export const LevelSchema = z.enum(RISK_LEVELS).openapi({
  description: "Throttle ladder: normal → watch → limited → suspended",
});

export const VerdictSchema = z
  .object({
    decisionId: z.string().openapi({ description: "Audit record of this decision (aud_…)" }),
    score: z.number().int().min(0).max(100),
    decision: z.enum(DECISIONS),
    reasons: z.array(ReasonSchema),
    level: LevelSchema.openapi({
      description:
        "The account's ladder level: for a signup, where it starts; for a deployment, the level " +
        "the decision saw (a miner attempt raises it after the response)",
    }),
    configVersion: z.number().int().openapi({ description: "Risk configuration version used" }),
  })
  .openapi("RiskVerdict");

/** ISO time of an epoch-ms value, or null. */
export function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
