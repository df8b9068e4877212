/**
 * The payment attempt state machine. An attempt is one PaymentIntent (one idempotency key);
 * its state only moves forward, by rank:
 *
 *   created → unknown → requires_confirmation → processing → failed → canceled → succeeded
 *
 * `unknown` means "sent, answer lost": any state Stripe reports supersedes it. `succeeded` is
 * absorbing; nothing Stripe or meterline says afterwards moves an attempt out of it. `failed`
 * only gives way to `succeeded` (a canceled intent after a decline is still a decline). Between
 * equal ranks the newer Stripe `created` timestamp wins (fresher failure details), and equal
 * timestamps with different ranks are settled by rank, never by arrival order.
 */
export const ATTEMPT_STATUSES = [
  "created",
  "unknown",
  "requires_confirmation",
  "processing",
  "failed",
  "canceled",
  "succeeded",
] as const;

export type AttemptStatus = (typeof ATTEMPT_STATUSES)[number];

const RANK: Record<AttemptStatus, number> = {
  created: 0,
  unknown: 1,
  requires_confirmation: 2,
  processing: 3,
  failed: 4,
  canceled: 5,
  succeeded: 6,
};

/** Statuses in which a charge may still happen or may already have happened unseen. */
export const IN_FLIGHT_STATUSES: readonly AttemptStatus[] = [
  "created",
  "unknown",
  "requires_confirmation",
];

/** Statuses that mean "this attempt did not and will not charge". */
export const DEAD_STATUSES: readonly AttemptStatus[] = ["failed", "canceled"];

/** The rank of a status; higher is later in the attempt's life. */
export function rankOf(status: AttemptStatus): number {
  return RANK[status];
}

/** A state observed for an attempt, with when Stripe says it happened (if it said). */
export interface ObservedState {
  status: AttemptStatus;
  /** Stripe's `created` of the event reporting it, ms; null for API answers. */
  stripeAtMs: number | null;
}

/**
 * Whether `next` may replace the current state: a higher rank always may; the same rank only
 * with a strictly newer Stripe timestamp (so a repeat is a no-op); nothing leaves `succeeded`.
 */
export function movesForward(
  current: { status: AttemptStatus; stripeAtMs: number | null },
  next: ObservedState,
): boolean {
  if (current.status === "succeeded") {
    return false;
  }
  if (current.status === "failed" && next.status !== "failed" && next.status !== "succeeded") {
    // The decline is the fact dunning counts; Stripe canceling the dead intent later is cleanup.
    return false;
  }
  const delta = rankOf(next.status) - rankOf(current.status);
  if (delta !== 0) {
    return delta > 0;
  }
  return (
    next.stripeAtMs !== null &&
    (current.stripeAtMs === null || next.stripeAtMs > current.stripeAtMs)
  );
}

/**
 * The attempt status a PaymentIntent status stands for. A PaymentIntent back in
 * `requires_payment_method` was declined (meterline never re-confirms one); `requires_action`
 * cannot be completed off session, so it counts as failed too.
 */
export function statusOfIntent(intentStatus: string): AttemptStatus {
  switch (intentStatus) {
    case "succeeded":
      return "succeeded";
    case "processing":
      return "processing";
    case "canceled":
      return "canceled";
    case "requires_confirmation":
    case "requires_capture":
      return "requires_confirmation";
    default:
      return "failed";
  }
}

/** The attempt status a `payment_intent.*` event reports, or null for other event types. */
export function statusOfIntentEvent(type: string): AttemptStatus | null {
  switch (type) {
    case "payment_intent.succeeded":
      return "succeeded";
    case "payment_intent.processing":
      return "processing";
    case "payment_intent.payment_failed":
      return "failed";
    case "payment_intent.canceled":
      return "canceled";
    default:
      return null;
  }
}
