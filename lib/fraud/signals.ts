import type { Queryable } from "../adapters/postgres.ts";
import type { SignalKind } from "./account-score.ts";
import type { VersionedRiskConfig } from "./config.ts";
import { loadRiskConfig } from "./config-store.ts";
import type { RiskDeps } from "./deps.ts";
import { applyTransitionEffects, publishPendingNotifications } from "./effects.ts";
import { hashIdentifier } from "./identity.ts";
import { REDIS_KEYS } from "./keys.ts";
import { lockAccountRisk, type Transition } from "./ladder.ts";
import type { RiskLevel } from "./levels.ts";
import { readPlanFacts } from "./plan-facts.ts";
import { reassessAccount } from "./reassess.ts";
import type { RiskSignalInput } from "./signal-input.ts";
import { PipelinePlan, WINDOWS_MS } from "./velocity.ts";

/**
 * Recording signals: the API the Stripe webhook function uses (shape and Stripe mapping in
 * lib/fraud/signal-input.ts), also used for usage patterns, farms and miner deployments.
 */
export {
  type RiskSignalInput,
  RiskSignalSchema,
  type RiskSignalWire,
  signalFromWire,
} from "./signal-input.ts";

export type SignalOutcome =
  | {
      status: "recorded" | "duplicate";
      signalId: string;
      accountId: string;
      level: RiskLevel;
      score: number;
      transition: Transition | null;
      /** True when the platform notification could not be published yet (retry pending). */
      notificationPending: boolean;
    }
  | { status: "unknown_account" };

async function resolveAccount(db: Queryable, input: RiskSignalInput): Promise<string | null> {
  if (input.accountId) {
    return input.accountId;
  }
  if (!input.stripeCustomerId) {
    return null;
  }
  const { rows } = await db.query<{ id: string }>(
    "select id from accounts where stripe_customer_id = $1",
    [input.stripeCustomerId],
  );
  return rows[0]?.id ?? null;
}

/**
 * Counts a small failed charge in the card-testing windows (per account and per card) and says
 * whether either reached the configured threshold. Idempotent by the charge's source id.
 */
async function detectCardTesting(
  deps: RiskDeps,
  accountId: string,
  cardHash: string | null,
  input: RiskSignalInput,
  threshold: number,
): Promise<{ detected: boolean; accountCount: number; cardCount: number }> {
  const plan = new PipelinePlan(deps.redis);
  const member = input.sourceId;
  plan.count("account", {
    counter: "failed-small:acct",
    subject: accountId,
    member,
    atMs: input.occurredAtMs,
    windowMs: WINDOWS_MS.failedChargesPerAccount,
  });
  if (cardHash !== null) {
    plan.count("card", {
      counter: "failed-small:card",
      subject: cardHash,
      member,
      atMs: input.occurredAtMs,
      windowMs: WINDOWS_MS.failedChargesPerCard,
    });
  }
  const results = await plan.exec();
  const accountCount = results.number("account");
  const cardCount = results.number("card");
  return {
    detected: accountCount >= threshold || cardCount >= threshold,
    accountCount,
    cardCount,
  };
}

async function insertSignal(
  tx: Queryable,
  row: {
    id: string;
    accountId: string;
    kind: SignalKind;
    sourceId: string;
    cardHash: string | null;
    amountMinor: string | null;
    currency: string | null;
    occurredAtMs: number;
    nowMs: number;
    evidence: Record<string, unknown>;
  },
): Promise<{ inserted: boolean; id: string }> {
  const { rowCount } = await tx.query(
    `insert into risk_signals (id, account_id, kind, source_id, card_hash, amount_minor, currency,
                               occurred_at, recorded_at, evidence)
     values ($1, $2, $3, $4, $5, $6::bigint, $7, $8, $9, $10)
     on conflict (account_id, kind, source_id) do nothing`,
    [
      row.id,
      row.accountId,
      row.kind,
      row.sourceId,
      row.cardHash,
      row.amountMinor,
      row.currency,
      new Date(row.occurredAtMs).toISOString(),
      new Date(row.nowMs).toISOString(),
      JSON.stringify(row.evidence),
    ],
  );
  if (rowCount > 0) {
    return { inserted: true, id: row.id };
  }
  const { rows } = await tx.query<{ id: string }>(
    "select id from risk_signals where account_id = $1 and kind = $2 and source_id = $3",
    [row.accountId, row.kind, row.sourceId],
  );
  return { inserted: false, id: rows[0]?.id ?? row.id };
}

/**
 * Records one signal and applies it: stores it (once per account, kind and source id), detects
 * card testing on small failed charges (a derived `velocity.card_testing` signal), rescores the
 * account and raises its level if the score calls for it, all in one transaction; then mirrors
 * the level to Redis and notifies the platform. A duplicate changes nothing and reports the
 * current state. Returns `unknown_account` when a Stripe customer id matches no account.
 * Throws DEPENDENCY_UNAVAILABLE (retryable) when Postgres or Redis is unreachable.
 */
export async function recordRiskSignal(
  deps: RiskDeps,
  input: RiskSignalInput,
  preloaded?: VersionedRiskConfig,
): Promise<SignalOutcome> {
  const versioned = preloaded ?? (await loadRiskConfig(deps));
  const { config } = versioned;
  const accountId = await resolveAccount(deps.http, input);
  if (accountId === null) {
    return { status: "unknown_account" };
  }
  const nowMs = deps.clock.nowMs();
  const cardHash = input.cardFingerprint
    ? await hashIdentifier("card", input.cardFingerprint)
    : null;
  const evidence: Record<string, unknown> = { ...(input.evidence ?? {}) };
  if (input.kind === "usage.sustained_cpu") {
    const plan = await readPlanFacts(deps.http, accountId, input.occurredAtMs);
    evidence.freeTier = plan.freeTier;
    evidence.planId = plan.planId;
  }
  let cardTesting: Awaited<ReturnType<typeof detectCardTesting>> | null = null;
  if (
    input.kind === "stripe.charge_failed" &&
    input.amountMinor !== null &&
    input.amountMinor !== undefined &&
    BigInt(input.amountMinor) <= BigInt(config.account.smallChargeMaxMinor)
  ) {
    cardTesting = await detectCardTesting(
      deps,
      accountId,
      cardHash,
      input,
      config.account.rules.card_testing.threshold,
    );
  }

  const outcome = await deps.db.transaction(async (tx) => {
    const signal = await insertSignal(tx, {
      id: deps.ids.next("risk"),
      accountId,
      kind: input.kind,
      sourceId: input.sourceId,
      cardHash,
      amountMinor: input.amountMinor ?? null,
      currency: input.currency ?? null,
      occurredAtMs: input.occurredAtMs,
      nowMs,
      evidence,
    });
    let derived = false;
    if (cardTesting?.detected) {
      // One card-testing signal per account and hour of the burst, however many charges follow.
      const hour = Math.floor(input.occurredAtMs / 3_600_000);
      const derivedSignal = await insertSignal(tx, {
        id: deps.ids.next("risk"),
        accountId,
        kind: "velocity.card_testing",
        sourceId: `card-testing:${hour}`,
        cardHash,
        amountMinor: null,
        currency: null,
        occurredAtMs: input.occurredAtMs,
        nowMs,
        evidence: {
          smallFailedChargesOnAccount: cardTesting.accountCount,
          smallFailedChargesOnCard: cardTesting.cardCount,
          threshold: config.account.rules.card_testing.threshold,
          windowMinutes: WINDOWS_MS.failedChargesPerAccount / 60_000,
        },
      });
      derived = derivedSignal.inserted;
    }
    if (!signal.inserted && !derived) {
      const current = await lockAccountRisk(tx, accountId, nowMs);
      return { signalId: signal.id, inserted: false, risk: current, transition: null };
    }
    const trigger = derived ? "card testing was detected" : `a ${input.kind} signal`;
    const { risk, transition } = await reassessAccount(
      tx,
      deps.ids,
      accountId,
      versioned,
      trigger,
      nowMs,
    );
    return { signalId: signal.id, inserted: signal.inserted, risk, transition };
  });

  let notificationPending = false;
  const transitions = outcome.transition ? [outcome.transition] : [];
  if (cardTesting?.detected || input.kind === "stripe.early_fraud_warning") {
    if (cardHash !== null) {
      await deps.redis.sadd(REDIS_KEYS.flagged("card"), cardHash);
    }
  }
  if (transitions.length > 0) {
    const effects = await applyTransitionEffects(
      deps,
      transitions,
      config.notifications.fallbackUrl,
    );
    notificationPending = effects.unpublished.length > 0;
  } else if (!outcome.inserted) {
    // A redelivery: finish what an earlier attempt may have left undone.
    try {
      await publishPendingNotifications(deps, accountId, config.notifications.fallbackUrl);
    } catch (error) {
      deps.log.warn("risk notification not published; will retry", { accountId, error });
      notificationPending = true;
    }
  }
  return {
    status: outcome.inserted ? "recorded" : "duplicate",
    signalId: outcome.signalId,
    accountId,
    level: outcome.risk.level,
    score: outcome.risk.score,
    transition: outcome.transition,
    notificationPending,
  };
}
