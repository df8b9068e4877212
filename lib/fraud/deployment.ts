import { recordRiskAudit } from "./audit.ts";
import type { DeploymentLimitsConfig, RiskConfig } from "./config.ts";
import { resolveRiskConfig } from "./config-store.ts";
import type { RiskDeps } from "./deps.ts";
import { runAfterResponse } from "./effects.ts";
import { REDIS_KEYS } from "./keys.ts";
import { readAccountRisk } from "./ladder.ts";
import type { RiskLevel } from "./levels.ts";
import { signalMessage } from "./messages.ts";
import { readPlanFacts } from "./plan-facts.ts";
import { type Firing, type Reason, type Verdict, verdictOf } from "./rules.ts";
import { recordRiskSignal } from "./signals.ts";
import { PipelinePlan, WINDOWS_MS } from "./velocity.ts";

/** A deployment the platform wants to start for an account. */
export interface DeploymentInput {
  accountId: string;
  /** The platform's id for the deployment, when it has one (idempotency of counters). */
  deploymentId: string | null;
  image: string;
  /** Entrypoint and arguments. */
  command: string[];
  resources: { vcpus: number; memoryMb: number; gpus: number; instances: number };
  regions: string[];
}

/** The account meter's view of the spend cap. */
export type SpendStatus = "ok" | "capped" | "unknown";

/** Everything the admission rules look at. */
export interface DeploymentFacts {
  level: RiskLevel;
  freeTier: boolean;
  /** Limits in force: the plan's, the free-tier defaults, or null (paid plan without limits). */
  limits: DeploymentLimitsConfig | null;
  spend: SpendStatus;
  /** Deployment requests of the account in the last hour, this one included. */
  deploymentsLastHour: number;
}

function firstMatch(patterns: readonly string[], text: string): string | null {
  for (const source of patterns) {
    if (new RegExp(source, "i").test(text)) {
      return source;
    }
  }
  return null;
}

function overLimits(input: DeploymentInput, facts: DeploymentFacts): string[] {
  const limits = facts.limits;
  if (!limits) {
    return [];
  }
  const over: string[] = [];
  const { vcpus, memoryMb, gpus, instances } = input.resources;
  if (limits.maxVcpus !== null && vcpus > limits.maxVcpus) {
    over.push(`vcpus ${vcpus} > ${limits.maxVcpus}`);
  }
  if (limits.maxMemoryMb !== null && memoryMb > limits.maxMemoryMb) {
    over.push(`memoryMb ${memoryMb} > ${limits.maxMemoryMb}`);
  }
  // A GPU on the free tier is its own rule; counting it here too would double the points.
  if (limits.maxGpus !== null && gpus > limits.maxGpus && !facts.freeTier) {
    over.push(`gpus ${gpus} > ${limits.maxGpus}`);
  }
  if (limits.maxInstances !== null && instances > limits.maxInstances) {
    over.push(`instances ${instances} > ${limits.maxInstances}`);
  }
  return over;
}

/**
 * Applies the admission rules. Pure. Weighted rules: miner image or command patterns, resources
 * beyond the plan, a GPU on the free tier, regions outside the plan, many regions at once on the
 * free tier, deployment velocity, an account on watch. Policies that override the score: a
 * suspended account or a capped spend is denied, a limited account needs review, and an unknown
 * spend status needs review.
 */
export function evaluateDeployment(
  input: DeploymentInput,
  facts: DeploymentFacts,
  config: RiskConfig,
): Verdict {
  const rules = config.deployment.rules;
  const firings: Firing[] = [];
  const imageHit = firstMatch(config.deployment.minerPatterns, input.image);
  if (imageHit !== null) {
    firings.push({
      rule: "miner_image",
      weight: rules.miner_image.weight,
      detail: `image ${input.image} matches /${imageHit}/`,
    });
  }
  const commandHit = firstMatch(config.deployment.minerPatterns, input.command.join(" "));
  if (commandHit !== null) {
    firings.push({
      rule: "miner_command",
      weight: rules.miner_command.weight,
      detail: `command matches /${commandHit}/`,
    });
  }
  const over = overLimits(input, facts);
  if (over.length > 0) {
    firings.push({
      rule: "resources_over_plan",
      weight: rules.resources_over_plan.weight,
      detail: `requested beyond the plan: ${over.join(", ")}`,
    });
  }
  if (facts.freeTier && input.resources.gpus > 0) {
    firings.push({
      rule: "gpu_on_free_tier",
      weight: rules.gpu_on_free_tier.weight,
      detail: `${input.resources.gpus} GPUs requested on the free tier`,
    });
  }
  const allowedRegions = facts.limits?.regions ?? null;
  if (allowedRegions !== null) {
    const outside = input.regions.filter((r) => !allowedRegions.includes(r));
    if (outside.length > 0) {
      firings.push({
        rule: "region_not_allowed",
        weight: rules.region_not_allowed.weight,
        detail: `regions not in the plan: ${outside.join(", ")}`,
      });
    }
  }
  if (facts.freeTier && input.regions.length >= rules.many_regions.threshold) {
    firings.push({
      rule: "many_regions",
      weight: rules.many_regions.weight,
      detail: `${input.regions.length} regions at once on the free tier (threshold ${rules.many_regions.threshold})`,
    });
  }
  if (facts.deploymentsLastHour >= rules.deployment_velocity.threshold) {
    firings.push({
      rule: "deployment_velocity",
      weight: rules.deployment_velocity.weight,
      detail: `${facts.deploymentsLastHour} deployments in 1 h (threshold ${rules.deployment_velocity.threshold})`,
    });
  }
  if (facts.level === "watch") {
    firings.push({
      rule: "account_watch",
      weight: rules.account_watch.weight,
      detail: "the account is on watch",
    });
  }
  const policies: Reason[] = [];
  if (facts.level === "suspended") {
    policies.push({
      rule: "account_suspended",
      points: 0,
      detail: "the account is suspended: deployments are denied",
      atLeast: "deny",
    });
  } else if (facts.level === "limited") {
    policies.push({
      rule: "account_limited",
      points: 0,
      detail: "the account is limited: new deployments need review",
      atLeast: "review",
    });
  }
  if (facts.spend === "capped") {
    policies.push({
      rule: "spend_capped",
      points: 0,
      detail: "the account reached its hard spend cap for this period",
      atLeast: "deny",
    });
  } else if (facts.spend === "unknown") {
    policies.push({
      rule: "spend_status_unknown",
      points: 0,
      detail: "the account meter did not answer; the spend cap could not be checked",
      atLeast: "review",
    });
  }
  return verdictOf(firings, policies, config.deployment.decisions);
}

/** The outcome of an admission check, as the API returns it. */
export interface DeploymentDecision extends Verdict {
  decisionId: string;
  configVersion: number;
  level: RiskLevel;
}

/**
 * The admission check: gathers the account's ladder level and plan (Postgres), its deployment
 * velocity and the configuration (one Redis round trip) and its spend status (the caller's
 * account-meter call) concurrently, applies the rules, and audits the decision. A deployment
 * denied for a miner image or command also records a `deployment.miner` signal, which raises
 * the account on the ladder (after the response). `level` in the result is the account's level
 * the decision saw. Returns null for an account meterline does not know.
 */
export async function decideDeployment(
  deps: RiskDeps,
  input: DeploymentInput,
  spend: Promise<SpendStatus>,
): Promise<DeploymentDecision | null> {
  const nowMs = deps.clock.nowMs();
  const plan = new PipelinePlan(deps.redis);
  plan.add("config", (p) => p.get(REDIS_KEYS.config));
  plan.count("deployments", {
    counter: "deploy:acct",
    subject: input.accountId,
    member: input.deploymentId ?? deps.ids.next("risk"),
    atMs: nowMs,
    windowMs: WINDOWS_MS.deploymentsPerAccount,
  });
  const [planFacts, risk, results, spendStatus] = await Promise.all([
    readPlanFacts(deps.http, input.accountId, nowMs),
    readAccountRisk(deps.http, input.accountId),
    plan.exec(),
    spend,
  ]);
  if (!planFacts.accountExists) {
    return null;
  }
  const versioned = await resolveRiskConfig(results.get("config"), deps.http, deps.redis);
  const { config } = versioned;
  const facts: DeploymentFacts = {
    level: risk?.level ?? "normal",
    freeTier: planFacts.freeTier,
    limits: planFacts.limits ?? (planFacts.freeTier ? config.deployment.freeTierLimits : null),
    spend: spendStatus,
    deploymentsLastHour: results.number("deployments"),
  };
  const verdict = evaluateDeployment(input, facts, config);
  const decisionId = await recordRiskAudit(deps.http, deps.ids, {
    accountId: input.accountId,
    action: "decision.deployment",
    actor: "system",
    reason: `Deployment scored ${verdict.score}: ${verdict.decision}`,
    before: null,
    after: {
      decision: verdict.decision,
      score: verdict.score,
      configVersion: versioned.version,
      subject: {
        deploymentId: input.deploymentId,
        image: input.image,
        resources: input.resources,
        regions: input.regions,
        freeTier: facts.freeTier,
        level: facts.level,
        spend: facts.spend,
      },
    },
    reasons: verdict.reasons,
    atMs: nowMs,
  });
  if (verdict.reasons.some((r) => r.rule === "miner_image" || r.rule === "miner_command")) {
    // The attempt itself is a signal against the account; the ladder handles it after the
    // response (through the work queue when there is one).
    const signal = {
      kind: "deployment.miner" as const,
      sourceId: input.deploymentId ?? decisionId,
      accountId: input.accountId,
      evidence: { decisionId, image: input.image },
    };
    const record = async () => {
      try {
        if (!deps.work) {
          throw new Error("no work queue");
        }
        await deps.work.send(
          signalMessage({ ...signal, occurredAt: new Date(nowMs).toISOString() }),
        );
      } catch {
        await recordRiskSignal(deps, { ...signal, occurredAtMs: nowMs }, versioned);
      }
    };
    await runAfterResponse(deps, record());
  }
  return { ...verdict, decisionId, configVersion: versioned.version, level: facts.level };
}
