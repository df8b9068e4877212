/**
 * Rounding modes and the one integer division everything inexact goes through. Every rounding
 * in meterline names its mode; there is no implicit default hidden in arithmetic.
 */
export const ROUNDING_MODES = ["HALF_UP", "HALF_EVEN", "DOWN", "UP", "FLOOR", "CEILING"] as const;

/**
 * - `HALF_UP`: to nearest; ties away from zero (2.5 → 3, -2.5 → -3). Commercial rounding.
 * - `HALF_EVEN`: to nearest; ties to the even neighbour (2.5 → 2, 3.5 → 4). Banker's rounding.
 * - `DOWN`: towards zero (truncation). `UP`: away from zero.
 * - `FLOOR`: towards negative infinity. `CEILING`: towards positive infinity.
 */
export type RoundingMode = (typeof ROUNDING_MODES)[number];

/** True when `value` names a rounding mode (for validating configuration and input). */
export function isRoundingMode(value: unknown): value is RoundingMode {
  return typeof value === "string" && (ROUNDING_MODES as readonly string[]).includes(value);
}

/**
 * `numerator / denominator` as an integer, rounded with `mode`. Exact: the remainder decides the
 * rounding, no intermediate is ever approximated. Throws RangeError on a zero denominator (a bug
 * in the caller, never an input condition).
 */
export function divideRounded(numerator: bigint, denominator: bigint, mode: RoundingMode): bigint {
  if (denominator === 0n) {
    throw new RangeError("Division by zero");
  }
  const quotient = numerator / denominator;
  const remainder = numerator % denominator;
  if (remainder === 0n) {
    return quotient;
  }
  // The exact result lies strictly between `quotient` and `quotient + direction`.
  const direction = numerator < 0n !== denominator < 0n ? -1n : 1n;
  switch (mode) {
    case "DOWN":
      return quotient;
    case "UP":
      return quotient + direction;
    case "FLOOR":
      return direction < 0n ? quotient - 1n : quotient;
    case "CEILING":
      return direction > 0n ? quotient + 1n : quotient;
    case "HALF_UP":
    case "HALF_EVEN": {
      const twiceRemainder = 2n * (remainder < 0n ? -remainder : remainder);
      const absDenominator = denominator < 0n ? -denominator : denominator;
      if (twiceRemainder > absDenominator) {
        return quotient + direction;
      }
      if (twiceRemainder < absDenominator) {
        return quotient;
      }
      if (mode === "HALF_UP") {
        return quotient + direction;
      }
      return quotient % 2n === 0n ? quotient : quotient + direction;
    }
    default: {
      const unknown: never = mode;
      throw new RangeError(`Unknown rounding mode ${String(unknown)}`);
    }
  }
}
