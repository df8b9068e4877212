import { type Currency, checkCurrencyCode, getCurrency } from "../money/currency.ts";
import { Decimal } from "../money/decimal.ts";
import {
  FieldErrors,
  isRecord,
  pointer,
  readDecimal,
  textProblem,
  type ValidationResult,
} from "./fields.ts";
import type { Price, PriceInput } from "./types.ts";
import { readPrice } from "./validate.ts";

/** A plan version as the catalogue API accepts and stores it (JSON, decimals as strings). */
export interface PlanVersionInput {
  /** ISO 4217 code of every amount in this version. */
  currency: string;
  /** Flat fee charged once per billing period (the period comes from the subscription). */
  baseFee?: string;
  /** ISO 8601 instant with a zone, from which this version applies: `2026-01-01T00:00:00Z`. */
  effectiveFrom: string;
  /** Meter prices keyed by meter key. */
  prices: Record<string, PriceInput>;
}

export interface PlanInput {
  key: string;
  name: string;
  /** Ordered by strictly increasing effectiveFrom. */
  versions: PlanVersionInput[];
}

/** A validated plan version, prices compiled for rating. */
export interface PlanVersion {
  readonly currency: Currency;
  /** Zero when the plan has no base fee. */
  readonly baseFee: Decimal;
  /** Canonical UTC form of the instant, e.g. `2026-01-01T00:00:00.000Z`. */
  readonly effectiveFrom: string;
  readonly effectiveFromMs: number;
  readonly prices: ReadonlyMap<string, Price>;
}

export interface Plan {
  readonly key: string;
  readonly name: string;
  readonly versions: readonly PlanVersion[];
}

/** Most meters one plan version may price. */
export const MAX_PRICES_PER_VERSION = 100;
export const MAX_PLAN_NAME_LENGTH = 200;

const KEY_SHAPE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const VERSION_FIELDS = ["currency", "baseFee", "effectiveFrom", "prices"] as const;
const PLAN_FIELDS = ["key", "name", "versions"] as const;

/**
 * Validates a plan version; field paths start at `path` (`/prices/tokens_in/tiers/2/upTo` for
 * the default ""). Reports every problem at once with PRICING_FIELD_CODES.
 */
export function validatePlanVersion(input: unknown, path = ""): ValidationResult<PlanVersion> {
  const errors = new FieldErrors();
  const version = readVersion(input, path, errors);
  if (version === undefined || errors.size > 0) {
    return { ok: false, errors: errors.list };
  }
  return { ok: true, value: version };
}

/**
 * Validates a whole plan: key, name and versions (at least one, effectiveFrom strictly
 * increasing). Version errors are reported under `/versions/<index>/...`.
 */
export function validatePlan(input: unknown): ValidationResult<Plan> {
  const errors = new FieldErrors();
  if (!isRecord(input)) {
    errors.add("", "INVALID_TYPE", "A plan must be a JSON object");
    return { ok: false, errors: errors.list };
  }
  errors.rejectUnknown(input, PLAN_FIELDS, "");
  const key = readKey(input.key, "/key", errors);
  const name = readName(input.name, "/name", errors);
  const versions: PlanVersion[] = [];
  const raw = input.versions;
  if (!Array.isArray(raw)) {
    errors.add("/versions", raw === undefined ? "REQUIRED" : "INVALID_TYPE");
  } else if (raw.length === 0) {
    errors.add("/versions", "NO_VERSIONS");
  } else {
    let previousMs: number | undefined;
    for (const [index, versionRaw] of raw.entries()) {
      const version = readVersion(versionRaw, pointer("/versions", index), errors);
      if (version === undefined) {
        previousMs = undefined;
        continue;
      }
      if (previousMs !== undefined && version.effectiveFromMs <= previousMs) {
        errors.add(pointer("/versions", index, "effectiveFrom"), "VERSIONS_NOT_ORDERED");
      }
      previousMs = version.effectiveFromMs;
      versions.push(version);
    }
  }
  if (errors.size > 0 || key === undefined || name === undefined) {
    return { ok: false, errors: errors.list };
  }
  return { ok: true, value: { key, name, versions } };
}

/** The version in effect at `atMs`: the latest one whose effectiveFrom is at or before it. */
export function planVersionAt(plan: Plan, atMs: number): PlanVersion | undefined {
  let found: PlanVersion | undefined;
  for (const version of plan.versions) {
    if (version.effectiveFromMs <= atMs) {
      found = version;
    }
  }
  return found;
}

function readVersion(input: unknown, path: string, errors: FieldErrors): PlanVersion | undefined {
  if (!isRecord(input)) {
    errors.add(path, "INVALID_TYPE", "A plan version must be a JSON object");
    return undefined;
  }
  errors.rejectUnknown(input, VERSION_FIELDS, path);
  const currencyError = checkCurrencyCode(input.currency, pointer(path, "currency"));
  if (currencyError !== null) {
    errors.list.push(currencyError);
  }
  const baseFee = readDecimal(input, "baseFee", path, errors, {
    kind: "price",
    sign: "nonNegative",
    required: false,
  });
  const effectiveFromMs = readInstant(input.effectiveFrom, pointer(path, "effectiveFrom"), errors);
  const prices = readPrices(input.prices, pointer(path, "prices"), errors);
  if (currencyError !== null || effectiveFromMs === undefined || prices === undefined) {
    return undefined;
  }
  return {
    currency: getCurrency(input.currency as string),
    baseFee: baseFee ?? Decimal.ZERO,
    effectiveFrom: new Date(effectiveFromMs).toISOString(),
    effectiveFromMs,
    prices,
  };
}

function readPrices(
  raw: unknown,
  path: string,
  errors: FieldErrors,
): Map<string, Price> | undefined {
  if (raw === undefined || raw === null) {
    errors.add(path, "REQUIRED", '"prices" is required; use {} for a plan with only a base fee');
    return undefined;
  }
  if (!isRecord(raw)) {
    errors.add(path, "INVALID_TYPE", '"prices" must be an object keyed by meter key');
    return undefined;
  }
  const entries = Object.entries(raw);
  if (entries.length > MAX_PRICES_PER_VERSION) {
    errors.add(path, "TOO_MANY_PRICES", `At most ${MAX_PRICES_PER_VERSION} priced meters`);
    return undefined;
  }
  const prices = new Map<string, Price>();
  for (const [meterKey, priceRaw] of entries) {
    const pricePath = pointer(path, meterKey);
    if (!KEY_SHAPE.test(meterKey)) {
      errors.add(pricePath, "INVALID_KEY", `Invalid meter key "${meterKey}"`);
      continue;
    }
    const price = readPrice(priceRaw, pricePath, errors);
    if (price !== undefined) {
      prices.set(meterKey, price);
    }
  }
  return prices;
}

function readKey(raw: unknown, field: string, errors: FieldErrors): string | undefined {
  if (raw === undefined || raw === null) {
    errors.add(field, "REQUIRED");
    return undefined;
  }
  if (typeof raw !== "string" || !KEY_SHAPE.test(raw)) {
    errors.add(field, "INVALID_KEY");
    return undefined;
  }
  return raw;
}

function readName(raw: unknown, field: string, errors: FieldErrors): string | undefined {
  if (raw === undefined || raw === null || raw === "") {
    errors.add(field, "REQUIRED");
    return undefined;
  }
  if (typeof raw !== "string") {
    errors.add(field, "INVALID_TYPE", "A plan name must be a string");
    return undefined;
  }
  if (raw.length > MAX_PLAN_NAME_LENGTH) {
    errors.add(field, "TOO_LONG", `At most ${MAX_PLAN_NAME_LENGTH} characters`);
    return undefined;
  }
  const problem = textProblem(raw);
  if (problem !== null) {
    errors.add(field, "INVALID_TEXT", problem);
    return undefined;
  }
  return raw;
}

const INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?(?:(Z)|([+-])(\d{2}):(\d{2}))$/;

/**
 * Reads an ISO 8601 instant that names its zone (`Z` or `±hh:mm`), up to millisecond precision,
 * rejecting impossible dates (`2026-02-30`) that Date.parse would silently roll over.
 */
function readInstant(raw: unknown, field: string, errors: FieldErrors): number | undefined {
  if (raw === undefined || raw === null) {
    errors.add(field, "REQUIRED");
    return undefined;
  }
  const match = typeof raw === "string" ? INSTANT.exec(raw) : null;
  if (match === null) {
    errors.add(field, "INVALID_INSTANT");
    return undefined;
  }
  // Groups 1-6 always match; Number() of them is a non-negative integer.
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const millis = Number((match[7] ?? "").padEnd(3, "0"));
  const offsetSign = match[9] === "-" ? -1 : 1;
  const offsetHours = Number(match[10] ?? 0);
  const offsetMinutes = Number(match[11] ?? 0);
  // Day 0 of the next month is the last day of this one.
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  // Before 1970 no plan existed, and Date.UTC would read years below 100 as 19xx.
  const valid =
    year >= 1970 &&
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    offsetHours <= 23 &&
    offsetMinutes <= 59;
  if (!valid) {
    errors.add(field, "INVALID_INSTANT", `${String(raw)} is not a real date and time`);
    return undefined;
  }
  const localMs = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  return localMs - offsetSign * (offsetHours * 60 + offsetMinutes) * 60_000;
}
