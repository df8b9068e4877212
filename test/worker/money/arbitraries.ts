import fc from "fast-check";
import { Decimal } from "../../../lib/money/decimal.ts";

/** Decimals with up to `maxDigits` significant digits and up to `maxScale` fractional digits. */
export function decimalArb(
  options: { maxDigits?: number; maxScale?: number; min?: "any" | "zero" | "positive" } = {},
): fc.Arbitrary<Decimal> {
  const bound = 10n ** BigInt(options.maxDigits ?? 30);
  const min = options.min ?? "any";
  return fc
    .record({
      coefficient: fc.bigInt({
        min: min === "any" ? -bound : min === "zero" ? 0n : 1n,
        max: bound,
      }),
      scale: fc.integer({ min: 0, max: options.maxScale ?? 20 }),
    })
    .map(({ coefficient, scale }) => Decimal.fromParts(coefficient, scale));
}
