import type { Currency } from "./currency.ts";
import { getCurrency } from "./currency.ts";
import { Decimal, type DecimalInput } from "./decimal.ts";

/**
 * Splits `total` indivisible units by `weights` with the largest-remainder method: every part
 * gets the floor of its exact share `total × weight / Σweights`, then the units left over go one
 * each to the parts with the largest remainders. The parts always add up to `total`, and each
 * differs from its exact share by less than one unit.
 *
 * Ties between equal remainders go to the earlier index, so the result depends only on the
 * inputs' order. A zero weight always gets zero. A negative total is split as its magnitude and
 * negated, so splitting a refund mirrors splitting the charge.
 *
 * Weights are exact decimals (strings, bigints, Decimals; numbers via their shortest string).
 * Throws RangeError for no weights, a negative weight or all-zero weights (caller bugs).
 */
export function allocateUnits(total: bigint, weights: readonly DecimalInput[]): bigint[] {
  if (total < 0n) {
    return allocateUnits(-total, weights).map((part) => -part);
  }
  const integerWeights = toIntegerWeights(weights);
  let weightSum = 0n;
  for (const weight of integerWeights) {
    weightSum += weight;
  }
  if (weightSum === 0n) {
    throw new RangeError("At least one weight must be positive");
  }
  const parts: bigint[] = [];
  const remainders: bigint[] = [];
  let allocated = 0n;
  for (const weight of integerWeights) {
    const share = total * weight;
    const part = share / weightSum;
    parts.push(part);
    remainders.push(share % weightSum);
    allocated += part;
  }
  // Fewer leftover units than parts: Σremainders = leftover × weightSum, each remainder < weightSum.
  const leftover = Number(total - allocated);
  const order = remainders
    .map((remainder, index) => ({ remainder, index }))
    .sort((a, b) =>
      a.remainder === b.remainder ? a.index - b.index : a.remainder > b.remainder ? -1 : 1,
    );
  for (let i = 0; i < leftover; i += 1) {
    const winner = order[i];
    if (winner !== undefined) {
      parts[winner.index] = (parts[winner.index] ?? 0n) + 1n;
    }
  }
  return parts;
}

/**
 * Splits a decimal `amount` into parts with at most `scale` fractional digits (units of
 * 10^-scale) by `weights`, as `allocateUnits` does. Throws RangeError when `amount` itself has
 * more than `scale` fractional digits: round it first, so that the parts can add up to it.
 */
export function allocateAmount(
  amount: Decimal,
  weights: readonly DecimalInput[],
  scale: number,
): Decimal[] {
  if (amount.fractionalDigits() > scale) {
    throw new RangeError(`${amount.toString()} has more than ${scale} fractional digits`);
  }
  const units = amount.movePoint(scale).toBigInt();
  return allocateUnits(units, weights).map((part) => Decimal.fromParts(part, scale));
}

/**
 * Splits an amount already rounded to `currency` into parts in whole minor units. Throws
 * RangeError when the amount is more precise than the currency, AppError for an unknown code.
 */
export function allocateMoney(
  amount: Decimal,
  currency: Currency | string,
  weights: readonly DecimalInput[],
): Decimal[] {
  const { exponent } = typeof currency === "string" ? getCurrency(currency) : currency;
  return allocateAmount(amount, weights, exponent);
}

function toIntegerWeights(weights: readonly DecimalInput[]): bigint[] {
  if (weights.length === 0) {
    throw new RangeError("Allocation needs at least one weight");
  }
  const decimals = weights.map((weight) => Decimal.from(weight));
  let scale = 0;
  for (const weight of decimals) {
    if (weight.isNegative()) {
      throw new RangeError(`Weights must not be negative, got ${weight.toString()}`);
    }
    scale = Math.max(scale, weight.scale);
  }
  // Bringing every weight to one scale keeps their ratios and makes them integers.
  return decimals.map((weight) => weight.movePoint(scale).toBigInt());
}
