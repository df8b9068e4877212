import { z } from "zod";
import { parseRfc3339 } from "../ingest/time.ts";
import { SIGNAL_KINDS, type SignalKind } from "./account-score.ts";

/**
 * Signals: facts about an account that raise its score and move it up the ladder. This is the
 * API the Stripe webhook function calls (directly, or by enqueuing a `risk.signal` message):
 *
 * | Stripe event                           | kind                          |
 * |----------------------------------------|-------------------------------|
 * | radar.early_fraud_warning.created      | stripe.early_fraud_warning    |
 * | charge.dispute.created                 | stripe.dispute                |
 * | charge.failed                          | stripe.charge_failed          |
 *
 * with `sourceId` the Stripe object id (`issfr_…`, `dp_…`, `ch_…`), the account (meterline id,
 * or the Stripe customer id when that is all the event has), the card fingerprint
 * (`payment_method_details.card.fingerprint`), the amount in minor units with its currency, and
 * the time Stripe says it happened. Recording is idempotent by (account, kind, sourceId).
 */

/** A signal as callers submit it (JSON over HTTP or in a queue message). */
export const RiskSignalSchema = z
  .object({
    kind: z.enum(SIGNAL_KINDS),
    sourceId: z.string().min(1).max(200),
    accountId: z.string().min(1).max(200).optional(),
    stripeCustomerId: z.string().min(1).max(200).optional(),
    cardFingerprint: z.string().min(1).max(200).optional(),
    amountMinor: z
      .union([z.string().regex(/^-?\d{1,18}$/), z.number().int().min(-1e15).max(1e15)])
      .optional(),
    currency: z
      .string()
      .regex(/^[A-Za-z]{3}$/)
      .optional(),
    occurredAt: z.string().refine((v) => parseRfc3339(v) !== null, "an RFC 3339 instant"),
    evidence: z.record(z.string(), z.unknown()).optional(),
  })
  .refine((s) => s.accountId !== undefined || s.stripeCustomerId !== undefined, {
    message: "accountId or stripeCustomerId is required",
    path: ["accountId"],
  })
  .refine((s) => (s.amountMinor === undefined) === (s.currency === undefined), {
    message: "amountMinor and currency go together",
    path: ["currency"],
  });
export type RiskSignalWire = z.infer<typeof RiskSignalSchema>;

/** A signal to record, in the units lib/ works with. */
export interface RiskSignalInput {
  kind: SignalKind;
  /** The provider's id of the fact (Stripe object id, detector window): the idempotency key. */
  sourceId: string;
  accountId?: string | null;
  /** Resolved to the account through `accounts.stripe_customer_id` when accountId is absent. */
  stripeCustomerId?: string | null;
  /** Stripe's card fingerprint; hashed before it is stored. */
  cardFingerprint?: string | null;
  /** Integer minor units as text (never a float), with its ISO currency. */
  amountMinor?: string | null;
  currency?: string | null;
  /** When the fact happened (Stripe's `created`), ms since the epoch. */
  occurredAtMs: number;
  evidence?: Record<string, unknown>;
}

/** Converts the wire shape (already validated) to a RiskSignalInput. */
export function signalFromWire(wire: RiskSignalWire): RiskSignalInput {
  return {
    kind: wire.kind,
    sourceId: wire.sourceId,
    accountId: wire.accountId ?? null,
    stripeCustomerId: wire.stripeCustomerId ?? null,
    cardFingerprint: wire.cardFingerprint ?? null,
    amountMinor: wire.amountMinor === undefined ? null : String(wire.amountMinor),
    currency: wire.currency?.toUpperCase() ?? null,
    occurredAtMs: parseRfc3339(wire.occurredAt) as number,
    evidence: wire.evidence ?? {},
  };
}
