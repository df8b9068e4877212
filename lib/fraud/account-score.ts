import type { AccountRuleId, RiskConfig } from "./config.ts";
import type { Reason } from "./rules.ts";
import { scoreOf } from "./rules.ts";

/** Every kind of signal an account can receive, and where it comes from. */
export const SIGNAL_KINDS = [
  /** Stripe `radar.early_fraud_warning.created` (from the webhook function). */
  "stripe.early_fraud_warning",
  /** Stripe `charge.dispute.created`. */
  "stripe.dispute",
  /** Stripe `charge.failed` / `payment_intent.payment_failed`. */
  "stripe.charge_failed",
  /** Derived: a burst of small failed charges on one account or card. */
  "velocity.card_testing",
  /** From the account meter: sustained flat near-full CPU (lib/fraud/usage-pattern.ts). */
  "usage.sustained_cpu",
  /** Derived: the account shares a card or device with a farm of accounts. */
  "link.farm",
  /** Derived: the account asked to deploy a known miner image or command. */
  "deployment.miner",
] as const;
export type SignalKind = (typeof SIGNAL_KINDS)[number];

/** A recorded signal, as the account score reads it. */
export interface RecordedSignal {
  id: string;
  kind: SignalKind;
  sourceId: string;
  occurredAtMs: number;
  recordedAtMs: number;
  amountMinor: string | null;
  currency: string | null;
  evidence: Record<string, unknown>;
}

/**
 * The account rule a signal feeds. Sustained CPU on a free-tier account is the mining pattern;
 * on a paying account it is recorded with its own (by default zero) weight, because paying
 * customers legitimately run flat-out batch work.
 */
export function accountRuleFor(signal: Pick<RecordedSignal, "kind" | "evidence">): AccountRuleId {
  switch (signal.kind) {
    case "stripe.early_fraud_warning":
      return "early_fraud_warning";
    case "stripe.dispute":
      return "dispute";
    case "stripe.charge_failed":
      return "charge_failed";
    case "velocity.card_testing":
      return "card_testing";
    case "usage.sustained_cpu":
      return signal.evidence.freeTier === true ? "mining_free_tier" : "sustained_cpu_paid";
    case "link.farm":
      return "linked_farm";
    case "deployment.miner":
      return "miner_deployment";
  }
}

/**
 * Scores an account from its signals: every signal adds its rule's weight, the sum is capped at
 * 100, and each rule that contributed is one reason naming how many signals it counted.
 * Pure: the caller chooses which signals still count (lookback, admin baseline).
 */
export function scoreAccount(
  signals: readonly RecordedSignal[],
  config: RiskConfig,
): { score: number; reasons: Reason[] } {
  const counts = new Map<AccountRuleId, number>();
  for (const signal of signals) {
    const rule = accountRuleFor(signal);
    counts.set(rule, (counts.get(rule) ?? 0) + 1);
  }
  const reasons: Reason[] = [];
  for (const [rule, count] of [...counts].sort((a, b) => a[0].localeCompare(b[0]))) {
    const weight = config.account.rules[rule].weight;
    if (weight === 0) {
      continue;
    }
    reasons.push({
      rule,
      points: Math.min(100, weight * count),
      detail: count === 1 ? `1 signal (${weight} points)` : `${count} signals × ${weight} points`,
    });
  }
  return { score: scoreOf(reasons), reasons };
}
