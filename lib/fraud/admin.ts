import { loadRiskConfig } from "./config-store.ts";
import type { RiskDeps } from "./deps.ts";
import { applyTransitionEffects } from "./effects.ts";
import { type AccountRisk, changeLevel, lockAccountRisk, type Transition } from "./ladder.ts";
import type { RiskLevel } from "./levels.ts";

/**
 * An admin decision on an account's level, up or down, with the reason a reviewer gave. It
 * also sets the account's baseline: signals recorded before it were weighed by the admin and no
 * longer count towards the score, so a resolved case does not push the account straight back
 * up. Always audited, even when the level stays; notified to the platform when it changes.
 */
export async function setLevelByAdmin(
  deps: RiskDeps,
  input: { accountId: string; level: RiskLevel; reason: string; actor: string },
): Promise<{ risk: AccountRisk; transition: Transition | null; notificationPending: boolean }> {
  const { config } = await loadRiskConfig(deps);
  const nowMs = deps.clock.nowMs();
  const { risk, transition } = await deps.db.transaction(async (tx) => {
    const current = await lockAccountRisk(tx, input.accountId, nowMs);
    const moved = await changeLevel(tx, deps.ids, {
      current,
      to: input.level,
      score: 0,
      reasons: [],
      actor: input.actor,
      reason: input.reason,
      action: "level.set",
      resetBaseline: true,
      nowMs,
    });
    const after: AccountRisk = {
      ...current,
      level: input.level,
      score: 0,
      reasons: [],
      baselineAtMs: nowMs,
      levelSinceMs: moved ? nowMs : current.levelSinceMs,
      updatedAtMs: nowMs,
    };
    return { risk: after, transition: moved };
  });
  let notificationPending = false;
  if (transition) {
    const effects = await applyTransitionEffects(
      deps,
      [transition],
      config.notifications.fallbackUrl,
    );
    notificationPending = effects.unpublished.length > 0;
  }
  return { risk, transition, notificationPending };
}
