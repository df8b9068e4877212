import { NumberLiteral } from "./decimal-text.ts";

/**
 * A run of 16+ digits (possibly with a point) or an exponent: the only number literals whose
 * value a double might not hold exactly. Doubles hold every decimal of up to 15 significant
 * digits exactly enough that their shortest text equals the literal's value.
 */
const MAYBE_INEXACT_NUMBER = /\d[\d.]{15,}|\d[eE][+-]?\d/;

/**
 * Parses JSON without silently losing precision in numbers. The fast path is plain JSON.parse;
 * only when the text contains a literal that a double might not hold exactly does it reparse
 * with a reviver that keeps such literals' source text as NumberLiteral.
 */
export function parseJsonExact(text: string): unknown {
  if (!MAYBE_INEXACT_NUMBER.test(text)) {
    return JSON.parse(text);
  }
  return JSON.parse(text, function revive(
    this: unknown,
    _key,
    value,
    context?: { source?: string },
  ) {
    if (typeof value === "number" && context?.source !== undefined) {
      const source = context.source;
      return MAYBE_INEXACT_NUMBER.test(source) ? new NumberLiteral(source) : value;
    }
    return value;
  } as (this: unknown, key: string, value: unknown) => unknown);
}
