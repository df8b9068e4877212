import { riskAuditStatement } from "./audit.ts";
import type { RiskConfig, VersionedRiskConfig } from "./config.ts";
import { resolveRiskConfig } from "./config-store.ts";
import type { RiskDeps } from "./deps.ts";
import { applyTransitionEffects, retryNotificationsLater, runAfterResponse } from "./effects.ts";
import { changeLevel, lockAccountRisk, startLevelStatement, type Transition } from "./ladder.ts";
import { higherLevel, isRiskLevel, type RiskLevel } from "./levels.ts";
import { farmMessage } from "./messages.ts";
import type { Verdict } from "./rules.ts";
import {
  gatherSignupFacts,
  hashSignup,
  type SignupFacts,
  type SignupHashes,
  type SignupInput,
} from "./signup-facts.ts";
import { evaluateSignup, initialLevelFor } from "./signup-rules.ts";
import type { Statement } from "./sql-http.ts";

/** The outcome of a signup decision, as the API returns it. */
export interface SignupDecision extends Verdict {
  decisionId: string;
  configVersion: number;
  level: RiskLevel;
}

/** The statement remembering the signup's card, device and email links in Postgres. */
function linkStatement(accountId: string, hashes: SignupHashes, nowMs: number): Statement {
  const kinds = ["email"];
  const values = [hashes.email];
  if (hashes.card !== null) {
    kinds.push("card");
    values.push(hashes.card);
  }
  if (hashes.device !== null) {
    kinds.push("device");
    values.push(hashes.device);
  }
  return {
    text: `insert into risk_identities (kind, value_hash, account_id, first_seen_at)
           select kind, value_hash, $3, $4 from unnest($1::text[], $2::text[]) as t(kind, value_hash)
           on conflict do nothing`,
    params: [kinds, values, accountId, new Date(nowMs).toISOString()],
  };
}

/**
 * Scores a signup and records the decision: one Redis round trip for the facts, the pure rules,
 * then one Postgres round trip (SQL over HTTP, one transaction) that appends the audit record,
 * remembers the card/device/email links and, for anything but allow, starts the account above
 * normal on the ladder (challenge → watch, review → limited, deny → suspended). After the
 * response (deps.defer): the level mirror and platform notification of that start, and, when the
 * card or device is shared by a farm, a `risk.farm` message that flags every linked account.
 * Throws DEPENDENCY_UNAVAILABLE when Redis or Postgres is unreachable.
 */
export async function decideSignup(deps: RiskDeps, input: SignupInput): Promise<SignupDecision> {
  const nowMs = deps.clock.nowMs();
  const hashes = await hashSignup(input);
  const { facts, mirroredConfig } = await gatherSignupFacts(deps, input, hashes, nowMs);
  const versioned: VersionedRiskConfig = await resolveRiskConfig(
    mirroredConfig,
    deps.http,
    deps.redis,
  );
  const verdict = evaluateSignup(facts, versioned.config);
  const initial = initialLevelFor(verdict.decision);
  const audit = riskAuditStatement(deps.ids, {
    accountId: input.accountId,
    action: "decision.signup",
    actor: "system",
    reason: `Signup scored ${verdict.score}: ${verdict.decision}`,
    before: null,
    after: {
      decision: verdict.decision,
      score: verdict.score,
      configVersion: versioned.version,
      subject: {
        emailDomain: input.email.domain,
        emailHash: hashes.email,
        ipHash: hashes.ip,
        deviceHash: hashes.device,
        cardHash: hashes.card,
        country: input.country,
        asn: input.asn,
      },
    },
    reasons: verdict.reasons,
    atMs: nowMs,
  });
  const links = linkStatement(input.accountId, hashes, nowMs);
  const reason = `Signup decision ${verdict.decision} (score ${verdict.score})`;
  const start =
    initial === "normal"
      ? null
      : startLevelStatement(
          deps.ids,
          {
            accountId: input.accountId,
            to: initial,
            score: verdict.score,
            reasons: verdict.reasons,
            reason,
          },
          nowMs,
        );
  // One HTTP request, one transaction: the decision's record, its links, the account's start on
  // the ladder when it has no row yet, and the level it is at afterwards.
  const results = await deps.http.batch([
    audit.statement,
    links,
    ...(start ? [start.statement] : []),
    {
      text: "select level from account_risk where account_id = $1",
      params: [input.accountId],
    },
  ]);
  const levelRow = results[results.length - 1]?.rows[0] as { level?: unknown } | undefined;
  let level: RiskLevel = isRiskLevel(levelRow?.level) ? levelRow.level : "normal";
  let transition: Transition | null = null;
  if (start && (results[2]?.rowCount ?? 0) > 0) {
    transition = start.transition;
  } else if (start && higherLevel(level, initial) !== level) {
    // The account already had a ladder row below `initial`: raise it under the row lock.
    transition = await deps.db.transaction(async (tx) => {
      const current = await lockAccountRisk(tx, input.accountId, nowMs);
      const to = higherLevel(current.level, initial);
      if (to === current.level) {
        return null;
      }
      return changeLevel(tx, deps.ids, {
        current,
        to,
        score: verdict.score,
        reasons: verdict.reasons,
        actor: "system",
        reason,
        action: "level.raised",
        resetBaseline: false,
        nowMs,
      });
    });
    level = transition?.to ?? level;
  }
  const followUp = async () => {
    if (transition) {
      const effects = await applyTransitionEffects(
        deps,
        [transition],
        versioned.config.notifications.fallbackUrl,
      );
      await retryNotificationsLater(deps, effects.unpublished);
    }
    await enqueueFarmChecks(deps, facts, hashes, versioned.config);
  };
  await runAfterResponse(deps, followUp());
  return { ...verdict, decisionId: audit.id, configVersion: versioned.version, level };
}

async function enqueueFarmChecks(
  deps: RiskDeps,
  facts: SignupFacts,
  hashes: SignupHashes,
  config: RiskConfig,
): Promise<void> {
  const farms: ["card" | "device", string][] = [];
  if (hashes.card && (facts.accountsWithCard ?? 0) >= config.signup.rules.card_farm.threshold) {
    farms.push(["card", hashes.card]);
  }
  if (
    hashes.device &&
    (facts.accountsWithDevice ?? 0) >= config.signup.rules.device_farm.threshold
  ) {
    farms.push(["device", hashes.device]);
  }
  for (const [kind, hash] of farms) {
    const message = farmMessage(kind, hash);
    if (deps.work) {
      await deps.work.send(message);
    } else {
      deps.log.warn("no work queue; farm links not propagated", { kind });
    }
  }
}
