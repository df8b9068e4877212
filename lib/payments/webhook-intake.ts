import type { Queryable } from "../adapters/postgres.ts";
import { type Stripe, stripeCrypto } from "../adapters/stripe.ts";
import { AppError } from "../errors/index.ts";
import type { Logger } from "../log/logger.ts";

/**
 * The fast half of the Stripe webhook: verify the signature over the exact bytes received,
 * store the event once by its id, and hand it to the work queue. Applying it is
 * lib/payments/webhook-events.ts, on the queue.
 */

/** Stripe's default: a signature older than this many seconds is refused (replay protection). */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

/**
 * Raw secret values already warned about in this isolate (lifetime: the isolate). A secret
 * pasted with a trailing newline would otherwise fail every webhook quietly; it is trimmed,
 * and the misconfiguration is logged once per isolate instead of on every request.
 */
const WARNED_SECRETS = new Set<string>();

/**
 * The signing secret to verify with: trimmed. When the configured value differs from its trimmed
 * form, logs a loud warning (once per isolate and value) naming what was stripped, never the
 * secret itself.
 */
export function webhookSecret(configured: string, log: Logger): string {
  const trimmed = configured.trim();
  if (trimmed !== configured && !WARNED_SECRETS.has(configured)) {
    WARNED_SECRETS.add(configured);
    log.warn("STRIPE_WEBHOOK_SECRET has leading or trailing whitespace; it was trimmed", {
      strippedCharacters: configured.length - trimmed.length,
      fix: "Set the secret again without whitespace (wrangler secret put STRIPE_WEBHOOK_SECRET)",
    });
  }
  return trimmed;
}

function invalid(detail: string, cause?: unknown): AppError {
  return new AppError("WEBHOOK_SIGNATURE_INVALID", "Stripe webhook rejected", {
    detail,
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * Verifies `Stripe-Signature` over the raw body with the SDK's async verification and the Web
 * Crypto provider (tolerance 300 s against `nowMs`) and returns the event. Throws
 * WEBHOOK_SIGNATURE_INVALID (400) for a missing or bad signature, a stale timestamp or a body
 * that is not a Stripe event.
 */
export async function verifyStripeEvent(
  stripe: Stripe,
  rawBody: Uint8Array,
  signature: string | null,
  secret: string,
  nowMs: number,
): Promise<Stripe.Event> {
  if (!signature) {
    throw invalid("The Stripe-Signature header is missing.");
  }
  let event: Stripe.Event;
  try {
    event = await stripe.webhooks.constructEventAsync(
      rawBody,
      signature,
      secret,
      WEBHOOK_TOLERANCE_SECONDS,
      stripeCrypto,
      nowMs,
    );
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw invalid(
      error instanceof SyntaxError
        ? "The signed body is not JSON."
        : /Timestamp outside the tolerance zone/i.test(message)
          ? "The signature's timestamp is outside the 300-second tolerance."
          : "The signature does not match the body and the configured signing secret.",
      error,
    );
  }
  const shape = event as { id?: unknown; type?: unknown; created?: unknown };
  if (
    typeof shape.id !== "string" ||
    typeof shape.type !== "string" ||
    typeof shape.created !== "number"
  ) {
    throw invalid("The signed body is not a Stripe event (id, type and created are required).");
  }
  return event;
}

export interface StoredEvent {
  /** False when the event id was stored before (a redelivery or a concurrent duplicate). */
  inserted: boolean;
  /** True when it has already been applied (a duplicate needs no new work). */
  processed: boolean;
  deliveries: number;
}

/**
 * Stores a verified event by its id; a repeat only counts the delivery. `rawBody` is kept as
 * text exactly as signed.
 */
export async function storeStripeEvent(
  db: Queryable,
  event: Stripe.Event,
  rawBody: string,
  nowMs: number,
): Promise<StoredEvent> {
  const object = event.data?.object as { id?: unknown } | undefined;
  const { rows } = await db.query<{ inserted: boolean; processed: boolean; deliveries: number }>(
    `insert into stripe_events (id, type, object_id, stripe_created_at, body, received_at)
     values ($1, $2, $3, $4, $5, $6)
     on conflict (id) do update set deliveries = stripe_events.deliveries + 1
     returning (xmax = 0) as inserted, processed_at is not null as processed, deliveries`,
    [
      event.id,
      event.type,
      typeof object?.id === "string" ? object.id : null,
      new Date(event.created * 1000).toISOString(),
      rawBody,
      new Date(nowMs).toISOString(),
    ],
  );
  const row = rows[0];
  return {
    inserted: row?.inserted === true,
    processed: row?.processed === true,
    deliveries: row?.deliveries ?? 1,
  };
}

/** Unprocessed events received before `beforeMs` (lost queue messages), oldest first. */
export async function unprocessedEvents(
  db: Queryable,
  beforeMs: number,
  limit: number,
): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `select id from stripe_events where processed_at is null and received_at < $1
      order by received_at limit $2`,
    [new Date(beforeMs).toISOString(), limit],
  );
  return rows.map((row) => row.id);
}
