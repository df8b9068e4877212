/**
 * Stable codes for per-field pricing and plan validation failures. They appear as `code` in the
 * `errors` of a VALIDATION_FAILED problem document: never rename one, only add.
 */
export const PRICING_FIELD_CODES = {
  REQUIRED: "The field is missing (or null where a value is required)",
  INVALID_TYPE: "The field has the wrong JSON type (e.g. a number where a decimal string is due)",
  UNKNOWN_FIELD: "The field is not part of this shape (often a typo)",
  INVALID_DECIMAL: "Not a decimal in plain notation such as 12 or -0.000463",
  NEGATIVE_NOT_ALLOWED: "The value must be zero or more",
  NOT_POSITIVE: "The value must be more than zero",
  PRICE_TOO_PRECISE: "A price, fee or rate has more than 12 fractional digits",
  QUANTITY_TOO_PRECISE: "A quantity has more than 18 fractional digits",
  VALUE_TOO_LARGE: "Too many integer digits (15 for prices, 30 for quantities)",
  UNKNOWN_MODEL: "The pricing model is not one of per_unit, package, graduated, volume, percentage",
  NO_TIERS: "A tiered price needs at least one tier",
  TOO_MANY_TIERS: "A tiered price has more tiers than allowed",
  TIER_GAP:
    "The tier's `from` is above the previous tier's `upTo`: quantities in between are unpriced",
  TIER_OVERLAP:
    "The tier's `from` is below the previous tier's `upTo`: quantities are priced twice",
  TIER_NOT_INCREASING: "The tier's `upTo` is not above the previous tier's `upTo`",
  LAST_TIER_NOT_OPEN: "The last tier must be open-ended (`upTo: null`)",
  OPEN_TIER_NOT_LAST: "Only the last tier may be open-ended",
  PERCENT_OUT_OF_RANGE: "A percentage must lie between 0 and 100",
  MIN_ABOVE_MAX: "The per-event minimum is above the per-event maximum",
  MODIFIER_NOT_SUPPORTED: "This modifier has no meaning for this pricing model",
  UNKNOWN_CURRENCY: "Not an active ISO 4217 currency code (upper case)",
  INVALID_INSTANT: "Not an ISO 8601 instant with a time zone, e.g. 2026-01-01T00:00:00Z",
  INVALID_KEY: "Keys are 1–64 characters: letters, digits, and _ . : - after the first",
  TOO_LONG: "The text is longer than allowed",
  INVALID_TEXT:
    "The text holds NUL or another control character, or a lone UTF-16 surrogate (ill-formed)",
  TOO_MANY_PRICES: "A plan version prices more meters than allowed",
  NO_VERSIONS: "A plan needs at least one version",
  VERSIONS_NOT_ORDERED: "Versions must be listed by strictly increasing effectiveFrom",
} as const;

export type PricingFieldCode = keyof typeof PRICING_FIELD_CODES;
