import { AppError } from "../errors/app-error.ts";
import { Decimal } from "../money/decimal.ts";
import {
  buildPackage,
  buildPercentage,
  buildPerUnit,
  buildTiered,
  type Modifiers,
  type ParsedTier,
} from "./compile.ts";
import { FieldErrors, isRecord, pointer, readDecimal, type ValidationResult } from "./fields.ts";
import { PRICE_MODELS, type Price, type PriceModel } from "./types.ts";

/** Most tiers one price may have; real price sheets have a handful. */
export const MAX_TIERS = 100;

const QUANTITY_MODIFIERS = ["includedQuantity", "minimumCharge"] as const;

const FIELDS: Record<PriceModel, readonly string[]> = {
  per_unit: ["model", "unitPrice", ...QUANTITY_MODIFIERS],
  package: ["model", "packageSize", "packagePrice", ...QUANTITY_MODIFIERS],
  graduated: ["model", "tiers", ...QUANTITY_MODIFIERS],
  volume: ["model", "tiers", ...QUANTITY_MODIFIERS],
  // includedQuantity is listed so it is reported as MODIFIER_NOT_SUPPORTED, not as unknown.
  percentage: [
    "model",
    "ratePercent",
    "minPerEvent",
    "maxPerEvent",
    "fixedPerEvent",
    "minimumCharge",
    "includedQuantity",
  ],
};

const TIER_FIELDS = ["from", "upTo", "unitPrice", "flatFee"] as const;

const HUNDRED_PERCENT = Decimal.fromBigInt(100n);

/**
 * Validates a meter price given as JSON (see PriceInput) and compiles it for rating. Reports
 * every problem at once as FieldErrors whose paths start at `path`, e.g.
 * `/prices/tokens_in/tiers/2/upTo`, with the stable codes of PRICING_FIELD_CODES.
 */
export function validatePrice(input: unknown, path = ""): ValidationResult<Price> {
  const errors = new FieldErrors();
  const price = readPrice(input, path, errors);
  if (price === undefined || errors.size > 0) {
    return { ok: false, errors: errors.list };
  }
  return { ok: true, value: price };
}

/**
 * `validatePrice` for trusted input (fixtures, benchmarks, prices read back from storage):
 * throws AppError `VALIDATION_FAILED` carrying the field errors when the price is invalid.
 */
export function compilePrice(input: unknown): Price {
  const result = validatePrice(input);
  if (!result.ok) {
    throw new AppError("VALIDATION_FAILED", "The price is invalid", {
      fieldErrors: result.errors,
    });
  }
  return result.value;
}

/** Reads one price, reporting into `errors`; undefined when it cannot even be shaped. */
export function readPrice(input: unknown, path: string, errors: FieldErrors): Price | undefined {
  if (!isRecord(input)) {
    errors.add(path, "INVALID_TYPE", "A price must be a JSON object");
    return undefined;
  }
  const model = input.model;
  if (model === undefined || model === null) {
    errors.add(pointer(path, "model"), "REQUIRED", '"model" is required');
    return undefined;
  }
  if (typeof model !== "string" || !(PRICE_MODELS as readonly string[]).includes(model)) {
    errors.add(
      pointer(path, "model"),
      "UNKNOWN_MODEL",
      `Unknown pricing model ${JSON.stringify(model)}`,
    );
    return undefined;
  }
  const known = model as PriceModel;
  errors.rejectUnknown(input, FIELDS[known], path);
  if (known === "percentage") {
    return readPercentage(input, path, errors);
  }
  const modifiers: Modifiers = {
    includedQuantity: readDecimal(input, "includedQuantity", path, errors, {
      kind: "quantity",
      sign: "nonNegative",
      required: false,
    }),
    minimumCharge: readDecimal(input, "minimumCharge", path, errors, {
      kind: "price",
      sign: "nonNegative",
      required: false,
    }),
  };
  switch (known) {
    case "per_unit": {
      const unitPrice = readDecimal(input, "unitPrice", path, errors, PRICE_RULE);
      return unitPrice && buildPerUnit(unitPrice, modifiers);
    }
    case "package": {
      const packageSize = readDecimal(input, "packageSize", path, errors, {
        kind: "quantity",
        sign: "positive",
        required: true,
      });
      const packagePrice = readDecimal(input, "packagePrice", path, errors, PRICE_RULE);
      return packageSize && packagePrice && buildPackage(packageSize, packagePrice, modifiers);
    }
    case "graduated":
    case "volume": {
      const tiers = readTiers(input.tiers, pointer(path, "tiers"), errors);
      return tiers && buildTiered(known, tiers, modifiers);
    }
  }
}

const PRICE_RULE = { kind: "price", sign: "nonNegative", required: true } as const;
const OPTIONAL_PRICE_RULE = { kind: "price", sign: "nonNegative", required: false } as const;

function readTiers(raw: unknown, path: string, errors: FieldErrors): ParsedTier[] | undefined {
  if (raw === undefined || raw === null) {
    errors.add(path, "REQUIRED", '"tiers" is required');
    return undefined;
  }
  if (!Array.isArray(raw)) {
    errors.add(path, "INVALID_TYPE", '"tiers" must be an array');
    return undefined;
  }
  if (raw.length === 0) {
    errors.add(path, "NO_TIERS");
    return undefined;
  }
  if (raw.length > MAX_TIERS) {
    errors.add(path, "TOO_MANY_TIERS", `At most ${MAX_TIERS} tiers`);
    return undefined;
  }
  const parsed: ParsedTier[] = [];
  // The bound the next tier starts from; undefined once a bound could not be read, so that one
  // bad bound is reported once and not again as a gap in every later tier.
  let previousUpTo: Decimal | undefined = Decimal.ZERO;
  let complete = true;
  for (const [index, tierRaw] of raw.entries()) {
    const tierPath = pointer(path, index);
    const isLast = index === raw.length - 1;
    if (!isRecord(tierRaw)) {
      errors.add(tierPath, "INVALID_TYPE", "A tier must be a JSON object");
      complete = false;
      previousUpTo = undefined;
      continue;
    }
    errors.rejectUnknown(tierRaw, TIER_FIELDS, tierPath);
    const from = readDecimal(tierRaw, "from", tierPath, errors, {
      kind: "quantity",
      sign: "nonNegative",
      required: false,
    });
    if (from !== undefined && previousUpTo !== undefined) {
      const order = from.cmp(previousUpTo);
      if (order > 0) {
        errors.add(pointer(tierPath, "from"), "TIER_GAP", gapDetail(from, previousUpTo, index));
      } else if (order < 0) {
        errors.add(pointer(tierPath, "from"), "TIER_OVERLAP", gapDetail(from, previousUpTo, index));
      }
    }
    const upTo = readUpTo(tierRaw, tierPath, isLast, previousUpTo, index, errors);
    const unitPrice = readDecimal(tierRaw, "unitPrice", tierPath, errors, PRICE_RULE);
    const flatFee = readDecimal(tierRaw, "flatFee", tierPath, errors, OPTIONAL_PRICE_RULE);
    if (upTo === undefined || unitPrice === undefined) {
      complete = false;
    } else {
      parsed.push({ upTo, unitPrice, flatFee });
    }
    previousUpTo = upTo ?? undefined;
  }
  return complete ? parsed : undefined;
}

function gapDetail(from: Decimal, expected: Decimal, index: number): string {
  const previous = index === 0 ? "the first tier starts at" : "the previous tier ends at";
  return `"from" is ${from.toString()} but ${previous} ${expected.toString()}`;
}

/**
 * Reads a tier's upper bound: null (open) is only allowed on the last tier; bounds must be
 * positive and strictly increasing. Returns null for a valid open bound, undefined when invalid.
 */
function readUpTo(
  tier: Record<string, unknown>,
  tierPath: string,
  isLast: boolean,
  previousUpTo: Decimal | undefined,
  index: number,
  errors: FieldErrors,
): Decimal | null | undefined {
  const field = pointer(tierPath, "upTo");
  if (!("upTo" in tier)) {
    errors.add(field, "REQUIRED", '"upTo" is required; write null for the open-ended last tier');
    return undefined;
  }
  if (tier.upTo === null) {
    if (!isLast) {
      errors.add(field, "OPEN_TIER_NOT_LAST");
      return undefined;
    }
    return null;
  }
  const upTo = readDecimal(tier, "upTo", tierPath, errors, {
    kind: "quantity",
    sign: "positive",
    required: true,
  });
  if (upTo === undefined) {
    return undefined;
  }
  if (index > 0 && previousUpTo !== undefined && upTo.lte(previousUpTo)) {
    errors.add(
      field,
      "TIER_NOT_INCREASING",
      `"upTo" is ${upTo.toString()}, not above the previous tier's ${previousUpTo.toString()}`,
    );
    return undefined;
  }
  if (isLast) {
    errors.add(field, "LAST_TIER_NOT_OPEN");
    return undefined;
  }
  return upTo;
}

function readPercentage(
  input: Record<string, unknown>,
  path: string,
  errors: FieldErrors,
): Price | undefined {
  if (input.includedQuantity !== undefined) {
    errors.add(
      pointer(path, "includedQuantity"),
      "MODIFIER_NOT_SUPPORTED",
      "A percentage price is charged per event value; it has no free quantity allowance",
    );
  }
  const ratePercent = readDecimal(input, "ratePercent", path, errors, PRICE_RULE);
  if (ratePercent?.gt(HUNDRED_PERCENT)) {
    errors.add(pointer(path, "ratePercent"), "PERCENT_OUT_OF_RANGE");
  }
  const minPerEvent = readDecimal(input, "minPerEvent", path, errors, OPTIONAL_PRICE_RULE);
  const maxPerEvent = readDecimal(input, "maxPerEvent", path, errors, OPTIONAL_PRICE_RULE);
  if (minPerEvent !== undefined && maxPerEvent !== undefined && minPerEvent.gt(maxPerEvent)) {
    errors.add(pointer(path, "maxPerEvent"), "MIN_ABOVE_MAX");
  }
  const fixedPerEvent = readDecimal(input, "fixedPerEvent", path, errors, OPTIONAL_PRICE_RULE);
  const minimumCharge = readDecimal(input, "minimumCharge", path, errors, OPTIONAL_PRICE_RULE);
  if (ratePercent === undefined) {
    return undefined;
  }
  return buildPercentage({ ratePercent, minPerEvent, maxPerEvent, fixedPerEvent, minimumCharge });
}
