import { Decimal } from "../money/decimal.ts";
import type {
  CompiledTier,
  PackagePrice,
  PercentagePrice,
  PerUnitPrice,
  TieredPrice,
  TierInput,
} from "./types.ts";

/** The parts of a price validation has already checked, before precomputation. */
export interface Modifiers {
  includedQuantity: Decimal | undefined;
  minimumCharge: Decimal | undefined;
}

/** A tier as validation read it; `flatFee` undefined when the input had none. */
export interface ParsedTier {
  upTo: Decimal | null;
  unitPrice: Decimal;
  flatFee: Decimal | undefined;
}

function common(modifiers: Modifiers) {
  return {
    includedQuantity: modifiers.includedQuantity ?? Decimal.ZERO,
    minimumCharge: modifiers.minimumCharge ?? null,
  };
}

function modifiersInput(modifiers: Modifiers): {
  includedQuantity?: string;
  minimumCharge?: string;
} {
  const out: { includedQuantity?: string; minimumCharge?: string } = {};
  if (modifiers.includedQuantity !== undefined) {
    out.includedQuantity = modifiers.includedQuantity.toString();
  }
  if (modifiers.minimumCharge !== undefined) {
    out.minimumCharge = modifiers.minimumCharge.toString();
  }
  return out;
}

/** A compiled per_unit price from validated parts. */
export function buildPerUnit(unitPrice: Decimal, modifiers: Modifiers): PerUnitPrice {
  return {
    model: "per_unit",
    unitPrice,
    ...common(modifiers),
    input: { model: "per_unit", unitPrice: unitPrice.toString(), ...modifiersInput(modifiers) },
  };
}

/** A compiled package price from validated parts (packageSize > 0). */
export function buildPackage(
  packageSize: Decimal,
  packagePrice: Decimal,
  modifiers: Modifiers,
): PackagePrice {
  return {
    model: "package",
    packageSize,
    packagePrice,
    ...common(modifiers),
    input: {
      model: "package",
      packageSize: packageSize.toString(),
      packagePrice: packagePrice.toString(),
      ...modifiersInput(modifiers),
    },
  };
}

/**
 * Compiles validated tiers (bounds strictly increasing, last one open). For graduated prices it
 * precomputes `amountBelow`, the rated total at each tier's lower bound, so that rating any
 * quantity needs one multiplication instead of one per tier.
 */
export function buildTiered(
  model: "graduated" | "volume",
  parsed: readonly ParsedTier[],
  modifiers: Modifiers,
): TieredPrice {
  const tiers: CompiledTier[] = [];
  let lower = Decimal.ZERO;
  let amountBelow = Decimal.ZERO;
  for (const [index, tier] of parsed.entries()) {
    const flatFee = tier.flatFee ?? Decimal.ZERO;
    tiers.push({ index, lower, upTo: tier.upTo, unitPrice: tier.unitPrice, flatFee, amountBelow });
    if (tier.upTo !== null) {
      if (model === "graduated") {
        amountBelow = amountBelow.add(tier.upTo.sub(lower).mul(tier.unitPrice)).add(flatFee);
      }
      lower = tier.upTo;
    }
  }
  const tierInputs = parsed.map((tier): TierInput => {
    const out: TierInput = {
      upTo: tier.upTo?.toString() ?? null,
      unitPrice: tier.unitPrice.toString(),
    };
    if (tier.flatFee !== undefined) {
      out.flatFee = tier.flatFee.toString();
    }
    return out;
  });
  return {
    model,
    tiers,
    ...common(modifiers),
    input: { model, tiers: tierInputs, ...modifiersInput(modifiers) },
  };
}

/** A percentage price as validation read it. */
export interface ParsedPercentage {
  ratePercent: Decimal;
  minPerEvent: Decimal | undefined;
  maxPerEvent: Decimal | undefined;
  fixedPerEvent: Decimal | undefined;
  minimumCharge: Decimal | undefined;
}

/** A compiled percentage price; the rate is kept as an exact fraction (2.9 % → 0.029). */
export function buildPercentage(parsed: ParsedPercentage): PercentagePrice {
  const input: PercentagePrice["input"] = {
    model: "percentage",
    ratePercent: parsed.ratePercent.toString(),
  };
  for (const key of ["minPerEvent", "maxPerEvent", "fixedPerEvent", "minimumCharge"] as const) {
    const value = parsed[key];
    if (value !== undefined) {
      Object.assign(input, { [key]: value.toString() });
    }
  }
  return {
    model: "percentage",
    ratePercent: parsed.ratePercent,
    rate: parsed.ratePercent.movePoint(-2),
    minPerEvent: parsed.minPerEvent ?? null,
    maxPerEvent: parsed.maxPerEvent ?? null,
    fixedPerEvent: parsed.fixedPerEvent ?? Decimal.ZERO,
    includedQuantity: Decimal.ZERO,
    minimumCharge: parsed.minimumCharge ?? null,
    input,
  };
}
