import { isAppError } from "../errors/index.ts";
import { collectInvoice, shouldRetryCollection } from "./collect.ts";
import type { PaymentDeps } from "./deps.ts";
import { parsePaymentMessage } from "./messages.ts";
import { processStripeEvent } from "./webhook-events.ts";

/** What the work consumer should do with a payment message. */
export type PaymentMessageOutcome = { action: "ack" | "retry" | "drop"; detail: string };

/**
 * Handles one `payment.collect` or `stripe.event` message. Malformed bodies are dropped;
 * "answer unknown" and "busy" collections, and any thrown failure (Postgres, Stripe, the
 * queue), ask for a retry — every step is idempotent, so a retry repeats nothing that happened.
 * An unknown invoice is acked (retrying cannot create it) and logged.
 */
export async function handlePaymentMessage(
  body: unknown,
  deps: PaymentDeps,
): Promise<PaymentMessageOutcome> {
  const message = parsePaymentMessage(body);
  if (message === null) {
    return { action: "drop", detail: "not a valid payment.collect or stripe.event message" };
  }
  try {
    if (message.kind === "payment.collect") {
      const outcome = await collectInvoice(deps, message.invoiceId, {
        mode: message.mode ?? "initial",
      });
      return {
        action: shouldRetryCollection(outcome) ? "retry" : "ack",
        detail: `collect ${message.invoiceId}: ${outcome.status}`,
      };
    }
    const processed = await processStripeEvent(deps, message.eventId);
    return {
      action: "ack",
      detail:
        processed.status === "missing"
          ? `event ${message.eventId} is not stored`
          : `event ${message.eventId} ${processed.status}: ${processed.status === "applied" ? processed.outcome : (processed.outcome ?? "")}`,
    };
  } catch (error) {
    if (isAppError(error) && error.code === "NOT_FOUND") {
      deps.log.error("payment message names nothing that exists", { body, error });
      return { action: "ack", detail: error.message };
    }
    const detail = isAppError(error) ? `${error.code}: ${error.message}` : String(error);
    return { action: "retry", detail };
  }
}
