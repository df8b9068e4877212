import type { Stripe } from "../adapters/stripe.ts";
import { statusOfIntent } from "./attempt-state.ts";
import type { AttemptObservation } from "./attempts.ts";
import { classifyStripeError } from "./stripe-errors.ts";

/**
 * Reading PaymentIntents back from Stripe: by id, and every intent meterline made (or anyone
 * made) for an invoice, found by the `invoice_id` metadata every meterline intent carries.
 */

/** Metadata every meterline PaymentIntent carries; search and reconciliation rely on it. */
export interface IntentMetadata {
  invoice_id: string;
  account_id: string;
  attempt_id: string;
  attempt_no: string;
}

/** Search results per page (Stripe's maximum). */
const SEARCH_PAGE_SIZE = 100;
/** Pages read before giving up; an invoice with more than 1,000 intents is itself a problem. */
const MAX_SEARCH_PAGES = 10;

function quoted(value: string): string {
  return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

/**
 * Every PaymentIntent whose metadata names the invoice, newest first. Stripe's search index can
 * lag by up to a minute, so callers use it only for intents older than that or as a second
 * check (an attempt's own key is always tried first). Throws the SDK's error on failure.
 */
export async function intentsOfInvoice(
  stripe: Stripe,
  invoiceId: string,
): Promise<Stripe.PaymentIntent[]> {
  const found: Stripe.PaymentIntent[] = [];
  let page: string | undefined;
  for (let i = 0; i < MAX_SEARCH_PAGES; i += 1) {
    const result = await stripe.paymentIntents.search({
      query: `metadata['invoice_id']:${quoted(invoiceId)}`,
      limit: SEARCH_PAGE_SIZE,
      ...(page ? { page } : {}),
    });
    found.push(...result.data);
    if (!result.has_more || !result.next_page) {
      break;
    }
    page = result.next_page;
  }
  return found;
}

/** The intent with this id, or null when Stripe has none (404). Other failures throw. */
export async function retrieveIntent(
  stripe: Stripe,
  paymentIntentId: string,
): Promise<Stripe.PaymentIntent | null> {
  try {
    return await stripe.paymentIntents.retrieve(paymentIntentId);
  } catch (error) {
    const classified = classifyStripeError(error);
    if (classified.statusCode === 404) {
      return null;
    }
    throw error;
  }
}

/** The id of a member that may be expanded (`latest_charge`, `customer`...). */
export function idOf(value: string | { id: string } | null | undefined): string | null {
  if (value === null || value === undefined) {
    return null;
  }
  return typeof value === "string" ? value : value.id;
}

/** What a PaymentIntent says about the attempt behind it. */
export function observationOfIntent(
  intent: Stripe.PaymentIntent,
  stripeAtMs: number | null,
): AttemptObservation {
  const status = statusOfIntent(intent.status);
  const error = intent.last_payment_error;
  return {
    status,
    stripeAtMs,
    paymentIntentId: intent.id,
    chargeId: idOf(intent.latest_charge as string | { id: string } | null),
    failureCode:
      status === "failed"
        ? (error?.decline_code ?? error?.code ?? `intent_${intent.status}`)
        : status === "canceled"
          ? (intent.cancellation_reason ?? "canceled")
          : null,
    failureMessage: status === "failed" || status === "canceled" ? (error?.message ?? null) : null,
  };
}

/** The intent's amount in integer minor units; throws on a value that is not a safe integer. */
export function intentAmountMinor(intent: { amount: number }): bigint {
  if (!Number.isSafeInteger(intent.amount)) {
    throw new Error(`Stripe amount ${intent.amount} is not an integer number of minor units`);
  }
  return BigInt(intent.amount);
}
