import { isQuantityPrice } from "../../../lib/pricing/rate.ts";
import type {
  GraduatedPriceInput,
  PercentagePrice,
  PercentagePriceInput,
  PriceInput,
  QuantityPrice,
  VolumePriceInput,
} from "../../../lib/pricing/types.ts";
import { compilePrice } from "../../../lib/pricing/validate.ts";

/** Compiles a quantity-priced input, failing the test if it is invalid or a percentage price. */
export function quantityPrice(input: Exclude<PriceInput, PercentagePriceInput>): QuantityPrice {
  const price = compilePrice(input);
  if (!isQuantityPrice(price)) {
    throw new Error(`expected a quantity price, got ${price.model}`);
  }
  return price;
}

export function percentagePrice(input: PercentagePriceInput): PercentagePrice {
  const price = compilePrice(input);
  if (price.model !== "percentage") {
    throw new Error(`expected a percentage price, got ${price.model}`);
  }
  return price;
}

/** The brief's graduated example: [0–1,000 @ 0.002, 1,001–10,000 @ 0.0015, 10,001+ @ 0.001]. */
export const GRADUATED_API: GraduatedPriceInput = {
  model: "graduated",
  tiers: [
    { from: "0", upTo: "1000", unitPrice: "0.002" },
    { from: "1000", upTo: "10000", unitPrice: "0.0015" },
    { from: "10000", upTo: null, unitPrice: "0.001" },
  ],
};

/** The brief's volume example: [0–100 @ 1.00, 101+ @ 0.90 with a flat fee of 5.00]. */
export const VOLUME_WITH_FEE: VolumePriceInput = {
  model: "volume",
  tiers: [
    { upTo: "100", unitPrice: "1.00" },
    { upTo: null, unitPrice: "0.90", flatFee: "5.00" },
  ],
};
