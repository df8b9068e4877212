import { createRoute, z } from "@hono/zod-openapi";
import { openDatabase } from "../../lib/adapters/postgres.ts";
import { openStripe } from "../../lib/adapters/stripe.ts";
import { AppError } from "../../lib/errors/index.ts";
import { stripeEventMessage } from "../../lib/payments/messages.ts";
import {
  storeStripeEvent,
  verifyStripeEvent,
  webhookSecret,
} from "../../lib/payments/webhook-intake.ts";
import { createRouter, problemResponses } from "../openapi.ts";

/** Stripe's events are a few KB; anything this large is not one. */
const MAX_WEBHOOK_BYTES = 1_048_576;

/**
 * `POST /webhooks/stripe`: verifies the signature over the exact bytes received, stores the event
 * once by its id and enqueues its processing on the work queue, then answers 200 at once. A bad
 * signature, a stale one or a body that is not an event is 400 and stores nothing. A duplicate
 * delivery is acknowledged (and re-enqueued only if it was never applied).
 */
export const stripeWebhookRoutes = createRouter();

stripeWebhookRoutes.openapi(
  createRoute({
    method: "post",
    path: "/webhooks/stripe",
    summary: "Receive a Stripe webhook event",
    description:
      "Called by Stripe. The body must be the exact signed payload and `Stripe-Signature` must " +
      "verify with the endpoint's signing secret within 300 seconds.",
    request: {
      headers: z.object({ "stripe-signature": z.string().optional() }),
    },
    responses: {
      200: {
        description: "Stored (or already stored) and queued",
        content: {
          "application/json": {
            schema: z.object({
              received: z.literal(true),
              eventId: z.string(),
              duplicate: z.boolean(),
            }),
          },
        },
      },
      ...problemResponses(400, 413, 503),
    },
  }),
  async (c) => {
    const config = c.get("config");
    const log = c.get("log");
    const raw = new Uint8Array(await c.req.arrayBuffer());
    if (raw.byteLength > MAX_WEBHOOK_BYTES) {
      throw new AppError("PAYLOAD_TOO_LARGE", "Webhook body too large", {
        detail: `At most ${MAX_WEBHOOK_BYTES} bytes.`,
      });
    }
    const nowMs = c.get("clock").nowMs();
    const event = await verifyStripeEvent(
      openStripe(config.stripe),
      raw,
      c.req.header("stripe-signature") ?? null,
      webhookSecret(c.env.STRIPE_WEBHOOK_SECRET, log),
      nowMs,
    );
    const db = openDatabase(config.database, { max: 1 });
    try {
      const stored = await storeStripeEvent(db, event, new TextDecoder().decode(raw), nowMs);
      if (!stored.processed) {
        await c.env.WORK.send(stripeEventMessage(event.id), { contentType: "json" });
      }
      log.info("stripe event received", {
        eventId: event.id,
        type: event.type,
        duplicate: !stored.inserted,
        deliveries: stored.deliveries,
      });
      return c.json(
        { received: true as const, eventId: event.id, duplicate: !stored.inserted },
        200,
      );
    } finally {
      c.executionCtx.waitUntil(db.end());
    }
  },
);
