import type { Queryable } from "../adapters/postgres.ts";
import type { DeploymentLimitsConfig } from "./config.ts";

/** What the fraud rules need to know about an account's plan at one instant. */
export interface PlanFacts {
  /** False when the accounts table has no such account. */
  accountExists: boolean;
  planId: string | null;
  /** No plan, or a plan flagged `free_tier`. */
  freeTier: boolean;
  /** The plan's deployment limits; null when the plan sets none. */
  limits: DeploymentLimitsConfig | null;
}

/**
 * Reads the account's plan in force at `atMs` (its latest assignment starting at or before then)
 * and whether that makes it free tier: an account without a plan, or on a plan whose
 * `free_tier` column is true, is free tier.
 */
export async function readPlanFacts(
  db: Queryable,
  accountId: string,
  atMs: number,
): Promise<PlanFacts> {
  const { rows } = await db.query<{
    plan_id: string | null;
    free_tier: boolean | null;
    deployment_limits: Partial<DeploymentLimitsConfig> | null;
  }>(
    `select ap.plan_id, p.free_tier, p.deployment_limits
       from accounts a
       left join lateral (
         select plan_id from account_plans
          where account_id = a.id and effective_from <= $2
          order by effective_from desc limit 1
       ) ap on true
       left join plans p on p.id = ap.plan_id
      where a.id = $1`,
    [accountId, new Date(atMs).toISOString()],
  );
  const row = rows[0];
  if (!row) {
    return { accountExists: false, planId: null, freeTier: true, limits: null };
  }
  const limits = row.deployment_limits
    ? {
        maxVcpus: row.deployment_limits.maxVcpus ?? null,
        maxMemoryMb: row.deployment_limits.maxMemoryMb ?? null,
        maxGpus: row.deployment_limits.maxGpus ?? null,
        maxInstances: row.deployment_limits.maxInstances ?? null,
        regions: row.deployment_limits.regions ?? null,
      }
    : null;
  return {
    accountExists: true,
    planId: row.plan_id,
    freeTier: row.plan_id === null || row.free_tier === true,
    limits,
  };
}
