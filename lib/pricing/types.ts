import type { Decimal } from "../money/decimal.ts";

/** The pricing models a meter price can use. */
export type PriceModel = "per_unit" | "package" | "graduated" | "volume" | "percentage";

export const PRICE_MODELS: readonly PriceModel[] = [
  "per_unit",
  "package",
  "graduated",
  "volume",
  "percentage",
];

// JSON input shapes: what the catalogue API accepts and stores. Every number is a decimal string.

/** Modifiers that any quantity-priced meter may carry. */
export interface QuantityModifiersInput {
  /** Free allowance per period: the model prices max(total − includedQuantity, 0). */
  includedQuantity?: string;
  /** Commitment per period, topped up on the invoice; never part of real-time rating. */
  minimumCharge?: string;
}

export interface PerUnitPriceInput extends QuantityModifiersInput {
  model: "per_unit";
  unitPrice: string;
}

export interface PackagePriceInput extends QuantityModifiersInput {
  model: "package";
  /** Units in one package; every started package is charged in full. */
  packageSize: string;
  packagePrice: string;
}

export interface TierInput {
  /** Optional, for readability: must equal the previous tier's `upTo` (0 for the first). */
  from?: string;
  /** Upper bound, inclusive; `null` only on the last tier, which is open-ended. */
  upTo: string | null;
  unitPrice: string;
  /** Charged once when the quantity enters the tier (graduated) or lands in it (volume). */
  flatFee?: string;
}

export interface GraduatedPriceInput extends QuantityModifiersInput {
  model: "graduated";
  tiers: TierInput[];
}

export interface VolumePriceInput extends QuantityModifiersInput {
  model: "volume";
  tiers: TierInput[];
}

export interface PercentagePriceInput {
  model: "percentage";
  /** Take rate in percent of each event's value: "2.9" means 2.9 %. */
  ratePercent: string;
  minPerEvent?: string;
  maxPerEvent?: string;
  fixedPerEvent?: string;
  minimumCharge?: string;
}

export type PriceInput =
  | PerUnitPriceInput
  | PackagePriceInput
  | GraduatedPriceInput
  | VolumePriceInput
  | PercentagePriceInput;

// Compiled prices: parsed once, with everything rating needs precomputed.

interface PriceCommon {
  /** Zero when the price has no free allowance (always zero for percentage prices). */
  readonly includedQuantity: Decimal;
  /** The period commitment, or null; see commitmentTopUp. */
  readonly minimumCharge: Decimal | null;
  /** The canonical JSON form: decimals normalised, `from` dropped, absent options omitted. */
  readonly input: PriceInput;
}

export interface PerUnitPrice extends PriceCommon {
  readonly model: "per_unit";
  readonly unitPrice: Decimal;
}

export interface PackagePrice extends PriceCommon {
  readonly model: "package";
  readonly packageSize: Decimal;
  readonly packagePrice: Decimal;
}

export interface CompiledTier {
  readonly index: number;
  /** Exclusive lower bound: the previous tier's upTo, 0 for the first. */
  readonly lower: Decimal;
  /** Inclusive upper bound; null for the open-ended last tier. */
  readonly upTo: Decimal | null;
  readonly unitPrice: Decimal;
  /** Zero when the tier has none. */
  readonly flatFee: Decimal;
  /**
   * Graduated only: the amount of every earlier tier in full, flat fees included, i.e. the
   * rated total at `lower`. Precomputed so rating a total touches one tier, not all of them.
   */
  readonly amountBelow: Decimal;
}

export interface TieredPrice extends PriceCommon {
  readonly model: "graduated" | "volume";
  readonly tiers: readonly CompiledTier[];
}

export interface PercentagePrice extends PriceCommon {
  readonly model: "percentage";
  readonly ratePercent: Decimal;
  /** ratePercent / 100, exact. */
  readonly rate: Decimal;
  readonly minPerEvent: Decimal | null;
  readonly maxPerEvent: Decimal | null;
  /** Zero when absent. */
  readonly fixedPerEvent: Decimal;
}

/** Prices whose amount is a function of the period's total quantity. */
export type QuantityPrice = PerUnitPrice | PackagePrice | TieredPrice;

/** A validated, compiled meter price. */
export type Price = QuantityPrice | PercentagePrice;
