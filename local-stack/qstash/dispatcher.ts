/**
 * Moves due messages to their destinations. Push mode sends them over HTTP; pull mode leases
 * messages for held URL prefixes to a test, which replays them into workerd and reports each
 * status back. Both record outcomes through the broker, so retries, backoff and the DLQ behave
 * the same either way. `settle()` resolves once nothing due is left to push and nothing is in
 * flight, which is how the sandbox's control routes answer "after the deliveries happened".
 */
import type { Logger } from "../../lib/log/logger.ts";
import type { AttemptOutcome, AttemptResult, Broker } from "./broker.ts";
import {
  attemptPush,
  buildDelivery,
  DEFAULT_ATTEMPT_TIMEOUT_MS,
  type OutgoingDelivery,
} from "./delivery.ts";
import { fireDueSchedules } from "./schedules.ts";
import type { MessageRecord } from "./state.ts";

/** What the attempt log line says about the message attempted. */
type AttemptFacts = Pick<OutgoingDelivery, "messageId" | "url" | "method" | "retried">;

/** Push attempts running at once; more due messages wait for a free slot. */
const MAX_CONCURRENT_ATTEMPTS = 16;

export class Dispatcher {
  #broker: Broker;
  #log: Logger;
  /** Messages in flight (pushed) or leased (pulled): never handed out twice at once. */
  #busy = new Set<string>();
  #leased = new Set<string>();
  #inFlight = new Map<string, Promise<void>>();
  #running: Promise<void> | undefined;

  constructor(broker: Broker, log: Logger) {
    this.#broker = broker;
    this.#log = log;
  }

  /**
   * Fires due schedules and pushes every due, unheld message, following retries that become due
   * meanwhile (e.g. with fast backoff), until nothing is in flight. Concurrent callers share one
   * run. Never rejects: attempt failures are outcomes, not errors.
   */
  settle(): Promise<void> {
    if (!this.#running) {
      this.#running = this.#run();
    }
    return this.#running;
  }

  async #run(): Promise<void> {
    // Let `settle` store the promise before the loop can finish and clear it.
    await Promise.resolve();
    for (;;) {
      try {
        fireDueSchedules(this.#broker);
        for (const message of this.#broker.dueMessages(this.#busy)) {
          if (this.#inFlight.size >= MAX_CONCURRENT_ATTEMPTS) {
            break;
          }
          if (!this.#broker.isHeld(message.url)) {
            this.#start(message);
          }
        }
      } catch (error) {
        this.#log.error("qstash dispatch failed", { error });
      }
      if (this.#inFlight.size === 0) {
        // Cleared synchronously with the last check, so a later `settle` starts a fresh run.
        this.#running = undefined;
        return;
      }
      await Promise.race(this.#inFlight.values());
    }
  }

  #start(message: MessageRecord): void {
    const { messageId } = message;
    this.#busy.add(messageId);
    const attempt = (async () => {
      const delivery = buildDelivery(message, this.#broker.signingKey(), Date.now());
      const result = await attemptPush(delivery, message.timeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS);
      this.#record(delivery, result, "push");
    })()
      .catch((error: unknown) => {
        this.#log.error("qstash attempt failed", { messageId, error });
      })
      .finally(() => {
        this.#busy.delete(messageId);
        this.#inFlight.delete(messageId);
      });
    this.#inFlight.set(messageId, attempt);
  }

  #record(attempt: AttemptFacts, result: AttemptResult, mode: "push" | "pull"): AttemptOutcome {
    const outcome = this.#broker.recordAttempt(attempt.messageId, result);
    this.#log.info("qstash attempt", {
      mode,
      messageId: attempt.messageId,
      url: attempt.url,
      method: attempt.method,
      retried: attempt.retried,
      status: result.status,
      error: result.error,
      outcome: outcome.state,
    });
    return outcome;
  }

  /**
   * Leases up to `limit` due messages whose URL starts with `urlPrefix` (which must be held) and
   * returns them as signed requests. A leased message is not handed out again until its result
   * is reported or its hold is released.
   */
  pull(urlPrefix: string, limit: number): OutgoingDelivery[] {
    fireDueSchedules(this.#broker);
    const due = this.#broker
      .dueMessages(this.#busy)
      .filter((message) => message.url.startsWith(urlPrefix) && this.#broker.isHeld(message.url))
      .slice(0, limit);
    const signingKey = this.#broker.signingKey();
    return due.map((message) => {
      this.#busy.add(message.messageId);
      this.#leased.add(message.messageId);
      return buildDelivery(message, signingKey, Date.now());
    });
  }

  /**
   * Records the result a puller reports for a leased message; undefined when the message is not
   * leased (never pulled, or already reported). Kicks push mode, since callbacks may be due.
   */
  report(messageId: string, result: AttemptResult): AttemptOutcome | undefined {
    if (!this.#leased.has(messageId)) {
      return undefined;
    }
    const message = this.#broker.state.messages[messageId];
    this.#leased.delete(messageId);
    this.#busy.delete(messageId);
    const outcome: AttemptOutcome = message
      ? this.#record(message, result, "pull")
      : { state: "GONE" };
    void this.settle();
    return outcome;
  }

  /** Returns leased messages under `urlPrefix` to the pending pool (their hold was released). */
  releaseLeases(urlPrefix: string): void {
    for (const messageId of this.#leased) {
      const url = this.#broker.state.messages[messageId]?.url;
      if (url === undefined || url.startsWith(urlPrefix)) {
        this.#leased.delete(messageId);
        this.#busy.delete(messageId);
      }
    }
  }

  /** Number of pushes in flight and messages leased to pullers. */
  get busyCount(): number {
    return this.#busy.size;
  }
}
