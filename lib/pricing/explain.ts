import { Decimal } from "../money/decimal.ts";
import { billableQuantity, findTier, rateTotal } from "./rate.ts";
import type { QuantityPrice } from "./types.ts";

/** One line of a rating breakdown, as an invoice shows it. */
export interface RatingLine {
  /**
   * - `included`: the part of the total covered by the free allowance (amount zero);
   * - `unit`: a per_unit price; `package`: a package price; `tier`: one graduated or volume tier.
   */
  kind: "included" | "unit" | "package" | "tier";
  /** Index into the price's tiers for `tier` lines, null otherwise. */
  tierIndex: number | null;
  /** Meter units this line covers. */
  quantity: Decimal;
  /** Started packages, for `package` lines; null otherwise. */
  packages: Decimal | null;
  /** Price per unit, or per package for `package` lines. */
  unitPrice: Decimal;
  flatFee: Decimal;
  /** `(packages ?? quantity) × unitPrice + flatFee`, full precision. */
  amount: Decimal;
}

/**
 * The breakdown of `rateTotal(price, quantity)`: the lines' amounts add up to it exactly.
 * Graduated prices give one line per tier the total has entered; volume prices one line for the
 * tier it landed in. A zero (or fully included) total gives no priced lines.
 */
export function explainTotal(price: QuantityPrice, quantity: Decimal): RatingLine[] {
  const lines: RatingLine[] = [];
  const included = price.includedQuantity;
  if (included.isPositive() && quantity.isPositive()) {
    lines.push(line("included", null, quantity.min(included), null, Decimal.ZERO, Decimal.ZERO));
  }
  const billable = billableQuantity(price, quantity);
  if (billable.isZero()) {
    return lines;
  }
  switch (price.model) {
    case "per_unit":
      lines.push(line("unit", null, billable, null, price.unitPrice, Decimal.ZERO));
      break;
    case "package": {
      const packages = billable.div(price.packageSize, 0, "CEILING");
      lines.push(line("package", null, billable, packages, price.packagePrice, Decimal.ZERO));
      break;
    }
    case "volume": {
      const tier = findTier(price, billable);
      lines.push(line("tier", tier.index, billable, null, tier.unitPrice, tier.flatFee));
      break;
    }
    case "graduated": {
      const last = findTier(price, billable);
      for (const tier of price.tiers.slice(0, last.index + 1)) {
        const top = tier === last ? billable : (tier.upTo as Decimal);
        lines.push(
          line("tier", tier.index, top.sub(tier.lower), null, tier.unitPrice, tier.flatFee),
        );
      }
      break;
    }
    default:
      // A percentage price reaching here is a caller bug; rateTotal throws the clear error.
      rateTotal(price, quantity);
  }
  return lines;
}

function line(
  kind: RatingLine["kind"],
  tierIndex: number | null,
  quantity: Decimal,
  packages: Decimal | null,
  unitPrice: Decimal,
  flatFee: Decimal,
): RatingLine {
  const amount = (packages ?? quantity).mul(unitPrice).add(flatFee);
  return { kind, tierIndex, quantity, packages, unitPrice, flatFee, amount };
}
