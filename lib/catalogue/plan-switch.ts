import type { Queryable } from "../adapters/postgres.ts";
import type { AccountState } from "./account-input.ts";
import { CatalogueErrors, readEffectiveInstant, readText, requireObject } from "./fields.ts";
import { earliestEffectiveMs } from "./lead-time.ts";

interface AssignmentRow {
  plan_id: string;
  effective_from: Date;
}

/** The plan switch a caller asks for: `{ planId, effectiveFrom }`. */
export interface PlanSwitchDraft {
  planId: string;
  effectiveFromMs: number;
}

/**
 * Validates the shape of a plan switch; the store checks the plan, the currency and the timing
 * (CATALOGUE_LEAD_SECONDS ahead, after the latest scheduled switch).
 */
export function parsePlanSwitch(input: unknown): PlanSwitchDraft {
  const errors = new CatalogueErrors();
  const body = requireObject(input);
  errors.rejectUnknown(body, ["planId", "effectiveFrom"], "");
  const planId = readText(body, "planId", errors, { required: true, maxLength: 64 });
  const effectiveFromMs = readEffectiveInstant(body.effectiveFrom, "/effectiveFrom", errors);
  errors.throwIfAny("The plan switch is invalid");
  return { planId: planId as string, effectiveFromMs: effectiveFromMs as number };
}

/**
 * Checks that `planId` can price an account in `currency` from `fromMs`: the plan exists
 * (UNKNOWN_PLAN), uses that currency (CURRENCY_MISMATCH) and has a version in effect then
 * (PLAN_NOT_IN_EFFECT). Reports into `errors` at the given fields.
 */
export async function checkPlanFits(
  db: Queryable,
  planId: string,
  currency: string,
  fromMs: number,
  fields: { plan: string; time: string },
  errors: CatalogueErrors,
): Promise<void> {
  const { rows } = await db.query<{ currency: string; first_ms: string }>(
    `select min(currency) as currency,
            (extract(epoch from min(effective_from)) * 1000)::bigint::text as first_ms
       from plan_versions where plan_id = $1`,
    [planId],
  );
  const row = rows[0];
  if (!row || row.currency === null) {
    errors.add(fields.plan, "UNKNOWN_PLAN", `No plan has the id ${JSON.stringify(planId)}`);
    return;
  }
  const planCurrency = row.currency.trim();
  if (planCurrency !== currency) {
    errors.add(
      fields.plan,
      "CURRENCY_MISMATCH",
      `The plan is priced in ${planCurrency}; the account pays in ${currency}`,
    );
  }
  const firstMs = Number(row.first_ms);
  if (firstMs > fromMs) {
    errors.add(
      fields.time,
      "PLAN_NOT_IN_EFFECT",
      `The plan's first version takes effect at ${new Date(firstMs).toISOString()}`,
    );
  }
}

/**
 * Schedules a plan switch for an account locked with `lockAccount`, in the caller's
 * transaction. Field errors (422): the plan must exist, share the account's currency and have a
 * version in effect at the switch; the switch must lie CATALOGUE_LEAD_SECONDS ahead
 * (EFFECTIVE_TOO_SOON), after the latest scheduled switch (NOT_AFTER_LATEST), and change the
 * plan (SAME_PLAN). Bumps the account's configuration revision.
 */
export async function schedulePlanSwitch(
  tx: Queryable,
  account: AccountState,
  draft: PlanSwitchDraft,
  nowMs: number,
): Promise<void> {
  const errors = new CatalogueErrors();
  const fields = { plan: "/planId", time: "/effectiveFrom" };
  await checkPlanFits(tx, draft.planId, account.currency, draft.effectiveFromMs, fields, errors);
  const earliestMs = earliestEffectiveMs(nowMs);
  const [latest] = (
    await tx.query<AssignmentRow>(
      `select plan_id, effective_from from account_plans
        where account_id = $1 order by effective_from desc limit 1`,
      [account.id],
    )
  ).rows;
  if (draft.effectiveFromMs < earliestMs) {
    errors.add(
      "/effectiveFrom",
      "EFFECTIVE_TOO_SOON",
      `A plan switch takes effect at ${new Date(earliestMs).toISOString()} or later`,
    );
  } else if (latest && draft.effectiveFromMs <= latest.effective_from.getTime()) {
    errors.add(
      "/effectiveFrom",
      "NOT_AFTER_LATEST",
      `The latest switch takes effect at ${latest.effective_from.toISOString()}`,
    );
  }
  if (latest && latest.plan_id === draft.planId) {
    errors.add("/planId", "SAME_PLAN", `The account is already on ${draft.planId} by then`);
  }
  errors.throwIfAny("The plan switch is invalid");
  await tx.query(
    `insert into account_plans (account_id, plan_id, effective_from, created_at)
     values ($1, $2, to_timestamp($3 / 1000.0), to_timestamp($4 / 1000.0))`,
    [account.id, draft.planId, draft.effectiveFromMs, nowMs],
  );
  await tx.query(
    `update accounts set config_revision = config_revision + 1, updated_at = to_timestamp($2 / 1000.0)
      where id = $1`,
    [account.id, nowMs],
  );
}
