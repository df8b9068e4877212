/**
 * Stripe-shaped identifiers (`cus_` + 14 characters, most others + 24) and secrets. They are
 * random, not sortable: Stripe's ids carry no order either, and lists order by `created`.
 */
import { createHash, randomInt } from "node:crypto";

const ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** `length` characters from [0-9A-Za-z], uniformly (crypto randomness, no modulo bias). */
export function randomToken(length: number): string {
  let out = "";
  for (let i = 0; i < length; i += 1) {
    out += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  }
  return out;
}

/** The id lengths Stripe uses per prefix; 24 for anything not listed. */
const ID_LENGTHS: Record<string, number> = { cus: 14, req: 14, acct: 16 };

/** A new id like `pi_3Q...` for the given Stripe prefix. */
export function newId(prefix: string): string {
  return `${prefix}_${randomToken(ID_LENGTHS[prefix] ?? 24)}`;
}

/** 16 characters derived from `input` and a salt: the same input gives the same text. */
export function stableToken(salt: string, input: string, length = 16): string {
  const digest = createHash("sha256").update(`${salt}\u0000${input}`).digest();
  let out = "";
  for (let i = 0; i < length; i += 1) {
    out += ALPHANUMERIC[(digest[i] ?? 0) % ALPHANUMERIC.length];
  }
  return out;
}
