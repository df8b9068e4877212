/**
 * Idempotency keys and the time rules around them. Stripe remembers a key for 24 hours after
 * its first use; after that the same key would run as a new request and could charge again.
 */

/** Stripe's idempotency key lifetime, from first use. */
export const STRIPE_KEY_LIFETIME_MS = 24 * 3_600_000;

/**
 * How long meterline resends an attempt's key: one hour less than Stripe keeps it, so clock
 * skew between us and Stripe and a slow request can never straddle the expiry.
 */
export const KEY_REUSE_WINDOW_MS = STRIPE_KEY_LIFETIME_MS - 3_600_000;

/**
 * The idempotency key of attempt `attemptNo` of an invoice: `<invoice id>:att_<n>`. Invoice ids
 * carry the `inv_` prefix, so a key reads `inv_…:att_1`. Derived only from our own ids, so a
 * lost row recreated for the same attempt gets the same key back.
 */
export function attemptKey(invoiceId: string, attemptNo: number): string {
  return `${invoiceId}:att_${attemptNo}`;
}

/** The key recorded for an attempt adopted from Stripe (never sent; unique per intent). */
export function adoptedKey(invoiceId: string, paymentIntentId: string): string {
  return `${invoiceId}:adopted:${paymentIntentId}`;
}

/** True while an attempt's key may still be resent (first use within the reuse window). */
export function keyStillReusable(firstUsedAtMs: number | null, nowMs: number): boolean {
  return firstUsedAtMs === null || nowMs - firstUsedAtMs < KEY_REUSE_WINDOW_MS;
}
