/**
 * What a failed Stripe call means for money. Only two answers are definitive: a decline (a
 * charge was tried and refused) and a rejected request (nothing was charged, e.g. no usable
 * payment method). Everything else — 5xx, timeouts, dropped connections, rate limits, a key
 * still in use — means "we do not know", and the same idempotency key must be sent again.
 */
export type StripeFailureKind =
  /** Card error: the PaymentIntent exists and its charge failed. */
  | "declined"
  /** 4xx invalid request: Stripe did not charge and will not with these parameters. */
  | "rejected"
  /** The key was used with other parameters: a bug; resending cannot help until it expires. */
  | "idempotency_conflict"
  /** No reliable answer: retry with the same key. */
  | "unknown";

export interface ClassifiedStripeError {
  kind: StripeFailureKind;
  /** Stripe's error code, or decline code for declines (`insufficient_funds`). */
  code: string | null;
  message: string;
  statusCode: number | null;
  paymentIntentId: string | null;
  chargeId: string | null;
  /** True when Stripe replayed a saved answer for this key (`Idempotent-Replayed`). */
  replayed: boolean;
}

interface StripeErrorLike {
  type?: unknown;
  statusCode?: unknown;
  code?: unknown;
  decline_code?: unknown;
  message?: unknown;
  charge?: unknown;
  payment_intent?: { id?: unknown } | null;
  headers?: Record<string, string> | undefined;
}

function text(value: unknown): string | null {
  return typeof value === "string" && value.length > 0 ? value : null;
}

/** Classifies anything a Stripe SDK call threw (never throws itself). */
export function classifyStripeError(error: unknown): ClassifiedStripeError {
  const e = (typeof error === "object" && error !== null ? error : {}) as StripeErrorLike;
  const statusCode = typeof e.statusCode === "number" ? e.statusCode : null;
  const type = text(e.type);
  const message = text(e.message) ?? String(error);
  const base = {
    message,
    statusCode,
    code: text(e.code),
    paymentIntentId: text(e.payment_intent?.id),
    chargeId: text(e.charge),
    replayed: e.headers?.["idempotent-replayed"] === "true",
  };
  if (type === "StripeCardError") {
    return { ...base, kind: "declined", code: text(e.decline_code) ?? text(e.code) };
  }
  if (type === "StripeIdempotencyError") {
    return { ...base, kind: "idempotency_conflict" };
  }
  if (
    type === "StripeInvalidRequestError" &&
    statusCode !== null &&
    statusCode >= 400 &&
    statusCode < 500 &&
    statusCode !== 409 &&
    statusCode !== 429
  ) {
    return { ...base, kind: "rejected" };
  }
  return { ...base, kind: "unknown" };
}
