/**
 * What an endpoint runs with: the sandbox state, the caller's account, the sandbox time of the
 * request and where new events go. Background work (clock-driven transitions, control calls)
 * uses the same shape with no request id.
 */
import type { Account, SandboxState, StoredObject } from "./state.ts";

/** Receives each new event; returns how many webhook deliveries it queued. */
export interface EventSink {
  enqueue(account: Account, event: StoredObject): number;
}

export interface Ctx {
  state: SandboxState;
  account: Account;
  /** The API request that caused the change; null for automatic changes. */
  requestId: string | null;
  idempotencyKey: string | null;
  /** Sandbox Unix seconds, fixed for the whole request. */
  now: number;
  events: EventSink;
}
