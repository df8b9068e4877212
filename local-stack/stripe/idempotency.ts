/**
 * Stripe's idempotency for POST requests, per API key:
 * - the first request with a key runs; once the endpoint has begun, its status and body (errors
 *   and 500s included) are saved and every later request with the same key and parameters gets
 *   them back byte for byte with `Idempotent-Replayed: true`;
 * - the same key with other parameters or another endpoint: 400 idempotency_error;
 * - a key whose first request is still running: 409 idempotency_key_in_use;
 * - validation failures save nothing, so the key may be retried;
 * - keys expire 24 hours after first use on the account's sandbox clock and may then be reused.
 */
import { createHash } from "node:crypto";
import { badRequest, idempotencyError, StripeFailure } from "./failure.ts";
import { canonicalForm, type FormObject } from "./form.ts";
import type { Account, IdempotencyRecord, SandboxState } from "./state.ts";

/** Idempotency keys live 24 hours from first use (sandbox clock). */
export const IDEMPOTENCY_TTL_SECONDS = 86_400;
const MAX_KEY_LENGTH = 255;

export type Claim =
  | { kind: "new"; record: IdempotencyRecord }
  | { kind: "replay"; record: IdempotencyRecord };

function rowKey(apiKey: string, key: string): string {
  return JSON.stringify([apiKey, key]);
}

/** SHA-256 of the order-insensitive parameters. */
export function paramsDigest(form: FormObject): string {
  return createHash("sha256").update(canonicalForm(form)).digest("hex");
}

/** Claims, replays and forgets idempotency keys over the journaled records. */
export class IdempotencyLayer {
  readonly #state: SandboxState;

  constructor(state: SandboxState) {
    this.#state = state;
  }

  /**
   * Claims `key` for a request, or finds the saved response to replay. Throws the 400/409
   * failure Stripe answers when the key is in use or was used differently.
   */
  claim(
    account: Account,
    apiKey: string,
    key: string,
    request: { method: string; path: string; form: FormObject; requestId: string },
  ): Claim {
    if (key.length > MAX_KEY_LENGTH) {
      throw badRequest(
        `Idempotency keys can be at most ${MAX_KEY_LENGTH} characters long; this one is ` +
          `${key.length}.`,
      );
    }
    const now = this.#state.nowSeconds(account);
    const id = rowKey(apiKey, key);
    const digest = paramsDigest(request.form);
    const existing = this.#state.idempotency.get(id);
    if (existing && now - existing.createdAt < IDEMPOTENCY_TTL_SECONDS) {
      if (existing.state === "running") {
        throw new StripeFailure({
          status: 409,
          type: "invalid_request_error",
          code: "idempotency_key_in_use",
          message:
            `There is currently another in-progress request using the idempotency key '${key}'. ` +
            "Wait for it to finish and retry.",
          beforeStart: true,
          headers: { "stripe-should-retry": "true" },
        });
      }
      if (existing.method !== request.method || existing.path !== request.path) {
        throw idempotencyError(
          "Keys for idempotent requests can only be used for the same endpoint they were first " +
            `used for ('${existing.method} ${existing.path}' vs '${request.method} ` +
            `${request.path}'). Try using a key other than '${key}' if you meant to execute a ` +
            "different request.",
        );
      }
      if (existing.paramsDigest !== digest) {
        throw idempotencyError(
          "Keys for idempotent requests can only be used with the same parameters they were " +
            `first used with. Try using a key other than '${key}' if you meant to execute a ` +
            "different request.",
        );
      }
      return { kind: "replay", record: existing };
    }
    const record: IdempotencyRecord = {
      apiKey,
      key,
      method: request.method,
      path: request.path,
      paramsDigest: digest,
      createdAt: now,
      state: "running",
      requestId: request.requestId,
    };
    this.#state.idempotency.set(id, record);
    return { kind: "new", record };
  }

  /** Saves the response of a request that began executing. */
  complete(record: IdempotencyRecord, status: number, body: string): void {
    record.state = "done";
    record.status = status;
    record.body = body;
    this.#state.idempotency.touch(rowKey(record.apiKey, record.key));
  }

  /** Forgets a claim whose request never began (validation failure or injected fault). */
  release(record: IdempotencyRecord): void {
    this.#state.idempotency.delete(rowKey(record.apiKey, record.key));
  }

  /**
   * At startup: drops expired records, and claims left `running` by a process that died
   * mid-request (that request never answered, so nothing was promised for its key).
   */
  recover(): number {
    let dropped = 0;
    for (const [id, record] of [...this.#state.idempotency.entries()]) {
      const account = this.#state.accountForKey(record.apiKey);
      const expired =
        !account || this.#state.nowSeconds(account) - record.createdAt >= IDEMPOTENCY_TTL_SECONDS;
      if (expired || record.state === "running") {
        this.#state.idempotency.delete(id);
        dropped += 1;
      }
    }
    return dropped;
  }
}
