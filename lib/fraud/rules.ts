/**
 * The scoring engine: explainable weighted rules. Each rule that fires adds its weight; the
 * score is the sum capped at 100, and the reasons list every rule that fired with its points.
 * Policies (throttle level, spend cap) are reasons that force a minimum decision regardless of
 * the score; they carry no points.
 */

export const DECISIONS = ["allow", "challenge", "review", "deny"] as const;
/**
 * allow: go ahead. challenge: go ahead once the user verifies a payment card. review: hold for
 * a human. deny: refuse. Listed from mildest to strictest.
 */
export type Decision = (typeof DECISIONS)[number];

/** Why a score or decision came out as it did: one fired rule or policy. */
export interface Reason {
  /** Stable rule id, e.g. `card_velocity`; policies too, e.g. `account_suspended`. */
  rule: string;
  /** Points added to the score; 0 for policies. */
  points: number;
  /** Human-readable evidence: the counted value and the threshold it reached. */
  detail: string;
  /** For policies: the least strict decision this reason allows. */
  atLeast?: Decision;
}

/** Score bands: the score at which each decision above allow begins (inclusive). */
export interface DecisionBands {
  challenge: number;
  review: number;
  deny: number;
}

/** The outcome of scoring one request. */
export interface Verdict {
  score: number;
  decision: Decision;
  reasons: Reason[];
}

/** A rule that fires with a weight, as collected while evaluating facts. */
export interface Firing {
  rule: string;
  weight: number;
  detail: string;
}

/** Score of a set of firings: the sum of their points, capped at 100. */
export function scoreOf(reasons: readonly { points: number }[]): number {
  return Math.min(
    100,
    reasons.reduce((sum, r) => sum + r.points, 0),
  );
}

/** The decision a score falls into under `bands`. */
export function decisionForScore(score: number, bands: DecisionBands): Decision {
  if (score >= bands.deny) {
    return "deny";
  }
  if (score >= bands.review) {
    return "review";
  }
  if (score >= bands.challenge) {
    return "challenge";
  }
  return "allow";
}

/** The stricter of two decisions. */
export function stricter(a: Decision, b: Decision): Decision {
  return DECISIONS.indexOf(a) >= DECISIONS.indexOf(b) ? a : b;
}

/**
 * Turns fired rules and policies into a verdict. Rules with weight 0 are dropped (an admin
 * switched them off); policies raise the decision to at least their `atLeast`.
 */
export function verdictOf(
  firings: readonly Firing[],
  policies: readonly Reason[],
  bands: DecisionBands,
): Verdict {
  const reasons: Reason[] = firings
    .filter((f) => f.weight > 0)
    .map((f) => ({ rule: f.rule, points: f.weight, detail: f.detail }));
  const score = scoreOf(reasons);
  let decision = decisionForScore(score, bands);
  for (const policy of policies) {
    decision = stricter(decision, policy.atLeast ?? "allow");
  }
  return { score, decision, reasons: [...reasons, ...policies] };
}
