import type { WorkSender } from "../fraud/deps.ts";
import { signalMessage } from "../fraud/messages.ts";
import type { RiskSignalWire } from "../fraud/signals.ts";
import type { Logger } from "../log/logger.ts";

/**
 * Hands fraud-relevant Stripe facts to the fraud module (lib/fraud) as `risk.signal` messages on
 * the work queue: early fraud warnings, disputes, and failed charges with the card fingerprint.
 * Recording there is idempotent by (account, kind, Stripe object id), so sending a signal again
 * after a retry changes nothing.
 */
export interface PaymentSignal {
  kind: "stripe.early_fraud_warning" | "stripe.dispute" | "stripe.charge_failed";
  /** The Stripe object id: `issfr_…`, `dp_…`, `ch_…` (or `pi_…` when no charge exists). */
  sourceId: string;
  accountId: string | null;
  stripeCustomerId: string | null;
  cardFingerprint: string | null;
  amountMinor: bigint | null;
  currency: string | null;
  occurredAtMs: number;
  evidence: Record<string, unknown>;
}

/** The wire form lib/fraud validates (amounts as decimal strings, never floats). */
export function signalWire(signal: PaymentSignal): RiskSignalWire {
  const wire: RiskSignalWire = {
    kind: signal.kind,
    sourceId: signal.sourceId,
    occurredAt: new Date(signal.occurredAtMs).toISOString(),
    evidence: signal.evidence,
  };
  if (signal.accountId) {
    wire.accountId = signal.accountId;
  }
  if (signal.stripeCustomerId) {
    wire.stripeCustomerId = signal.stripeCustomerId;
  }
  if (signal.cardFingerprint) {
    wire.cardFingerprint = signal.cardFingerprint;
  }
  if (signal.amountMinor !== null && signal.currency) {
    wire.amountMinor = signal.amountMinor.toString();
    wire.currency = signal.currency.toUpperCase();
  }
  return wire;
}

/**
 * Enqueues the signal for the fraud module. Throws when the queue refuses it, so the event that
 * produced it is processed again (and the signal re-sent) later. Without a queue (some tests),
 * logs and skips.
 */
export async function sendPaymentSignal(
  work: WorkSender | null,
  log: Logger,
  signal: PaymentSignal,
): Promise<boolean> {
  if (signal.accountId === null && signal.stripeCustomerId === null) {
    log.warn("fraud signal names no account; not sent", {
      kind: signal.kind,
      sourceId: signal.sourceId,
    });
    return false;
  }
  if (work === null) {
    log.warn("no work queue; fraud signal not sent", {
      kind: signal.kind,
      sourceId: signal.sourceId,
    });
    return false;
  }
  await work.send(signalMessage(signalWire(signal)));
  return true;
}
