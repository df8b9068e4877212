import type { Currency } from "./currency.ts";
import { getCurrency } from "./currency.ts";
import { Decimal } from "./decimal.ts";
import type { RoundingMode } from "./rounding.ts";

/**
 * The rounding mode for invoice lines: half away from zero, the rule customers check with a
 * calculator or a spreadsheet's ROUND. docs/pricing.md explains why not banker's rounding.
 */
export const INVOICE_LINE_ROUNDING_MODE: RoundingMode = "HALF_UP";

/** One invoice line's amount after the single rounding to the currency. */
export interface RoundedLineAmount {
  /** Integer minor units: what is stored, summed into the invoice total and charged. */
  amountMinor: bigint;
  /** The same amount as a decimal with the currency's digits (30.5 for 3050 USD cents). */
  amount: Decimal;
  /** The full-precision rated amount that went in. */
  unrounded: Decimal;
  /** `amount − unrounded`: what rounding added (positive) or removed, kept for the audit. */
  roundingAdjustment: Decimal;
}

/**
 * Rounds a rated, full-precision line amount to the currency's minor unit: the one place in
 * meterline where rated money is rounded. Call it once per invoice line, after summing that
 * line's usage, never per event; the invoice total is the sum of the rounded lines.
 * Throws AppError `VALIDATION_FAILED` for an unknown currency code.
 */
export function roundInvoiceLine(
  unrounded: Decimal,
  currency: Currency | string,
  mode: RoundingMode = INVOICE_LINE_ROUNDING_MODE,
): RoundedLineAmount {
  const { exponent } = typeof currency === "string" ? getCurrency(currency) : currency;
  const rounded = unrounded.round(exponent, mode);
  const amountMinor = rounded.coefficient * 10n ** BigInt(exponent - rounded.scale);
  const amount = Decimal.fromParts(amountMinor, exponent);
  return { amountMinor, amount, unrounded, roundingAdjustment: amount.sub(unrounded) };
}
