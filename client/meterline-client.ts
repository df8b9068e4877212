/**
 * A small producer client for meterline's `POST /v1/events`, for Node 18+, Workers, Deno and
 * browsers (it needs only fetch and CompressionStream).
 *
 * - Batches events (by count and bytes) and sends batches concurrently; events that must arrive
 *   in order (the samples of one time-weighted series) keep their order with `orderKey`.
 * - Gzips bodies.
 * - Every event gets its id when it is tracked, so a retried batch carries the same ids and
 *   meterline counts each event once, reporting the repeats as duplicates.
 * - Retries network failures, timeouts, 408, 429 and 5xx with exponential backoff and full
 *   jitter, honouring `Retry-After`; other 4xx answers are returned, not retried.
 */

export interface UsageEventInput {
  /** Unique per account; generated when omitted. Keep your own if you may re-send later. */
  id?: string;
  /** Required with the admin key; implied by an account key. */
  account?: string;
  meter: string;
  /** Decimal; strings keep full precision. */
  value?: string | number;
  /** RFC 3339 with zone, or a Date. Defaults to the time the event is tracked. */
  time?: string | Date;
  properties?: Record<string, string | number | boolean>;
}

export interface Rejection {
  index: number;
  id: string | null;
  code: string;
  detail: string;
}

export interface BatchResult {
  events: number;
  accepted: number;
  duplicates: number;
  rejected: Rejection[];
  /** Requests made for this batch (1 + retries). */
  attempts: number;
  /** Set when the batch was not delivered: the last HTTP status or network error. */
  failure?: { status: number | null; detail: string };
}

export interface MeterlineClientOptions {
  baseUrl: string;
  apiKey: string;
  maxBatchEvents?: number;
  maxBatchBytes?: number;
  /** Batches in flight at once. */
  concurrency?: number;
  /**
   * Events with the same key are delivered in the order they were tracked: a batch holding a
   * key waits while an earlier batch holding it is still in flight (retries included). Use it
   * for the samples of a time-weighted series, which meterline refuses out of order
   * (`SAMPLE_OUT_OF_ORDER`), e.g. `(e) => e.properties?.deployment ?? null`. Without it,
   * batches may overtake each other.
   */
  orderKey?: (event: UsageEventInput) => string | number | boolean | null | undefined;
  gzip?: boolean;
  maxRetries?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  timeoutMs?: number;
  /** Called after every batch, delivered or not. */
  onBatch?: (result: BatchResult) => void;
  fetch?: typeof fetch;
  /** Random source for jitter and ids (tests make it deterministic). */
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

interface WireEvent {
  id: string;
  account?: string;
  meter: string;
  value?: string | number;
  time: string;
  properties?: Record<string, string | number | boolean>;
}

const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Seconds or an HTTP date, as `Retry-After` allows; null when absent or unreadable. */
export function retryAfterMs(header: string | null, nowMs: number): number | null {
  if (header === null || header.trim() === "") {
    return null;
  }
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) {
    return seconds * 1000;
  }
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, date - nowMs);
}

async function gzip(text: string): Promise<ArrayBuffer> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Response(stream).arrayBuffer();
}

export class MeterlineClient {
  readonly #options: Required<Omit<MeterlineClientOptions, "onBatch" | "fetch" | "orderKey">> &
    Pick<MeterlineClientOptions, "onBatch" | "orderKey"> & { fetch: typeof fetch };
  #pending: WireEvent[] = [];
  #pendingBytes = 0;
  /** The order keys of the queued events. */
  #pendingKeys = new Set<string>();
  /** Each batch in flight, with the order keys it holds. */
  #inFlight = new Map<Promise<BatchResult>, Set<string>>();
  #results: BatchResult[] = [];
  #counter = 0;

  constructor(options: MeterlineClientOptions) {
    this.#options = {
      maxBatchEvents: 1000,
      maxBatchBytes: 1024 * 1024,
      concurrency: 4,
      gzip: true,
      maxRetries: 8,
      baseBackoffMs: 200,
      maxBackoffMs: 30_000,
      timeoutMs: 30_000,
      random: Math.random,
      sleep: defaultSleep,
      ...options,
      fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
      baseUrl: options.baseUrl.replace(/\/+$/, ""),
    };
  }

  #newId(): string {
    this.#counter += 1;
    const random = Math.floor(this.#options.random() * 2 ** 48).toString(36);
    return `evt_${Date.now().toString(36)}_${this.#counter.toString(36)}_${random}`;
  }

  /**
   * Queues one event; sends a batch when one is full (waiting for a free slot when `concurrency`
   * batches are already in flight). Returns the id the event will carry.
   */
  async track(event: UsageEventInput): Promise<string> {
    const wire: WireEvent = {
      id: event.id ?? this.#newId(),
      meter: event.meter,
      time:
        event.time instanceof Date
          ? event.time.toISOString()
          : (event.time ?? new Date().toISOString()),
    };
    if (event.account !== undefined) {
      wire.account = event.account;
    }
    if (event.value !== undefined) {
      wire.value = event.value;
    }
    if (event.properties !== undefined) {
      wire.properties = event.properties;
    }
    const bytes = JSON.stringify(wire).length + 1;
    if (this.#pending.length > 0 && this.#pendingBytes + bytes > this.#options.maxBatchBytes) {
      await this.#dispatch();
    }
    this.#pending.push(wire);
    this.#pendingBytes += bytes;
    const key = this.#options.orderKey?.(event);
    if (key !== null && key !== undefined) {
      this.#pendingKeys.add(`${wire.account ?? ""}\u0000${String(key)}`);
    }
    if (this.#pending.length >= this.#options.maxBatchEvents) {
      await this.#dispatch();
    }
    return wire.id;
  }

  /** Sends everything queued and waits for every batch; returns the results since last flush. */
  async flush(): Promise<BatchResult[]> {
    if (this.#pending.length > 0) {
      await this.#dispatch();
    }
    while (this.#inFlight.size > 0) {
      await Promise.race(this.#inFlight.keys());
    }
    const results = this.#results;
    this.#results = [];
    return results;
  }

  async #dispatch(): Promise<void> {
    const batch = this.#pending;
    const keys = this.#pendingKeys;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#pendingKeys = new Set();
    while (this.#inFlight.size >= this.#options.concurrency || this.#holdsAny(keys)) {
      await Promise.race(this.#inFlight.keys());
    }
    const sending = this.sendBatch(batch).then((result) => {
      this.#results.push(result);
      this.#options.onBatch?.(result);
      return result;
    });
    this.#inFlight.set(sending, keys);
    void sending.finally(() => this.#inFlight.delete(sending));
  }

  /** Whether a batch in flight holds one of `keys`. */
  #holdsAny(keys: Set<string>): boolean {
    if (keys.size === 0) {
      return false;
    }
    for (const held of this.#inFlight.values()) {
      for (const key of keys) {
        if (held.has(key)) {
          return true;
        }
      }
    }
    return false;
  }

  /** Sends one batch as one request, retrying as described above. Never throws. */
  async sendBatch(events: WireEvent[]): Promise<BatchResult> {
    const json = JSON.stringify(events);
    const body = this.#options.gzip ? await gzip(json) : json;
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.#options.apiKey}`,
      "content-type": "application/json",
    };
    if (this.#options.gzip) {
      headers["content-encoding"] = "gzip";
    }
    let attempts = 0;
    let failure: BatchResult["failure"];
    for (;;) {
      attempts += 1;
      let waitMs: number | null = null;
      try {
        const response = await this.#options.fetch(`${this.#options.baseUrl}/v1/events`, {
          method: "POST",
          headers,
          body,
          signal: AbortSignal.timeout(this.#options.timeoutMs),
        });
        const text = await response.text();
        if (response.status === 202) {
          const summary = JSON.parse(text) as {
            accepted: number;
            duplicates: number;
            rejected: Rejection[];
          };
          return { events: events.length, attempts, ...summary };
        }
        failure = { status: response.status, detail: text.slice(0, 500) };
        if (!RETRYABLE_STATUS.has(response.status)) {
          return {
            events: events.length,
            accepted: 0,
            duplicates: 0,
            rejected: [],
            attempts,
            failure,
          };
        }
        waitMs = retryAfterMs(response.headers.get("retry-after"), Date.now());
      } catch (error) {
        failure = { status: null, detail: error instanceof Error ? error.message : String(error) };
      }
      if (attempts > this.#options.maxRetries) {
        return {
          events: events.length,
          accepted: 0,
          duplicates: 0,
          rejected: [],
          attempts,
          failure,
        };
      }
      const ceiling = Math.min(
        this.#options.maxBackoffMs,
        this.#options.baseBackoffMs * 2 ** (attempts - 1),
      );
      const backoff = Math.floor(this.#options.random() * ceiling);
      await this.#options.sleep(Math.max(backoff, waitMs ?? 0));
    }
  }
}
