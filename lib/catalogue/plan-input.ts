import type { Queryable } from "../adapters/postgres.ts";
import type { Plan, PlanVersion } from "../pricing/plan.ts";
import { MAX_PRICES_PER_VERSION, validatePlan, validatePlanVersion } from "../pricing/plan.ts";
import type { PriceInput } from "../pricing/types.ts";
import { CatalogueErrors, isRecord, pointer } from "./fields.ts";
import { earliestEffectiveMs } from "./lead-time.ts";
import { meterAggregations } from "./meters.ts";

/** A plan version ready to store: amounts as canonical decimal text, prices as canonical JSON. */
export interface PlanVersionRecord {
  currency: string;
  baseFee: string;
  effectiveFromMs: number;
  prices: Record<string, PriceInput>;
}

/** A new plan ready to store. */
export interface PlanRecord {
  key: string;
  name: string;
  versions: PlanVersionRecord[];
}

function toRecord(version: PlanVersion): PlanVersionRecord {
  const prices: Record<string, PriceInput> = {};
  for (const [meterKey, price] of version.prices) {
    prices[meterKey] = price.input;
  }
  return {
    currency: version.currency.code,
    baseFee: version.baseFee.normalize().toString(),
    effectiveFromMs: version.effectiveFromMs,
    prices,
  };
}

/**
 * Checks the meters a version prices, reading the raw input so they are reported even when the
 * version has other errors: every meter must exist (UNKNOWN_METER), and per-event take rates
 * need a meter whose events carry a value (PRICE_NOT_SUPPORTED for count and unique_count).
 */
async function checkPricedMeters(
  db: Queryable,
  versions: { path: string; raw: unknown }[],
  errors: CatalogueErrors,
): Promise<void> {
  const wanted = new Set<string>();
  for (const { raw } of versions) {
    // Past the limit lib/pricing reports TOO_MANY_PRICES; a hundred UNKNOWN_METERs add nothing.
    if (
      isRecord(raw) &&
      isRecord(raw.prices) &&
      Object.keys(raw.prices).length <= MAX_PRICES_PER_VERSION
    ) {
      for (const key of Object.keys(raw.prices)) {
        wanted.add(key);
      }
    }
  }
  const aggregations = await meterAggregations(db, [...wanted]);
  for (const { path, raw } of versions) {
    if (!isRecord(raw) || !isRecord(raw.prices)) {
      continue;
    }
    if (Object.keys(raw.prices).length > MAX_PRICES_PER_VERSION) {
      continue;
    }
    for (const [meterKey, price] of Object.entries(raw.prices)) {
      const field = pointer(path, "prices", meterKey);
      const aggregation = aggregations.get(meterKey);
      if (aggregation === undefined) {
        errors.add(field, "UNKNOWN_METER", `No meter has the key ${JSON.stringify(meterKey)}`);
      } else if (
        isRecord(price) &&
        price.model === "percentage" &&
        (aggregation === "count" || aggregation === "unique_count")
      ) {
        errors.add(
          pointer(field, "model"),
          "PRICE_NOT_SUPPORTED",
          `A percentage price needs event values; ${meterKey} is a ${aggregation} meter`,
        );
      }
    }
  }
}

function checkWholeSecond(version: PlanVersion, path: string, errors: CatalogueErrors): void {
  if (version.effectiveFromMs % 1000 !== 0) {
    errors.add(pointer(path, "effectiveFrom"), "NOT_WHOLE_SECOND");
  }
}

/**
 * Validates a new plan `{ key, name, versions: [...] }`: each version by lib/pricing (tiers,
 * gaps, overlaps, precision; paths like `/versions/0/prices/<meter>/tiers/2/upTo`), one currency
 * for every version, whole-second effective times, and priced meters that exist. The first
 * version's `effectiveFrom` defaults to `nowMs` (its whole second): a new plan prices no account yet, so no lead
 * time applies. Throws VALIDATION_FAILED with every problem at once.
 */
export async function parsePlanCreate(
  db: Queryable,
  input: unknown,
  nowMs: number,
): Promise<PlanRecord> {
  const errors = new CatalogueErrors();
  let body = input;
  if (isRecord(input) && Array.isArray(input.versions)) {
    const [first, ...rest] = input.versions as unknown[];
    if (isRecord(first) && first.effectiveFrom === undefined) {
      const startMs = Math.floor(nowMs / 1000) * 1000;
      const defaulted = { ...first, effectiveFrom: new Date(startMs).toISOString() };
      body = { ...input, versions: [defaulted, ...rest] };
    }
  }
  const result = validatePlan(body);
  let plan: Plan | undefined;
  if (result.ok) {
    plan = result.value;
  } else {
    errors.addAll(result.errors);
  }
  const rawVersions =
    isRecord(body) && Array.isArray(body.versions) ? (body.versions as unknown[]) : [];
  await checkPricedMeters(
    db,
    rawVersions.map((raw, index) => ({ path: pointer("/versions", index), raw })),
    errors,
  );
  if (plan !== undefined) {
    const currency = plan.versions[0]?.currency.code;
    for (const [index, version] of plan.versions.entries()) {
      const path = pointer("/versions", index);
      checkWholeSecond(version, path, errors);
      if (version.currency.code !== currency) {
        errors.add(
          pointer(path, "currency"),
          "CURRENCY_MISMATCH",
          `Every version of a plan uses one currency: ${currency}`,
        );
      }
    }
  }
  errors.throwIfAny("The plan is invalid");
  const valid = plan as Plan;
  return { key: valid.key, name: valid.name, versions: valid.versions.map(toRecord) };
}

/** What a new version must follow: the plan's currency and its latest scheduled version. */
export interface VersionContext {
  currency: string;
  latestEffectiveFromMs: number;
}

/**
 * Validates a new version of an existing plan (`{ currency?, baseFee?, prices, effectiveFrom }`,
 * `currency` defaulting to the plan's). On top of the plan rules, it must take effect at least
 * CATALOGUE_LEAD_SECONDS after `nowMs` (EFFECTIVE_TOO_SOON) and after the plan's latest version
 * (NOT_AFTER_LATEST). Throws VALIDATION_FAILED with every problem at once.
 */
export async function parsePlanVersion(
  db: Queryable,
  input: unknown,
  plan: VersionContext,
  nowMs: number,
): Promise<PlanVersionRecord> {
  const errors = new CatalogueErrors();
  const body =
    isRecord(input) && input.currency === undefined ? { ...input, currency: plan.currency } : input;
  const result = validatePlanVersion(body);
  let version: PlanVersion | undefined;
  if (result.ok) {
    version = result.value;
  } else {
    errors.addAll(result.errors);
  }
  await checkPricedMeters(db, [{ path: "", raw: body }], errors);
  if (version !== undefined) {
    checkWholeSecond(version, "", errors);
    if (version.currency.code !== plan.currency) {
      errors.add("/currency", "CURRENCY_MISMATCH", `The plan's currency is ${plan.currency}`);
    }
    const earliestMs = earliestEffectiveMs(nowMs);
    if (version.effectiveFromMs < earliestMs) {
      errors.add(
        "/effectiveFrom",
        "EFFECTIVE_TOO_SOON",
        `A new version takes effect at ${new Date(earliestMs).toISOString()} or later`,
      );
    } else if (version.effectiveFromMs <= plan.latestEffectiveFromMs) {
      errors.add(
        "/effectiveFrom",
        "NOT_AFTER_LATEST",
        `The latest version takes effect at ${new Date(plan.latestEffectiveFromMs).toISOString()}`,
      );
    }
  }
  errors.throwIfAny("The plan version is invalid");
  return toRecord(version as PlanVersion);
}
