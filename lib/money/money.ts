import { type Currency, getCurrency } from "./currency.ts";
import { Decimal, type DecimalInput } from "./decimal.ts";
import type { RoundingMode } from "./rounding.ts";

/** An amount that always carries its currency. The amount may be more precise than the currency. */
export interface Money {
  readonly amount: Decimal;
  readonly currency: Currency;
}

/** How money travels in JSON: a canonical decimal string, never a float. */
export interface MoneyJson {
  amount: string;
  currency: string;
}

/** How rounded money travels in JSON: an integer count of minor units (cents for USD). */
export interface MinorMoneyJson {
  amountMinor: number;
  currency: string;
}

type CurrencyLike = Currency | string;

function resolve(currency: CurrencyLike): Currency {
  return typeof currency === "string" ? getCurrency(currency) : currency;
}

/**
 * Money from a trusted amount and a currency code. Throws AppError `VALIDATION_FAILED` for an
 * amount that is not a decimal or an unknown currency.
 */
export function money(amount: DecimalInput, currency: CurrencyLike): Money {
  return { amount: Decimal.from(amount), currency: resolve(currency) };
}

/**
 * `a + b`. Throws RangeError when the currencies differ: nothing in meterline converts
 * currencies, so mixing them is a bug in the caller.
 */
export function addMoney(a: Money, b: Money): Money {
  assertSameCurrency(a, b);
  return { amount: a.amount.add(b.amount), currency: a.currency };
}

/** `a − b`; throws RangeError when the currencies differ. */
export function subtractMoney(a: Money, b: Money): Money {
  assertSameCurrency(a, b);
  return { amount: a.amount.sub(b.amount), currency: a.currency };
}

function assertSameCurrency(a: Money, b: Money): void {
  if (a.currency.code !== b.currency.code) {
    throw new RangeError(`Cannot combine ${a.currency.code} with ${b.currency.code}`);
  }
}

/**
 * `amount` as an integer number of the currency's minor units (cents for USD, yen for JPY),
 * rounded with `mode` when it is more precise than the currency. Exact otherwise.
 */
export function toMinorUnits(amount: Decimal, currency: CurrencyLike, mode: RoundingMode): bigint {
  const { exponent } = resolve(currency);
  const rounded = amount.round(exponent, mode);
  return rounded.coefficient * 10n ** BigInt(exponent - rounded.scale);
}

/** The decimal amount of `amountMinor` minor units: 3050n USD → 30.5. Exact. */
export function fromMinorUnits(amountMinor: bigint, currency: CurrencyLike): Decimal {
  return Decimal.fromParts(amountMinor, resolve(currency).exponent);
}

/**
 * For people, never for machines: `USD 30.50`, `JPY 1,235`, `USD -1,234.57`. The code comes
 * first, the integer part is grouped by thousands with commas, and the amount is rounded to the
 * currency's minor unit with `mode` (HALF_UP by default) — a display rounding only.
 */
export function formatMoney(
  amount: Decimal,
  currency: CurrencyLike,
  mode: RoundingMode = "HALF_UP",
): string {
  const resolved = resolve(currency);
  const fixed = amount.toFixed(resolved.exponent, mode);
  const negative = fixed.startsWith("-");
  const unsigned = negative ? fixed.slice(1) : fixed;
  const point = unsigned.indexOf(".");
  const whole = point === -1 ? unsigned : unsigned.slice(0, point);
  const fraction = point === -1 ? "" : unsigned.slice(point);
  const grouped = whole.replace(/\B(?=(\d{3})+$)/g, ",");
  return `${resolved.code} ${negative ? "-" : ""}${grouped}${fraction}`;
}

/** `{ amount: "30.5", currency: "USD" }`: the full-precision JSON form. */
export function moneyToJson(value: Money): MoneyJson {
  return { amount: value.amount.toString(), currency: value.currency.code };
}

/**
 * `{ amountMinor: 3050, currency: "USD" }`. Throws RangeError beyond ±(2^53 − 1) minor units,
 * where a JSON number would silently lose digits.
 */
export function minorToJson(amountMinor: bigint, currency: CurrencyLike): MinorMoneyJson {
  if (
    amountMinor > BigInt(Number.MAX_SAFE_INTEGER) ||
    amountMinor < -BigInt(Number.MAX_SAFE_INTEGER)
  ) {
    throw new RangeError(`${amountMinor} minor units do not fit a JSON number exactly`);
  }
  return { amountMinor: Number(amountMinor), currency: resolve(currency).code };
}
