/**
 * Events: every state change records one with a snapshot of the object (and, for updates, the
 * previous values of what changed), then hands it to webhook delivery. Also the
 * `GET /v1/events` endpoints.
 */
import type { Ctx } from "./context.ts";
import { resourceMissing } from "./failure.ts";
import type { FormObject } from "./form.ts";
import { newId } from "./ids.ts";
import { LIST_PARAMS, listPage } from "./lists.ts";
import { Params } from "./params.ts";
import { clone, MODELLED_API_VERSION, type StoredObject, type StripeObject } from "./state.ts";

/** Records event `type` for `object` (snapshotted now) and queues its webhook deliveries. */
export function emitEvent(
  ctx: Ctx,
  type: string,
  object: StripeObject,
  previous?: Record<string, unknown>,
): StoredObject {
  const data: Record<string, unknown> = { object: clone(object) };
  if (previous && Object.keys(previous).length > 0) {
    data.previous_attributes = previous;
  }
  const event: StripeObject = {
    id: newId("evt"),
    object: "event",
    api_version: MODELLED_API_VERSION,
    created: ctx.now,
    data,
    livemode: false,
    pending_webhooks: 0,
    request: { id: ctx.requestId, idempotency_key: ctx.idempotencyKey },
    type,
  };
  const stored = ctx.state.insert(ctx.account, event);
  event.pending_webhooks = ctx.events.enqueue(ctx.account, stored);
  return stored;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Stripe's `previous_attributes`: for each changed member its old value (null when it was
 * absent); nested hashes list only their changed members.
 */
export function previousAttributes(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const old = before[key];
    const now = after[key];
    if (JSON.stringify(old) === JSON.stringify(now)) {
      continue;
    }
    out[key] =
      isPlainObject(old) && isPlainObject(now) ? previousAttributes(old, now) : (old ?? null);
  }
  return out;
}

/** Stripe's `type` filter: exact, or a `prefix.*` wildcard. */
function typeMatches(pattern: string, type: string): boolean {
  return pattern.endsWith(".*") ? type.startsWith(pattern.slice(0, -1)) : pattern === type;
}

/** `GET /v1/events`, by `type` / `types[]` (exact or `prefix.*`) and `created`. */
export function listEvents(ctx: Ctx, query: FormObject): unknown {
  const params = new Params(query, [...LIST_PARAMS, "type", "types", "delivery_success"]);
  const type = params.string("type");
  const types = params.list("types");
  const items = ctx.state.ofType(ctx.account, "event").filter((stored) => {
    const eventType = String(stored.body.type);
    if (type && !typeMatches(type, eventType)) {
      return false;
    }
    return !types || types.some((pattern) => typeMatches(pattern, eventType));
  });
  return listPage(ctx, items, params, "/v1/events", "event");
}

/** `GET /v1/events/:id`. */
export function retrieveEvent(ctx: Ctx, id: string): unknown {
  const stored = ctx.state.findOfType(ctx.account, id, "event");
  if (!stored) {
    throw resourceMissing("event", id);
  }
  return stored.body;
}
