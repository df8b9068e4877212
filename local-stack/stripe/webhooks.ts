/**
 * Webhook delivery. Each event gets one delivery per account endpoint:
 * - push mode POSTs it to the account's URL with a `Stripe-Signature` header, in creation order
 *   per account, retrying non-2xx answers with exponential backoff (base doubles per attempt);
 * - pull mode holds it until a test fetches it, signed, through the control API (tests inside
 *   workerd have no port for the sandbox to call), or flushes held deliveries to the URL in an
 *   order of its choosing.
 * Signatures use wall-clock time, not the sandbox clock: receivers check them against theirs.
 */
import { createHmac } from "node:crypto";
import type { Logger } from "../../lib/log/logger.ts";
import type { EventSink } from "./context.ts";
import { badRequest } from "./failure.ts";
import { newId } from "./ids.ts";
import type { Account, Delivery, SandboxState, StoredObject } from "./state.ts";

/** How long one push may take before it counts as failed. */
const PUSH_TIMEOUT_MS = 10_000;

/** `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<payload>")>`, as Stripe signs. */
export function signatureHeader(secret: string, payload: string, timestampSeconds: number): string {
  const signature = createHmac("sha256", secret)
    .update(`${timestampSeconds}.${payload}`, "utf8")
    .digest("hex");
  return `t=${timestampSeconds},v1=${signature}`;
}

/** Only loopback endpoints: the sandbox must never send anything off this machine. */
export function assertLoopbackUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw badRequest(`Invalid webhook URL: ${value}`, "url");
  }
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  if (!loopback || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw badRequest(`Webhook URLs must be http(s) on loopback, not ${value}`, "url");
  }
  return url.toString();
}

export interface DeliveryFilter {
  /** Ids any of which the event's object is, or names as customer/payment_intent/charge. */
  relatedTo?: string[];
  /** Exact type, or `prefix.*`. */
  type?: string;
  eventIds?: string[];
}

export interface SignedDelivery {
  deliveryId: string;
  eventId: string;
  type: string;
  headers: Record<string, string>;
  body: string;
}

export interface PushResult {
  deliveryId: string;
  eventId: string;
  status: number | null;
  error: string | null;
}

function related(event: StoredObject, ids: string[]): boolean {
  const object = (event.body.data as { object: Record<string, unknown> }).object;
  return ["id", "customer", "payment_intent", "charge"].some((field) =>
    ids.includes(object[field] as string),
  );
}

export class WebhookDispatcher implements EventSink {
  readonly #state: SandboxState;
  readonly #log: Logger;
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #chains = new Map<string, Promise<void>>();
  #stopped = false;

  constructor(state: SandboxState, log: Logger) {
    this.#state = state;
    this.#log = log;
  }

  enqueue(account: Account, event: StoredObject): number {
    if (account.webhookMode === "pull") {
      this.#create(account, event.id, "held");
      return 1;
    }
    if (account.webhookUrl) {
      const delivery = this.#create(account, event.id, "pending");
      this.#schedule(delivery, 0);
      return 1;
    }
    return 0;
  }

  #create(account: Account, eventId: string, state: Delivery["state"]): Delivery {
    const delivery: Delivery = {
      id: newId("whdel"),
      account: account.id,
      eventId,
      seq: this.#state.nextSeq(),
      state,
      attempts: 0,
      nextAttemptAtMs: state === "pending" ? Date.now() : null,
      lastStatus: null,
      lastError: null,
    };
    this.#state.deliveries.set(delivery.id, delivery);
    return delivery;
  }

  /** Signs the event's current JSON for one delivery. */
  sign(account: Account, delivery: Delivery): SignedDelivery {
    const event = this.#state.objects.get(delivery.eventId) as StoredObject;
    const body = JSON.stringify(event.body, null, 2);
    const timestamp = Math.floor(Date.now() / 1000);
    return {
      deliveryId: delivery.id,
      eventId: delivery.eventId,
      type: String(event.body.type),
      headers: {
        "content-type": "application/json; charset=utf-8",
        "stripe-signature": signatureHeader(account.webhookSecret, body, timestamp),
        "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
      },
      body,
    };
  }

  #markDelivered(delivery: Delivery): void {
    delivery.state = "delivered";
    delivery.nextAttemptAtMs = null;
    this.#state.deliveries.touch(delivery.id);
    const event = this.#state.objects.get(delivery.eventId);
    if (event && Number(event.body.pending_webhooks) > 0) {
      event.body.pending_webhooks = Number(event.body.pending_webhooks) - 1;
      this.#state.save(event);
    }
  }

  #schedule(delivery: Delivery, delayMs: number): void {
    if (this.#stopped) {
      return;
    }
    clearTimeout(this.#timers.get(delivery.id));
    const timer = setTimeout(() => {
      this.#timers.delete(delivery.id);
      const previous = this.#chains.get(delivery.account) ?? Promise.resolve();
      const next = previous.then(() => this.#attempt(delivery.id).then(() => undefined));
      this.#chains.set(delivery.account, next);
    }, delayMs);
    this.#timers.set(delivery.id, timer);
  }

  /** One push attempt; failures schedule the next one until attempts run out. */
  async #attempt(deliveryId: string): Promise<PushResult | undefined> {
    const delivery = this.#state.deliveries.get(deliveryId);
    const account = delivery && this.#state.accounts.get(delivery.account);
    if (!delivery || !account || delivery.state !== "pending" || this.#stopped) {
      return undefined;
    }
    if (!account.webhookUrl) {
      return undefined;
    }
    const signed = this.sign(account, delivery);
    delivery.attempts += 1;
    let status: number | null = null;
    let error: string | null = null;
    try {
      // Checked again per attempt, and redirects are not followed: a 3xx counts as a failure,
      // so no endpoint can bounce the sandbox to another host.
      const response = await fetch(assertLoopbackUrl(account.webhookUrl), {
        method: "POST",
        headers: signed.headers,
        body: signed.body,
        redirect: "manual",
        signal: AbortSignal.timeout(PUSH_TIMEOUT_MS),
      });
      status = response.status;
      await response.body?.cancel();
    } catch (caught) {
      error = caught instanceof Error ? caught.message : String(caught);
    }
    delivery.lastStatus = status;
    delivery.lastError = error;
    if (status !== null && status >= 200 && status < 300) {
      this.#markDelivered(delivery);
    } else if (delivery.attempts >= account.maxAttempts) {
      delivery.state = "failed";
      delivery.nextAttemptAtMs = null;
    } else {
      const delayMs = account.retryBaseMs * 2 ** (delivery.attempts - 1);
      delivery.nextAttemptAtMs = Date.now() + delayMs;
      this.#schedule(delivery, delayMs);
    }
    this.#state.deliveries.touch(delivery.id);
    this.#state.flush();
    this.#log.info("webhook delivery", {
      eventId: delivery.eventId,
      deliveryId,
      attempt: delivery.attempts,
      status,
      error,
      state: delivery.state,
    });
    return { deliveryId, eventId: delivery.eventId, status, error };
  }

  #matching(account: Account, filter: DeliveryFilter, states: Delivery["state"][]): Delivery[] {
    const out: Delivery[] = [];
    for (const delivery of this.#state.deliveries.values()) {
      if (delivery.account !== account.id || !states.includes(delivery.state)) {
        continue;
      }
      const event = this.#state.objects.get(delivery.eventId);
      if (!event) {
        continue;
      }
      const type = String(event.body.type);
      if (
        filter.type &&
        !(filter.type.endsWith(".*")
          ? type.startsWith(filter.type.slice(0, -1))
          : type === filter.type)
      ) {
        continue;
      }
      if (filter.relatedTo && !related(event, filter.relatedTo)) {
        continue;
      }
      if (filter.eventIds && !filter.eventIds.includes(delivery.eventId)) {
        continue;
      }
      out.push(delivery);
    }
    out.sort((a, b) => a.seq - b.seq);
    if (filter.eventIds) {
      const order = filter.eventIds;
      out.sort((a, b) => order.indexOf(a.eventId) - order.indexOf(b.eventId));
    }
    return out;
  }

  /** Held deliveries matching `filter`, signed now, oldest first; consumed unless `peek`. */
  pull(account: Account, filter: DeliveryFilter, limit: number, peek: boolean): SignedDelivery[] {
    const held = this.#matching(account, filter, ["held"]).slice(0, limit);
    const signed = held.map((delivery) => this.sign(account, delivery));
    if (!peek) {
      for (const delivery of held) {
        this.#markDelivered(delivery);
      }
    }
    return signed;
  }

  /**
   * Pushes held deliveries to the account's URL one after another, in creation order, reversed,
   * or in the order of `filter.eventIds`. Failed pushes go on with the normal retry schedule.
   */
  async flush(
    account: Account,
    filter: DeliveryFilter,
    order: "created" | "reverse",
  ): Promise<PushResult[]> {
    if (!account.webhookUrl) {
      throw badRequest("This account has no webhook URL to flush to; set one first.", "url");
    }
    const held = this.#matching(account, filter, ["held"]);
    if (order === "reverse") {
      held.reverse();
    }
    const results: PushResult[] = [];
    for (const delivery of held) {
      delivery.state = "pending";
      this.#state.deliveries.touch(delivery.id);
      const result = await this.#attempt(delivery.id);
      if (result) {
        results.push(result);
      }
    }
    return results;
  }

  /** Delivers `eventId` again, `times` more times (held in pull mode, pushed otherwise). */
  redeliver(account: Account, event: StoredObject, times: number): Delivery[] {
    const created: Delivery[] = [];
    for (let i = 0; i < times; i += 1) {
      if (account.webhookMode === "pull") {
        created.push(this.#create(account, event.id, "held"));
      } else if (account.webhookUrl) {
        const delivery = this.#create(account, event.id, "pending");
        this.#schedule(delivery, 0);
        created.push(delivery);
      }
    }
    event.body.pending_webhooks = Number(event.body.pending_webhooks) + created.length;
    this.#state.save(event);
    return created;
  }

  /** Every delivery record of the account matching `filter` (any state). */
  list(account: Account, filter: DeliveryFilter): Delivery[] {
    return this.#matching(account, filter, ["held", "pending", "delivered", "failed"]);
  }

  /** After a restart: push deliveries that were waiting for an attempt. */
  resume(): void {
    for (const delivery of this.#state.deliveries.values()) {
      if (delivery.state === "pending") {
        this.#schedule(delivery, Math.max(0, (delivery.nextAttemptAtMs ?? 0) - Date.now()));
      }
    }
  }

  /** Cancels scheduled attempts; in-flight pushes finish on their own timeout. */
  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers.values()) {
      clearTimeout(timer);
    }
    this.#timers.clear();
  }
}
