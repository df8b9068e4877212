/** Small sub-objects several resources share (addresses, billing details). */
import type { Params } from "./params.ts";

const ADDRESS_FIELDS = ["city", "country", "line1", "line2", "postal_code", "state"] as const;

export type Address = Record<(typeof ADDRESS_FIELDS)[number], string | null>;

/** An address with every field null (how Stripe shows an unset address). */
export function emptyAddress(): Address {
  return { city: null, country: null, line1: null, line2: null, postal_code: null, state: null };
}

/** Reads an `address[...]` hash; absent -> undefined, "" -> null (unset). */
export function readAddress(params: Params, key: string): Address | null | undefined {
  const hash = params.hash(key, ADDRESS_FIELDS);
  if (hash === undefined || hash === null) {
    return hash;
  }
  const address = emptyAddress();
  for (const field of ADDRESS_FIELDS) {
    address[field] = hash.string(field) ?? null;
  }
  return address;
}

export interface BillingDetails {
  address: Address;
  email: string | null;
  name: string | null;
  phone: string | null;
  tax_id: string | null;
}

/** Billing details with every field null. */
export function emptyBillingDetails(): BillingDetails {
  return { address: emptyAddress(), email: null, name: null, phone: null, tax_id: null };
}

/** Applies a `billing_details[...]` hash over the current billing details. */
export function readBillingDetails(params: Params, current: BillingDetails): BillingDetails {
  const hash = params.hash("billing_details", ["address", "email", "name", "phone", "tax_id"]);
  if (hash === undefined) {
    return current;
  }
  if (hash === null) {
    return emptyBillingDetails();
  }
  const next = { ...current };
  const address = readAddress(hash, "address");
  if (address !== undefined) {
    next.address = address ?? emptyAddress();
  }
  for (const field of ["email", "name", "phone", "tax_id"] as const) {
    const value = hash.string(field);
    if (value !== undefined) {
      next[field] = value;
    }
  }
  return next;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** A loose e-mail shape check, enough to reject obvious typos as Stripe does. */
export function isEmail(value: string): boolean {
  return EMAIL.test(value);
}
