import { Decimal } from "../money/decimal.ts";

/** Fractional digits kept by the one division in proration. */
export const PRORATION_SCALE = 18;

/**
 * The share of a per-period `amount` for `usedSeconds` of a `periodSeconds`-long period:
 * `amount × usedSeconds / periodSeconds`. The multiplication is exact; the division keeps
 * max(18, amount's digits) fractional digits and truncates (rounds towards zero) beyond them.
 *
 * Truncation, not rounding to nearest, so the one later rounding to the currency
 * (roundInvoiceLine, HALF_UP) gives exactly the cents the exact fraction would: truncating
 * never carries a value across a half-cent boundary, which rounding to nearest can.
 *
 * Throws RangeError unless both are integers with 0 ≤ usedSeconds ≤ periodSeconds and
 * periodSeconds > 0.
 */
export function prorate(
  amount: Decimal,
  usedSeconds: number | bigint,
  periodSeconds: number | bigint,
): Decimal {
  const used = toSeconds(usedSeconds, "usedSeconds");
  const period = toSeconds(periodSeconds, "periodSeconds");
  if (period <= 0n) {
    throw new RangeError(`periodSeconds must be positive, got ${period}`);
  }
  if (used < 0n || used > period) {
    throw new RangeError(`usedSeconds must lie in [0, ${period}], got ${used}`);
  }
  if (used === period) {
    return amount;
  }
  const scale = Math.max(PRORATION_SCALE, amount.scale);
  return amount.mul(Decimal.fromBigInt(used)).div(Decimal.fromBigInt(period), scale, "DOWN");
}

function toSeconds(value: number | bigint, name: string): bigint {
  if (typeof value === "bigint") {
    return value;
  }
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`${name} must be a whole number of seconds, got ${value}`);
  }
  return BigInt(value);
}
