/**
 * Currencies the sandbox accepts, Stripe's minimum charge amounts (integer minor units) and
 * amount formatting for messages, done on integers so no amount ever passes through a float.
 */
import { badRequest } from "./failure.ts";
import type { Params } from "./params.ts";

/** Minimum charge per currency in minor units (Stripe's published minimums). */
export const MINIMUM_CHARGE_MINOR: Readonly<Record<string, number>> = {
  aud: 50,
  brl: 50,
  cad: 50,
  chf: 50,
  czk: 1500,
  dkk: 250,
  eur: 50,
  gbp: 30,
  hkd: 400,
  inr: 50,
  jpy: 50,
  mxn: 1000,
  nok: 300,
  nzd: 50,
  pln: 200,
  sek: 300,
  sgd: 50,
  usd: 50,
};

/** Stripe's largest amount for a card charge, in minor units. */
export const MAXIMUM_CHARGE_MINOR = 99_999_999;

const ZERO_DECIMAL = new Set(["jpy"]);
const SYMBOLS: Record<string, string> = { usd: "$", eur: "€", gbp: "£", jpy: "¥" };

/** `1050, "usd"` -> `$10.50`; `50, "jpy"` -> `¥50`. */
export function formatMinor(amountMinor: number, currency: string): string {
  const symbol = SYMBOLS[currency] ?? `${currency.toUpperCase()} `;
  const sign = amountMinor < 0 ? "-" : "";
  const digits = String(Math.abs(amountMinor));
  if (ZERO_DECIMAL.has(currency)) {
    return `${sign}${symbol}${digits}`;
  }
  const padded = digits.padStart(3, "0");
  return `${sign}${symbol}${padded.slice(0, -2)}.${padded.slice(-2)}`;
}

/**
 * Reads `amount` (integer minor units) for `currencyCode`, enforcing Stripe's minimum and
 * maximum with amount_too_small / amount_too_large.
 */
export function readAmount(
  params: Params,
  currencyCode: string,
  required: boolean,
): number | undefined {
  const amount = params.integer("amount", { required, min: 1 });
  if (amount === undefined) {
    return undefined;
  }
  const minimum = MINIMUM_CHARGE_MINOR[currencyCode] ?? 50;
  if (amount < minimum) {
    throw badRequest(
      `Amount must be at least ${formatMinor(minimum, currencyCode)} ${currencyCode}`,
      "amount",
      "amount_too_small",
    );
  }
  if (amount > MAXIMUM_CHARGE_MINOR) {
    throw badRequest(
      `Amount must be no more than ${formatMinor(MAXIMUM_CHARGE_MINOR, currencyCode)}`,
      "amount",
      "amount_too_large",
    );
  }
  return amount;
}

/** Reads `currency` as a lower-case ISO code the sandbox supports. */
export function readCurrency(params: Params, required: boolean): string | undefined {
  const value = params.string("currency", { required });
  if (!value) {
    return undefined;
  }
  const code = value.toLowerCase();
  if (MINIMUM_CHARGE_MINOR[code] === undefined) {
    throw badRequest(
      `Invalid currency: ${value}. The Stripe sandbox supports: ` +
        `${Object.keys(MINIMUM_CHARGE_MINOR).join(", ")}.`,
      "currency",
    );
  }
  return code;
}
