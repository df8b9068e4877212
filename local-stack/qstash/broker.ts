/**
 * The QStash sandbox's bookkeeping: accepting messages (with deduplication), choosing which are
 * due (respecting delays, queue order and pauses), and recording the outcome of each attempt as
 * delivered, retried with backoff, or dead-lettered with callbacks. Every change is persisted
 * before the caller is answered. It performs no I/O besides the state file: the dispatcher (push)
 * and the pull routes make the HTTP attempts and report back here.
 */
import { randomBytes } from "node:crypto";
import { SandboxClock } from "./clock.ts";
import { DEDUP_WINDOW_MS, DEFAULT_RETRIES, type MessageDraft } from "./publish-request.ts";
import { defaultRetryDelayMs, parseRetryDelay } from "./retry-delay.ts";
import type {
  DlqRecord,
  MessageOrigin,
  MessageRecord,
  SandboxConfig,
  SandboxState,
  StateFile,
} from "./state.ts";
import { callbackBody } from "./views.ts";

/** QStash-style ids: a prefix, then time-ordered, then random. */
export function newId(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}${randomBytes(10).toString("hex")}`;
}

/** What one delivery attempt produced; `status` is absent when no HTTP answer came back. */
export interface AttemptResult {
  status?: number;
  headers?: Record<string, string[]>;
  bodyBase64?: string;
  error?: string;
}

export type AttemptOutcome =
  | { state: "DELIVERED" }
  | { state: "RETRY"; retried: number; nextAttemptMs: number }
  | { state: "FAILED"; dlqId: string }
  /** The message was cancelled (or already settled) while the attempt ran. */
  | { state: "GONE" };

export interface Accepted {
  messageId: string;
  deduplicated: boolean;
}

export class Broker {
  readonly state: SandboxState;
  readonly clock: SandboxClock;
  #file: StateFile;

  constructor(file: StateFile, state: SandboxState) {
    this.#file = file;
    this.state = state;
    this.clock = new SandboxClock(state.clock);
  }

  /** Writes the whole state (including the clock) to disk, dropping expired dedup entries. */
  persist(): void {
    const nowMs = this.clock.nowMs();
    for (const [key, entry] of Object.entries(this.state.dedup)) {
      if (entry.expiresAtMs <= nowMs) {
        delete this.state.dedup[key];
      }
    }
    this.state.clock = this.clock.snapshot();
    this.#file.save(this.state);
  }

  get config(): SandboxConfig {
    return this.state.config;
  }

  /** The key deliveries are signed with, per the rotation switch. */
  signingKey(): string {
    const { identity, config } = this.state;
    return config.signingKey === "next" ? identity.nextSigningKey : identity.currentSigningKey;
  }

  /**
   * Adds a message unless its deduplication key was seen within the window, in which case the
   * earlier message id is returned with `deduplicated: true`. Does not persist: callers accept
   * a batch and then call `persist` once, before answering.
   */
  accept(draft: MessageDraft, origin: MessageOrigin, scheduleId?: string): Accepted {
    const nowMs = this.clock.nowMs();
    if (draft.dedupKey !== undefined) {
      const seen = this.state.dedup[draft.dedupKey];
      if (seen && seen.expiresAtMs > nowMs) {
        return { messageId: seen.messageId, deduplicated: true };
      }
    }
    const { dedupKey, ...fields } = draft;
    const message: MessageRecord = {
      ...fields,
      messageId: newId("msg"),
      seq: this.state.nextSeq,
      origin,
      createdAtMs: nowMs,
      retried: 0,
    };
    if (scheduleId !== undefined) {
      message.scheduleId = scheduleId;
    }
    this.state.nextSeq += 1;
    this.state.messages[message.messageId] = message;
    if (dedupKey !== undefined) {
      this.state.dedup[dedupKey] = {
        messageId: message.messageId,
        expiresAtMs: nowMs + DEDUP_WINDOW_MS,
      };
    }
    if (message.queueName !== undefined) {
      this.ensureQueue(message.queueName);
    }
    return { messageId: message.messageId, deduplicated: false };
  }

  /** Creates a queue on first use, as QStash does for enqueue. */
  ensureQueue(name: string): void {
    if (!this.state.queues[name]) {
      const nowMs = this.clock.nowMs();
      this.state.queues[name] = {
        name,
        parallelism: 1,
        paused: false,
        createdAtMs: nowMs,
        updatedAtMs: nowMs,
      };
    }
  }

  /** Removes a pending message; false when there is no such message. Persists. */
  cancel(messageId: string): boolean {
    if (!this.state.messages[messageId]) {
      return false;
    }
    delete this.state.messages[messageId];
    this.persist();
    return true;
  }

  /**
   * Messages that may be attempted now, in acceptance order: not before their `notBefore`, not
   * already `busy` (in flight or leased to a puller), and within their queue's parallelism with
   * strict FIFO: a queue's next message waits while an earlier one is pending.
   */
  dueMessages(busy: ReadonlySet<string>): MessageRecord[] {
    const nowMs = this.clock.nowMs();
    const ordered = Object.values(this.state.messages).sort((a, b) => a.seq - b.seq);
    const active = new Map<string, number>();
    for (const message of ordered) {
      if (message.queueName !== undefined && busy.has(message.messageId)) {
        active.set(message.queueName, (active.get(message.queueName) ?? 0) + 1);
      }
    }
    const blocked = new Set<string>();
    const due: MessageRecord[] = [];
    for (const message of ordered) {
      const queue =
        message.queueName === undefined ? undefined : this.state.queues[message.queueName];
      const ready = !busy.has(message.messageId) && message.notBeforeMs <= nowMs;
      if (!queue) {
        if (ready) {
          due.push(message);
        }
        continue;
      }
      if (busy.has(message.messageId) || blocked.has(queue.name)) {
        continue;
      }
      const running = active.get(queue.name) ?? 0;
      if (queue.paused || !ready || running >= queue.parallelism) {
        blocked.add(queue.name);
        continue;
      }
      active.set(queue.name, running + 1);
      due.push(message);
    }
    return due;
  }

  /** True when deliveries to `url` wait for a puller instead of being pushed. */
  isHeld(url: string): boolean {
    return this.state.holds.some((prefix) => url.startsWith(prefix));
  }

  /**
   * Applies one attempt's result: 2xx deletes the message; anything else schedules the next
   * attempt after the backoff, or, when retries are exhausted, moves it to the DLQ. Sends the
   * callback (every answered attempt) and the failure callback (once, on dead-lettering) as new
   * messages. Persists.
   */
  recordAttempt(messageId: string, result: AttemptResult): AttemptOutcome {
    const message = this.state.messages[messageId];
    if (!message) {
      return { state: "GONE" };
    }
    const nowMs = this.clock.nowMs();
    const succeeded = result.status !== undefined && result.status >= 200 && result.status < 300;
    const sendsCallbacks = message.origin !== "callback" && message.origin !== "failure-callback";
    if (sendsCallbacks && message.callback && result.status !== undefined) {
      this.#acceptCallback(message, message.callback, "callback", callbackBody(message, result));
    }
    let outcome: AttemptOutcome;
    if (succeeded) {
      delete this.state.messages[messageId];
      outcome = { state: "DELIVERED" };
    } else if (message.retried < message.maxRetries) {
      const delayMs = this.retryDelayMs(message);
      message.retried += 1;
      message.notBeforeMs = nowMs + delayMs;
      outcome = { state: "RETRY", retried: message.retried, nextAttemptMs: message.notBeforeMs };
    } else {
      const entry = this.#deadLetter(message, result, nowMs);
      if (sendsCallbacks && message.failureCallback) {
        this.#acceptCallback(message, message.failureCallback, "failure-callback", {
          ...callbackBody(message, result),
          dlqId: entry.dlqId,
        });
      }
      outcome = { state: "FAILED", dlqId: entry.dlqId };
    }
    this.persist();
    return outcome;
  }

  /** Backoff before the next attempt of `message`, whose current attempt just failed. */
  retryDelayMs(message: MessageRecord): number {
    if (this.state.config.retryBackoff === "fast") {
      return 0;
    }
    if (message.retryDelay !== undefined) {
      return parseRetryDelay(message.retryDelay).delayMs(message.retried);
    }
    return defaultRetryDelayMs(message.retried);
  }

  #deadLetter(message: MessageRecord, result: AttemptResult, nowMs: number): DlqRecord {
    delete this.state.messages[message.messageId];
    const entry: DlqRecord = { ...message, dlqId: newId("dlq"), failedAtMs: nowMs };
    if (result.status !== undefined) {
      entry.responseStatus = result.status;
    }
    if (result.headers !== undefined) {
      entry.responseHeaders = result.headers;
    }
    if (result.bodyBase64 !== undefined) {
      entry.responseBodyBase64 = result.bodyBase64;
    }
    if (result.error !== undefined) {
      entry.error = result.error;
    }
    this.state.dlq[entry.dlqId] = entry;
    return entry;
  }

  #acceptCallback(
    source: MessageRecord,
    url: string,
    origin: "callback" | "failure-callback",
    body: Record<string, unknown>,
  ): void {
    this.accept(
      {
        url,
        method: "POST",
        headers: { "content-type": "application/json" },
        bodyBase64: Buffer.from(JSON.stringify(body)).toString("base64"),
        notBeforeMs: this.clock.nowMs(),
        maxRetries: DEFAULT_RETRIES,
        callerIp: source.callerIp,
      },
      origin,
    );
  }

  /** Puts a dead-lettered message back as a new message (fresh retries). Persists. */
  retryDeadLetter(dlqId: string): string | undefined {
    const entry = this.state.dlq[dlqId];
    if (!entry) {
      return undefined;
    }
    delete this.state.dlq[dlqId];
    const { messageId } = this.accept(
      {
        url: entry.url,
        method: entry.method,
        headers: entry.headers,
        bodyBase64: entry.bodyBase64,
        notBeforeMs: this.clock.nowMs(),
        maxRetries: entry.maxRetries,
        callerIp: entry.callerIp,
        ...(entry.retryDelay === undefined ? {} : { retryDelay: entry.retryDelay }),
        ...(entry.timeoutMs === undefined ? {} : { timeoutMs: entry.timeoutMs }),
        ...(entry.callback === undefined ? {} : { callback: entry.callback }),
        ...(entry.failureCallback === undefined ? {} : { failureCallback: entry.failureCallback }),
        ...(entry.queueName === undefined ? {} : { queueName: entry.queueName }),
      },
      "dlq-retry",
    );
    this.persist();
    return messageId;
  }
}
