import { Decimal } from "../money/decimal.ts";
import type { CompiledTier, PercentagePrice, Price, QuantityPrice, TieredPrice } from "./types.ts";

/** True for prices rated by total quantity (everything but percentage). */
export function isQuantityPrice(price: Price): price is QuantityPrice {
  return price.model !== "percentage";
}

/**
 * The quantity the model prices: `max(quantity − includedQuantity, 0)`. A period total at or
 * below zero (possible after corrections) bills nothing; rating never issues credits.
 */
export function billableQuantity(price: QuantityPrice, quantity: Decimal): Decimal {
  const billable = price.includedQuantity.isZero()
    ? quantity
    : quantity.sub(price.includedQuantity);
  return billable.isPositive() ? billable : Decimal.ZERO;
}

/**
 * The tier a positive billable quantity falls in: the first whose inclusive `upTo` is at or
 * above it (the last tier is open). Tier counts are small, so a linear scan beats a search.
 */
export function findTier(price: TieredPrice, billable: Decimal): CompiledTier {
  const { tiers } = price;
  const last = tiers.length - 1;
  for (let i = 0; i < last; i += 1) {
    const tier = tiers[i] as CompiledTier;
    if (billable.lte(tier.upTo as Decimal)) {
      return tier;
    }
  }
  return tiers[last] as CompiledTier;
}

/** Full-precision amount of a positive billable quantity lying in `tier`. */
function tieredAmount(price: TieredPrice, tier: CompiledTier, billable: Decimal): Decimal {
  if (price.model === "graduated") {
    return tier.amountBelow.add(billable.sub(tier.lower).mul(tier.unitPrice)).add(tier.flatFee);
  }
  return billable.mul(tier.unitPrice).add(tier.flatFee);
}

function amountOfBillable(price: QuantityPrice, billable: Decimal): Decimal {
  if (billable.isZero()) {
    return Decimal.ZERO;
  }
  switch (price.model) {
    case "per_unit":
      return billable.mul(price.unitPrice);
    case "package":
      return billable.div(price.packageSize, 0, "CEILING").mul(price.packagePrice);
    case "graduated":
    case "volume":
      return tieredAmount(price, findTier(price, billable), billable);
    default:
      return notQuantityPriced(price);
  }
}

function notQuantityPriced(price: never): never {
  const model = (price as Price).model;
  throw new TypeError(`A ${model} price is rated per event (ratePerEvent), not by total quantity`);
}

/**
 * The amount for a period's total `quantity`, at full precision (never rounded: rounding happens
 * once per invoice line, see roundInvoiceLine). Zero quantity, and any total within the included
 * quantity, rates to zero; flat fees need usage in their tier.
 *
 * - per_unit: billable × unitPrice.
 * - package: ceil(billable / packageSize) × packagePrice (every started package).
 * - graduated: each tier prices the units inside it; a tier's flat fee once the total enters it.
 * - volume: the whole billable quantity at the tier it lands in, plus that tier's flat fee.
 *
 * Throws TypeError for a percentage price, which has no total-quantity rating.
 */
export function rateTotal(price: QuantityPrice, quantity: Decimal): Decimal {
  return amountOfBillable(price, billableQuantity(price, quantity));
}

/**
 * The marginal amount of moving the period total from `before` to `after`:
 * exactly `rateTotal(after) − rateTotal(before)`, so any sequence of increments sums to the
 * rating of the final total. Negative when usage is corrected downwards or when a volume price
 * crosses into a cheaper tier, and returned as such.
 *
 * Hot path (called inside the meter's ingestion transaction): when both totals fall in the same
 * tier it costs one subtraction and one multiplication.
 */
export function rateIncrement(price: QuantityPrice, before: Decimal, after: Decimal): Decimal {
  const billableBefore = billableQuantity(price, before);
  const billableAfter = billableQuantity(price, after);
  if (price.model === "per_unit") {
    return billableAfter.sub(billableBefore).mul(price.unitPrice);
  }
  if (
    (price.model === "graduated" || price.model === "volume") &&
    billableBefore.isPositive() &&
    billableAfter.isPositive()
  ) {
    const tierBefore = findTier(price, billableBefore);
    const tierAfter = findTier(price, billableAfter);
    if (tierBefore === tierAfter) {
      // Same tier: base amount and flat fee cancel out of the difference.
      return billableAfter.sub(billableBefore).mul(tierAfter.unitPrice);
    }
    return tieredAmount(price, tierAfter, billableAfter).sub(
      tieredAmount(price, tierBefore, billableBefore),
    );
  }
  return amountOfBillable(price, billableAfter).sub(amountOfBillable(price, billableBefore));
}

/**
 * The fee for one event of a percentage price, at full precision:
 * `|value| × ratePercent / 100 + fixedPerEvent`, then raised to `minPerEvent` and capped at
 * `maxPerEvent`. A zero value costs nothing, and a negative value (a refund) reverses exactly the
 * fee its positive counterpart would have cost.
 */
export function ratePerEvent(price: PercentagePrice, value: Decimal): Decimal {
  if (value.isZero()) {
    return Decimal.ZERO;
  }
  let fee = value.abs().mul(price.rate).add(price.fixedPerEvent);
  if (price.minPerEvent !== null && fee.lt(price.minPerEvent)) {
    fee = price.minPerEvent;
  }
  if (price.maxPerEvent !== null && fee.gt(price.maxPerEvent)) {
    fee = price.maxPerEvent;
  }
  return value.isNegative() ? fee.neg() : fee;
}

/** The period amount of a percentage price: the sum of its per-event fees. */
export function rateEvents(price: PercentagePrice, values: Iterable<Decimal>): Decimal {
  let total = Decimal.ZERO;
  for (const value of values) {
    total = total.add(ratePerEvent(price, value));
  }
  return total;
}

/**
 * The amount one event adds, for any price: what the meter calls per event. For percentage
 * prices the event's fee; for quantity prices the marginal of adding `value` to the period's
 * running total `totalBefore`.
 */
export function rateEvent(price: Price, totalBefore: Decimal, value: Decimal): Decimal {
  if (price.model === "percentage") {
    return ratePerEvent(price, value);
  }
  return rateIncrement(price, totalBefore, totalBefore.add(value));
}
