import { z } from "zod";

/**
 * Scoring configuration: the weight (0–100 points) and, where a rule counts something, the
 * threshold of every rule, the score bands of the decisions and of the throttle ladder, and the
 * lists rules consult. Admins change it through `PUT /v1/risk/config`; every change is a new
 * version in Postgres (audited) and is mirrored to Redis so decisions read it in the same round
 * trip as their counters. Sliding-window lengths are fixed in code (lib/fraud/velocity.ts).
 */

const weight = z.number().int().min(0).max(100);
const Rule = z.object({ weight });
const CountingRule = z.object({ weight, threshold: z.number().int().min(1).max(1_000_000) });

const DecisionBands = z
  .object({
    challenge: z.number().int().min(1).max(100),
    review: z.number().int().min(1).max(100),
    deny: z.number().int().min(1).max(100),
  })
  .refine((b) => b.challenge <= b.review && b.review <= b.deny, {
    message: "bands must satisfy challenge <= review <= deny",
  });

const LadderBands = z
  .object({
    watch: z.number().int().min(1).max(100),
    limited: z.number().int().min(1).max(100),
    suspended: z.number().int().min(1).max(100),
  })
  .refine((b) => b.watch <= b.limited && b.limited <= b.suspended, {
    message: "bands must satisfy watch <= limited <= suspended",
  });

const Pattern = z
  .string()
  .min(1)
  .max(200)
  .refine((source) => {
    try {
      new RegExp(source, "i");
      return true;
    } catch {
      return false;
    }
  }, "not a valid regular expression");

const DeploymentLimits = z.object({
  maxVcpus: z.number().positive().nullable(),
  maxMemoryMb: z.number().int().positive().nullable(),
  maxGpus: z.number().int().min(0).nullable(),
  maxInstances: z.number().int().positive().nullable(),
  regions: z.array(z.string().min(1)).nullable(),
});

/** The whole configuration; `parseRiskConfig` validates against it (defaults filled in). */
export const RiskConfigSchema = z.object({
  signup: z.object({
    rules: z.object({
      disposable_email: Rule,
      email_reused: CountingRule,
      ip_velocity: CountingRule,
      device_velocity: CountingRule,
      card_velocity: CountingRule,
      domain_velocity: CountingRule,
      card_shared: CountingRule,
      device_shared: CountingRule,
      card_farm: CountingRule,
      device_farm: CountingRule,
      flagged_card: Rule,
      flagged_device: Rule,
      young_identity: CountingRule,
      hosting_network: Rule,
      high_risk_country: Rule,
      country_mismatch: Rule,
    }),
    decisions: DecisionBands,
  }),
  deployment: z.object({
    rules: z.object({
      miner_image: Rule,
      miner_command: Rule,
      resources_over_plan: Rule,
      gpu_on_free_tier: Rule,
      region_not_allowed: Rule,
      many_regions: CountingRule,
      deployment_velocity: CountingRule,
      account_watch: Rule,
    }),
    decisions: DecisionBands,
    minerPatterns: z.array(Pattern).max(200),
    freeTierLimits: DeploymentLimits,
  }),
  account: z.object({
    rules: z.object({
      early_fraud_warning: Rule,
      dispute: Rule,
      charge_failed: Rule,
      card_testing: CountingRule,
      mining_free_tier: Rule,
      sustained_cpu_paid: Rule,
      linked_farm: Rule,
      miner_deployment: Rule,
    }),
    ladder: LadderBands,
    /** Signals older than this no longer count towards the account score. */
    lookbackDays: z.number().int().min(1).max(3650),
    /** A failed charge at or below this many minor units counts towards card testing. */
    smallChargeMaxMinor: z.number().int().min(0),
  }),
  lists: z.object({
    /** Autonomous systems of hosting providers (signups from data centres). */
    hostingAsns: z.array(z.number().int().min(0)).max(10_000),
    /** ISO 3166-1 alpha-2 codes. */
    highRiskCountries: z.array(z.string().regex(/^[A-Z]{2}$/)).max(300),
  }),
  notifications: z.object({
    /** Where ladder transitions go for accounts without a notification_url; null: nowhere. */
    fallbackUrl: z.url().nullable(),
  }),
});

export type RiskConfig = z.infer<typeof RiskConfigSchema>;
export type DeploymentLimitsConfig = z.infer<typeof DeploymentLimits>;
export type SignupRuleId = keyof RiskConfig["signup"]["rules"];
export type DeploymentRuleId = keyof RiskConfig["deployment"]["rules"];
export type AccountRuleId = keyof RiskConfig["account"]["rules"];

/** The configuration in force when no version has been saved. See docs/fraud.md for the why. */
export const DEFAULT_RISK_CONFIG: RiskConfig = {
  signup: {
    rules: {
      disposable_email: { weight: 40 },
      email_reused: { weight: 30, threshold: 2 },
      ip_velocity: { weight: 20, threshold: 5 },
      device_velocity: { weight: 30, threshold: 3 },
      card_velocity: { weight: 35, threshold: 3 },
      domain_velocity: { weight: 20, threshold: 10 },
      card_shared: { weight: 15, threshold: 2 },
      device_shared: { weight: 15, threshold: 2 },
      card_farm: { weight: 50, threshold: 4 },
      device_farm: { weight: 50, threshold: 4 },
      flagged_card: { weight: 80 },
      flagged_device: { weight: 60 },
      young_identity: { weight: 15, threshold: 7 },
      hosting_network: { weight: 15 },
      high_risk_country: { weight: 10 },
      country_mismatch: { weight: 10 },
    },
    decisions: { challenge: 30, review: 55, deny: 80 },
  },
  deployment: {
    rules: {
      miner_image: { weight: 90 },
      miner_command: { weight: 90 },
      resources_over_plan: { weight: 40 },
      gpu_on_free_tier: { weight: 40 },
      region_not_allowed: { weight: 30 },
      many_regions: { weight: 20, threshold: 3 },
      deployment_velocity: { weight: 25, threshold: 30 },
      account_watch: { weight: 15 },
    },
    decisions: { challenge: 30, review: 60, deny: 80 },
    minerPatterns: [
      "xmrig",
      "xmr-stak",
      "minergate",
      "nicehash",
      "cpuminer",
      "ccminer",
      "ethminer",
      "t-rex",
      "lolminer",
      "phoenixminer",
      "nbminer",
      "gminer",
      "teamredminer",
      "srbminer",
      "nanominer",
      "cgminer",
      "bfgminer",
      "\\bminerd\\b",
      "stratum\\+(tcp|ssl|tls)://",
      "--donate-level",
      "\\b(randomx|cryptonight|ethash|kawpow|autolykos)\\b",
    ],
    freeTierLimits: {
      maxVcpus: 1,
      maxMemoryMb: 1024,
      maxGpus: 0,
      maxInstances: 2,
      regions: null,
    },
  },
  account: {
    rules: {
      early_fraud_warning: { weight: 90 },
      dispute: { weight: 50 },
      charge_failed: { weight: 5 },
      card_testing: { weight: 90, threshold: 5 },
      mining_free_tier: { weight: 90 },
      sustained_cpu_paid: { weight: 0 },
      linked_farm: { weight: 50 },
      miner_deployment: { weight: 50 },
    },
    ladder: { watch: 25, limited: 50, suspended: 85 },
    lookbackDays: 90,
    smallChargeMaxMinor: 500,
  },
  lists: { hostingAsns: [], highRiskCountries: [] },
  notifications: { fallbackUrl: null },
};

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Overlays `patch` on `base`: objects merge key by key, anything else (arrays included)
 * replaces. Used for partial admin updates and to fill fields added since a version was saved.
 */
export function mergeConfig(base: unknown, patch: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(patch)) {
    return patch === undefined ? base : patch;
  }
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    out[key] = mergeConfig(base[key], value);
  }
  return out;
}

/** One reason a configuration was refused: where (a path of keys) and why. */
export interface ConfigIssue {
  path: PropertyKey[];
  message: string;
}

/** A validated configuration and the version it came from (0: the compiled defaults). */
export interface VersionedRiskConfig {
  version: number;
  config: RiskConfig;
}

/**
 * Validates a stored or submitted configuration, filling fields this code knows but the stored
 * version predates from the defaults. Returns the zod issues when it is invalid.
 */
export function parseRiskConfig(
  value: unknown,
): { ok: true; config: RiskConfig } | { ok: false; issues: ConfigIssue[] } {
  const result = RiskConfigSchema.safeParse(mergeConfig(DEFAULT_RISK_CONFIG, value));
  return result.success
    ? { ok: true, config: result.data }
    : { ok: false, issues: result.error.issues };
}
