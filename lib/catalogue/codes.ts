import { PRICING_FIELD_CODES } from "../pricing/codes.ts";

/**
 * Stable per-field codes of the catalogue API's VALIDATION_FAILED problems: the pricing codes
 * (prices and plan versions are validated by lib/pricing) plus the ones below. They appear as
 * `code` beside a JSON pointer in `errors`: never rename one, only add.
 */
export const CATALOGUE_FIELD_CODES = {
  ...PRICING_FIELD_CODES,
  INVALID_VALUE: "The value is not one of those allowed",
  OUT_OF_RANGE: "The number lies outside the allowed range",
  INVALID_DATE: "Not a calendar date written YYYY-MM-DD",
  INVALID_TIME_ZONE: "Not an IANA time zone name this runtime knows, e.g. Europe/Paris",
  INVALID_ID: "Account ids are 1–64 characters: letters, digits, and _ . : - after the first",
  INVALID_PROPERTY:
    "Property names are 1–64 characters: letters, digits, _ and . : - after the first",
  INVALID_EMAIL: "Not an email address",
  INVALID_URL: "Not an absolute https URL (http is accepted outside production)",
  NOT_APPLICABLE: "The field has no meaning in this combination (e.g. a series for a sum meter)",
  DUPLICATE_VALUE: "The list names the same value twice",
  TOO_MANY_VALUES: "The list is longer than allowed",
  NOT_WHOLE_SECOND: "Effective times are whole seconds, like billing period boundaries",
  UNKNOWN_METER: "No meter has this key: create the meter before pricing it",
  UNKNOWN_PLAN: "No plan has this id",
  CURRENCY_MISMATCH: "The currency differs from the plan's or the account's currency",
  PRICE_NOT_SUPPORTED: "This pricing model cannot price this meter's aggregation",
  EFFECTIVE_TOO_SOON: "Changes take effect at least CATALOGUE_LEAD_SECONDS after they are made",
  NOT_AFTER_LATEST: "The effective time must be later than the latest scheduled one",
  PLAN_NOT_IN_EFFECT: "The plan has no version in effect at that time",
  SAME_PLAN: "The account is already on this plan at that time",
  IMMUTABLE: "The field is fixed at creation (reported with IMMUTABLE_FIELD, HTTP 409)",
  INVALID_CURSOR: "The cursor was not returned by this list (or the list changed its shape)",
} as const;

export type CatalogueFieldCode = keyof typeof CATALOGUE_FIELD_CODES;

/**
 * Codes lib/periods reports in lower case, mapped to the catalogue's upper-case ones so every
 * field error of the catalogue API uses one vocabulary.
 */
export const PERIOD_CODE_MAP: Readonly<Record<string, CatalogueFieldCode>> = {
  required: "REQUIRED",
  invalid_type: "INVALID_TYPE",
  invalid_value: "INVALID_VALUE",
  out_of_range: "OUT_OF_RANGE",
  invalid_date: "INVALID_DATE",
  invalid_time_zone: "INVALID_TIME_ZONE",
  unrecognized_key: "UNKNOWN_FIELD",
};
