/**
 * A typed client for the Stripe sandbox's control API (`/_sandbox/`), for tests in Node and in
 * workerd alike: it needs only `fetch`. Each instance acts on the account of its secret key.
 */

export interface SandboxCoordinates {
  /** Base URL of the sandbox, e.g. `http://127.0.0.1:12111`. */
  url: string;
  secretKey: string;
}

export interface WebhookSettings {
  url: string | null;
  mode: "push" | "pull";
  secret: string;
  retryBaseMs: number;
  maxAttempts: number;
}

export interface SandboxAccount {
  id: string;
  secretKey: string;
  webhook: WebhookSettings;
}

export interface SandboxClock {
  /** Unix seconds on this account's sandbox clock. */
  now: number;
  frozen: boolean;
}

export interface FaultSpec {
  kind: "error_500" | "timeout" | "drop_after_success" | "stall";
  /** Path prefix, e.g. `/v1/payment_intents`. */
  path: string;
  method?: "GET" | "POST" | "DELETE";
  /** How many matching requests it hits (default 1). */
  count?: number;
  idempotencyKey?: string;
  /** Flattened form names (`metadata[order]`) to values; all must match. */
  params?: Record<string, string>;
  /** error_500 only: save the 500 for the idempotency key, as if the endpoint had begun. */
  storeIdempotency?: boolean;
}

export interface Fault {
  id: string;
  kind: FaultSpec["kind"];
  method: string | null;
  path: string;
  idempotencyKey: string | null;
  params: Record<string, string> | null;
  storeIdempotency: boolean;
  /** Matching requests it will still hit. */
  remaining: number;
  hits: number;
}

export interface DeliveryFilter {
  /** Events whose object is, or names as customer / payment_intent / charge, one of these. */
  relatedTo?: string | string[];
  /** Exact event type or `prefix.*`. */
  type?: string;
  eventIds?: string[];
}

export interface PulledDelivery {
  deliveryId: string;
  eventId: string;
  type: string;
  /** Lower-case header names, `stripe-signature` included. */
  headers: Record<string, string>;
  /** The exact bytes that were signed. */
  body: string;
}

export interface PushResult {
  deliveryId: string;
  eventId: string;
  status: number | null;
  error: string | null;
}

export interface DeliveryRecord {
  id: string;
  eventId: string;
  state: "held" | "pending" | "delivered" | "failed";
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
}

export interface LoggedRequest {
  requestId: string;
  method: string;
  path: string;
  idempotencyKey: string | null;
  status: number | null;
  replayed: boolean;
  fault: string | null;
}

/** Control-API calls for one account; `as(key)` switches account. */
export class StripeSandboxControl {
  readonly url: string;
  readonly secretKey: string;

  constructor(coordinates: SandboxCoordinates) {
    this.url = coordinates.url.replace(/\/$/, "");
    this.secretKey = coordinates.secretKey;
  }

  /** A control client for another account of the same sandbox. */
  as(secretKey: string): StripeSandboxControl {
    return new StripeSandboxControl({ url: this.url, secretKey });
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.url}/_sandbox${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.secretKey}`,
        "content-type": "application/json",
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) {
      throw new Error(`sandbox ${method} ${path} answered ${response.status}: ${text}`);
    }
    return JSON.parse(text) as T;
  }

  /** A new isolated account (own objects, clock, faults and webhook endpoint). */
  createAccount(
    options: { webhookUrl?: string; webhookMode?: "push" | "pull"; webhookSecret?: string } = {},
  ): Promise<SandboxAccount> {
    return this.#call("POST", "/accounts", options);
  }

  /** Another secret key for this account (idempotency keys are scoped per secret key). */
  async addSecretKey(): Promise<string> {
    return (await this.#call<{ secretKey: string }>("POST", "/api_keys", {})).secretKey;
  }

  clock(): Promise<SandboxClock> {
    return this.#call("GET", "/clock");
  }

  /** Moves this account's clock forward and settles whatever fell due. */
  advanceClock(seconds: number): Promise<SandboxClock & { settled: number }> {
    return this.#call("POST", "/clock", { advanceSeconds: seconds });
  }

  /** Stops (or restarts) this account's clock so timestamps are exact. */
  freezeClock(frozen = true): Promise<SandboxClock> {
    return this.#call("POST", "/clock", { frozen });
  }

  addFault(spec: FaultSpec): Promise<Fault> {
    return this.#call("POST", "/faults", spec);
  }

  faults(): Promise<{ faults: Fault[]; stalled: number }> {
    return this.#call("GET", "/faults");
  }

  clearFaults(): Promise<{ removed: number; released: number }> {
    return this.#call("DELETE", "/faults");
  }

  /** Lets stalled requests run; returns how many were released. */
  async releaseStalled(faultId?: string): Promise<number> {
    const body = faultId === undefined ? {} : { faultId };
    return (await this.#call<{ released: number }>("POST", "/faults/release", body)).released;
  }

  webhookSettings(): Promise<WebhookSettings> {
    return this.#call("GET", "/webhooks/config");
  }

  configureWebhooks(
    settings: Partial<Pick<WebhookSettings, "url" | "mode" | "retryBaseMs" | "maxAttempts">>,
  ): Promise<WebhookSettings> {
    return this.#call("POST", "/webhooks/config", settings);
  }

  /** Held deliveries, signed now, oldest first; removed from the queue unless `peek`. */
  async pullWebhooks(
    filter: DeliveryFilter & { limit?: number; peek?: boolean } = {},
  ): Promise<PulledDelivery[]> {
    return (await this.#call<{ deliveries: PulledDelivery[] }>("POST", "/webhooks/pull", filter))
      .deliveries;
  }

  /** Pushes held deliveries to the webhook URL one by one, in creation or reverse order. */
  async flushWebhooks(
    filter: DeliveryFilter & { order?: "created" | "reverse" } = {},
  ): Promise<PushResult[]> {
    return (await this.#call<{ results: PushResult[] }>("POST", "/webhooks/flush", filter)).results;
  }

  /** Delivers an event again (a duplicate delivery), `times` more times. */
  async redeliver(eventId: string, times = 1): Promise<DeliveryRecord[]> {
    return (
      await this.#call<{ deliveries: DeliveryRecord[] }>("POST", "/webhooks/redeliver", {
        eventId,
        times,
      })
    ).deliveries;
  }

  async deliveries(filter: { eventId?: string; relatedTo?: string; type?: string } = {}) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(filter)) {
      if (value !== undefined) {
        query.set(key, value);
      }
    }
    return (
      await this.#call<{ deliveries: DeliveryRecord[] }>("GET", `/webhooks/deliveries?${query}`)
    ).deliveries;
  }

  /** Moves a processing PaymentIntent to its final state now. */
  settlePaymentIntent(id: string, outcome?: "succeeded" | "failed"): Promise<unknown> {
    return this.#call("POST", `/payment_intents/${id}/settle`, outcome ? { outcome } : {});
  }

  createDispute(chargeId: string, reason?: string): Promise<{ id: string; status: string }> {
    return this.#call("POST", "/disputes", { charge: chargeId, ...(reason ? { reason } : {}) });
  }

  closeDispute(id: string, outcome: "won" | "lost"): Promise<{ id: string; status: string }> {
    return this.#call("POST", `/disputes/${id}/close`, { outcome });
  }

  createEarlyFraudWarning(chargeId: string, fraudType?: string): Promise<{ id: string }> {
    return this.#call("POST", "/early_fraud_warnings", {
      charge: chargeId,
      ...(fraudType ? { fraudType } : {}),
    });
  }

  async requests(pathPrefix?: string, limit = 100): Promise<LoggedRequest[]> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (pathPrefix) {
      query.set("pathPrefix", pathPrefix);
    }
    return (await this.#call<{ requests: LoggedRequest[] }>("GET", `/requests?${query}`)).requests;
  }
}
