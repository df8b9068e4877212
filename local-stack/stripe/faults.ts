/**
 * Injected faults for the next N API requests of an account that match method + path prefix
 * (and optionally an idempotency key or parameter values, so concurrent tests do not catch each
 * other's requests):
 * - `error_500`: answer 500 api_error without doing the work;
 * - `timeout`: hold the connection open without doing the work until the client gives up;
 * - `drop_after_success`: do the work fully, save it, then destroy the socket unanswered;
 * - `stall`: hold the request after it claimed its idempotency key, until released, then run
 *   it (to observe a request "still executing").
 * Faults live in memory only; a restart clears them.
 */
import { badRequest } from "./failure.ts";
import { randomToken } from "./ids.ts";

export const FAULT_KINDS = ["error_500", "timeout", "drop_after_success", "stall"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface Fault {
  id: string;
  account: string;
  kind: FaultKind;
  /** Upper-case method, or null for any. */
  method: string | null;
  /** Path prefix, e.g. `/v1/payment_intents`. */
  path: string;
  /** Matching requests still to be hit. */
  remaining: number;
  idempotencyKey: string | null;
  /** Flattened parameters (`metadata[order]`) that must all be equal. */
  params: Record<string, string> | null;
  /** error_500 only: save the 500 under the idempotency key, as when the endpoint had begun. */
  storeIdempotency: boolean;
  hits: number;
}

interface Stalled {
  account: string;
  faultId: string;
  release: () => void;
}

function readSpec(spec: Record<string, unknown>): Omit<Fault, "id" | "account" | "hits"> {
  const kind = spec.kind;
  if (!FAULT_KINDS.includes(kind as FaultKind)) {
    throw badRequest(`kind must be one of ${FAULT_KINDS.join(", ")}`, "kind");
  }
  if (typeof spec.path !== "string" || !spec.path.startsWith("/v1/")) {
    throw badRequest("path must be a path prefix starting with /v1/", "path");
  }
  const count = spec.count ?? 1;
  if (!Number.isSafeInteger(count) || (count as number) < 1) {
    throw badRequest("count must be a positive integer", "count");
  }
  const params = spec.params ?? null;
  if (params !== null && (typeof params !== "object" || Array.isArray(params))) {
    throw badRequest("params must be an object of flattened parameter names to values", "params");
  }
  return {
    kind: kind as FaultKind,
    method: typeof spec.method === "string" ? spec.method.toUpperCase() : null,
    path: spec.path,
    remaining: count as number,
    idempotencyKey: typeof spec.idempotencyKey === "string" ? spec.idempotencyKey : null,
    params: params as Record<string, string> | null,
    storeIdempotency: spec.storeIdempotency === true,
  };
}

/** Queued faults and stalled requests, per account, in memory. */
export class FaultBook {
  readonly #faults: Fault[] = [];
  readonly #stalled: Stalled[] = [];

  /** Queues a fault from a control-API spec; throws 400 for a bad spec. */
  add(account: string, spec: Record<string, unknown>): Fault {
    const fault: Fault = { id: `flt_${randomToken(16)}`, account, hits: 0, ...readSpec(spec) };
    this.#faults.push(fault);
    return fault;
  }

  list(account: string): Fault[] {
    return this.#faults.filter((fault) => fault.account === account);
  }

  clear(account: string): number {
    let removed = 0;
    for (let i = this.#faults.length - 1; i >= 0; i -= 1) {
      if (this.#faults[i]?.account === account) {
        this.#faults.splice(i, 1);
        removed += 1;
      }
    }
    return removed;
  }

  /** The first queued fault matching this request, consuming one of its hits. */
  take(
    account: string,
    request: {
      method: string;
      path: string;
      idempotencyKey: string | null;
      params: Record<string, string>;
    },
  ): Fault | undefined {
    const index = this.#faults.findIndex(
      (fault) =>
        fault.account === account &&
        (fault.method === null || fault.method === request.method) &&
        request.path.startsWith(fault.path) &&
        (fault.idempotencyKey === null || fault.idempotencyKey === request.idempotencyKey) &&
        Object.entries(fault.params ?? {}).every(([name, value]) => request.params[name] === value),
    );
    const fault = this.#faults[index];
    if (!fault) {
      return undefined;
    }
    fault.remaining -= 1;
    fault.hits += 1;
    if (fault.remaining === 0) {
      this.#faults.splice(index, 1);
    }
    return fault;
  }

  /** Resolves when the control API releases this stalled request (or the server stops). */
  stall(account: string, faultId: string): Promise<void> {
    return new Promise((resolve) => {
      this.#stalled.push({ account, faultId, release: resolve });
    });
  }

  stalledCount(account: string): number {
    return this.#stalled.filter((entry) => entry.account === account).length;
  }

  /** Lets stalled requests of `account` (of one fault, if given) run; returns how many. */
  release(account: string | null, faultId?: string): number {
    let released = 0;
    for (let i = this.#stalled.length - 1; i >= 0; i -= 1) {
      const entry = this.#stalled[i] as Stalled;
      if (
        (account === null || entry.account === account) &&
        (!faultId || entry.faultId === faultId)
      ) {
        this.#stalled.splice(i, 1);
        entry.release();
        released += 1;
      }
    }
    return released;
  }
}
