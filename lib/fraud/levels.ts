/**
 * The throttle ladder: normal → watch → limited → suspended. Signals only ever move an account
 * up; moving down is an admin action with a reason (lib/fraud/ladder.ts).
 */
export const RISK_LEVELS = ["normal", "watch", "limited", "suspended"] as const;
export type RiskLevel = (typeof RISK_LEVELS)[number];

const RANK: Record<RiskLevel, number> = { normal: 0, watch: 1, limited: 2, suspended: 3 };

/** True when `value` names a ladder level. */
export function isRiskLevel(value: unknown): value is RiskLevel {
  return typeof value === "string" && (RISK_LEVELS as readonly string[]).includes(value);
}

/** The ladder position of a level: normal 0 … suspended 3. */
export function levelRank(level: RiskLevel): number {
  return RANK[level];
}

/** The higher of two levels. */
export function higherLevel(a: RiskLevel, b: RiskLevel): RiskLevel {
  return RANK[a] >= RANK[b] ? a : b;
}

/** Account score (0–100) at which each level above normal begins. */
export interface LadderThresholds {
  watch: number;
  limited: number;
  suspended: number;
}

/** The level an account score calls for under `thresholds` (inclusive lower bounds). */
export function levelForScore(score: number, thresholds: LadderThresholds): RiskLevel {
  if (score >= thresholds.suspended) {
    return "suspended";
  }
  if (score >= thresholds.limited) {
    return "limited";
  }
  if (score >= thresholds.watch) {
    return "watch";
  }
  return "normal";
}

/** What a level means for the account's traffic, as shown in its status. */
export interface LevelRestrictions {
  /** Rate-limit tier of the account's API keys (lib/fraud/rate-limit.ts). */
  rateTier: "standard" | "restricted";
  /** Admission of new deployments. */
  deployments: "allowed" | "review" | "denied";
  /** Usage is always metered; suspended accounts are only slowed to the restricted tier. */
  usageAccepted: true;
}

/** The restrictions each level imposes. */
export function restrictionsFor(level: RiskLevel): LevelRestrictions {
  switch (level) {
    case "normal":
    case "watch":
      return { rateTier: "standard", deployments: "allowed", usageAccepted: true };
    case "limited":
      return { rateTier: "restricted", deployments: "review", usageAccepted: true };
    case "suspended":
      return { rateTier: "restricted", deployments: "denied", usageAccepted: true };
  }
}
