import { AppError, type FieldError } from "../errors/index.ts";
import { Decimal } from "../money/decimal.ts";
import { textProblem } from "../pricing/fields.ts";

/** One tax an account pays on every invoice line: `percent` of the line, e.g. "8.875". */
export interface TaxRate {
  name: string;
  /** Decimal text, 0 ≤ percent ≤ 100, at most 4 fractional digits. */
  percent: string;
}

/** One rate's share of an invoice. */
export interface RateTax {
  name: string;
  percent: string;
  /** Σ line amounts the rate applied to (minor units). */
  taxableMinor: bigint;
  /** round_half_up(Σ exact line taxes of this rate), minor units. */
  taxMinor: bigint;
}

/** Taxes of one invoice: per line, per rate, and the total. */
export interface InvoiceTax {
  /** Tax of each line (all rates), in input order; Σ lineTaxMinor = totalMinor. */
  lineTaxMinor: bigint[];
  rates: RateTax[];
  totalMinor: bigint;
}

/** Most rates an account may have (state + county + city + district is the usual worst case). */
export const MAX_TAX_RATES = 8;
const HUNDRED = Decimal.from(100);
const PERCENT_SHAPE = /^\d{1,3}(\.\d{1,4})?$/;

/**
 * Splits one rate's invoice tax over the lines so the parts add up to it exactly: every line
 * gets the floor of its exact tax, and the residue `round_half_up(Σ exact) − Σ floors` goes one
 * minor unit at a time to the lines with the largest fractional remainders (ties: earlier line).
 * Each part is within one minor unit of its exact tax.
 */
function allocateRate(amountsMinor: readonly bigint[], percent: Decimal): bigint[] {
  // amount × percent / 100, exactly: moving the point two places loses nothing.
  const exact = amountsMinor.map((amount) => Decimal.fromBigInt(amount).mul(percent).movePoint(-2));
  const floors = exact.map((value) => value.floor());
  const total = Decimal.sum(exact).round(0, "HALF_UP").toBigInt();
  let residue = total - floors.reduce((sum, value) => sum + value.toBigInt(), 0n);
  const parts = floors.map((value) => value.toBigInt());
  const order = exact
    .map((value, index) => ({ index, remainder: value.sub(floors[index] as Decimal) }))
    .filter((entry) => entry.remainder.isPositive())
    .sort((a, b) => b.remainder.cmp(a.remainder) || a.index - b.index);
  for (const entry of order) {
    if (residue <= 0n) {
      break;
    }
    parts[entry.index] = (parts[entry.index] ?? 0n) + 1n;
    residue -= 1n;
  }
  return parts;
}

/**
 * The taxes of an invoice whose lines are `amountsMinor` (already rounded, minor units), under
 * `rates` (exclusive taxes, each applied to every line, never to another tax).
 *
 * Rounding policy: per rate, the invoice tax is the exact tax of the rate's taxable total rounded
 * once, half up, to the minor unit; it is then split over the lines by largest remainder
 * (`allocateRate`), so Σ line taxes = invoice tax for every rate, and each line's tax is within
 * one minor unit of its exact tax. Pure; an empty rate list gives zero tax.
 */
export function computeTaxes(
  amountsMinor: readonly bigint[],
  rates: readonly TaxRate[],
): InvoiceTax {
  const lineTaxMinor = amountsMinor.map(() => 0n);
  const taxable = amountsMinor.reduce((sum, amount) => sum + amount, 0n);
  const out: RateTax[] = [];
  for (const rate of rates) {
    const parts = allocateRate(amountsMinor, Decimal.from(rate.percent));
    parts.forEach((part, index) => {
      lineTaxMinor[index] = (lineTaxMinor[index] ?? 0n) + part;
    });
    out.push({
      name: rate.name,
      percent: Decimal.from(rate.percent).toString(),
      taxableMinor: taxable,
      taxMinor: parts.reduce((sum, part) => sum + part, 0n),
    });
  }
  return { lineTaxMinor, rates: out, totalMinor: out.reduce((sum, r) => sum + r.taxMinor, 0n) };
}

/**
 * Validates an account's tax rates (`[{ name, percent }]`): at most MAX_TAX_RATES, names 1–60
 * characters of one-line text (no control characters or lone surrogates) and distinct, percents
 * decimal text in [0, 100] with ≤ 4 fractional digits.
 * Throws VALIDATION_FAILED listing every problem.
 */
export function parseTaxRates(input: unknown): TaxRate[] {
  const errors: FieldError[] = [];
  if (!Array.isArray(input)) {
    throw new AppError("VALIDATION_FAILED", "Tax rates must be a list", {
      detail: 'Send a JSON array such as [{"name": "VAT", "percent": "20"}].',
      fieldErrors: [{ field: "", code: "invalid_type", detail: "expected an array" }],
    });
  }
  if (input.length > MAX_TAX_RATES) {
    errors.push({ field: "", code: "too_many", detail: `at most ${MAX_TAX_RATES} rates` });
  }
  const rates: TaxRate[] = [];
  const names = new Set<string>();
  input.forEach((item: unknown, index) => {
    const at = `/${index}`;
    const rate = (typeof item === "object" && item !== null ? item : {}) as Record<string, unknown>;
    const name = typeof rate.name === "string" ? rate.name.trim() : "";
    const problem = textProblem(name);
    if (name.length === 0 || name.length > 60) {
      errors.push({ field: `${at}/name`, code: "invalid_value", detail: "1 to 60 characters" });
    } else if (problem !== null) {
      errors.push({ field: `${at}/name`, code: "invalid_text", detail: problem });
    } else if (names.has(name)) {
      errors.push({ field: `${at}/name`, code: "duplicate", detail: `${name} is listed twice` });
    }
    names.add(name);
    const percent = rate.percent;
    const valid =
      typeof percent === "string" &&
      PERCENT_SHAPE.test(percent) &&
      Decimal.from(percent).lte(HUNDRED);
    if (!valid) {
      errors.push({
        field: `${at}/percent`,
        code: "invalid_value",
        detail: 'decimal text from 0 to 100 with at most 4 fractional digits, e.g. "8.875"',
      });
    }
    if (valid && name.length > 0) {
      rates.push({ name, percent: Decimal.from(percent as string).toString() });
    }
  });
  if (errors.length > 0) {
    throw new AppError("VALIDATION_FAILED", "The tax rates are invalid", {
      detail: errors.map((e) => `${e.field || "/"}: ${e.detail}`).join("; "),
      fieldErrors: errors,
    });
  }
  return rates;
}
