import { z } from "zod";

/**
 * Payment messages on the `meterline-work` queue (`{ v: 1, kind, ... }`):
 * - `payment.collect`: collect an invoice (sent by lib/billing after finalizing a
 *   charge_automatically invoice with an amount due; also by the payments tick for dunning).
 * - `stripe.event`: apply a stored Stripe event (sent by the webhook function).
 */
export const PAYMENT_MESSAGE_KINDS = ["payment.collect", "stripe.event"] as const;

const CollectMessage = z.object({
  v: z.literal(1),
  kind: z.literal("payment.collect"),
  invoiceId: z.string().min(1).max(200),
  /** Omitted by lib/billing: `initial`. */
  mode: z.enum(["initial", "dunning", "manual"]).optional(),
});
const StripeEventMessage = z.object({
  v: z.literal(1),
  kind: z.literal("stripe.event"),
  eventId: z.string().min(1).max(200),
});
const PaymentMessage = z.discriminatedUnion("kind", [CollectMessage, StripeEventMessage]);
export type PaymentMessageBody = z.infer<typeof PaymentMessage>;

/** A `payment.collect` message. */
export function collectMessage(
  invoiceId: string,
  mode?: "initial" | "dunning" | "manual",
): PaymentMessageBody {
  return mode === undefined
    ? { v: 1, kind: "payment.collect", invoiceId }
    : { v: 1, kind: "payment.collect", invoiceId, mode };
}

/** A `stripe.event` message. */
export function stripeEventMessage(eventId: string): PaymentMessageBody {
  return { v: 1, kind: "stripe.event", eventId };
}

/** Validates a payment message; null when malformed (retrying cannot fix it). */
export function parsePaymentMessage(body: unknown): PaymentMessageBody | null {
  const parsed = PaymentMessage.safeParse(body);
  return parsed.success ? parsed.data : null;
}
