/**
 * The sandbox's control API under `/_sandbox/` (JSON in, JSON out, same Bearer key as the API;
 * it acts on that key's account): accounts and keys, the clock, faults, webhook modes and
 * deliveries, and transitions Stripe makes on its own (settling, disputes, fraud warnings).
 * Documented in docs/local-stack/stripe.md.
 */
import { addSecretKey, createAccount } from "./accounts.ts";
import { requireCharge } from "./charges.ts";
import type { Ctx } from "./context.ts";
import { closeDispute, openDispute, openFraudWarning, requireDispute } from "./disputes.ts";
import { badRequest, resourceMissing } from "./failure.ts";
import type { FaultBook } from "./faults.ts";
import { requirePaymentIntent } from "./payment-intent-queries.ts";
import { runDueTasks, settlePayment } from "./payments.ts";
import type { RequestLog } from "./request-log.ts";
import type { Account, SandboxState } from "./state.ts";
import { assertLoopbackUrl, type DeliveryFilter, type WebhookDispatcher } from "./webhooks.ts";

export interface ControlDeps {
  state: SandboxState;
  faults: FaultBook;
  webhooks: WebhookDispatcher;
  requests: RequestLog;
}

export interface ControlRequest {
  account: Account;
  /** The JSON body of a POST (empty object when none). */
  body: Record<string, unknown>;
  query: URLSearchParams;
  ids: string[];
}

type ControlHandler = (deps: ControlDeps, request: ControlRequest) => unknown | Promise<unknown>;

interface ControlRoute {
  method: string;
  pattern: RegExp;
  handler: ControlHandler;
}

function route(method: string, template: string, handler: ControlHandler): ControlRoute {
  return {
    method,
    pattern: new RegExp(`^/_sandbox${template.replace(/:[a-z]+/g, "([^/]+)")}$`),
    handler,
  };
}

function ctxFor(deps: ControlDeps, account: Account): Ctx {
  return {
    state: deps.state,
    account,
    requestId: null,
    idempotencyKey: null,
    now: deps.state.nowSeconds(account),
    events: deps.webhooks,
  };
}

function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const value = body[key];
  if (value !== undefined && typeof value !== "string") {
    throw badRequest(`${key} must be a string`, key);
  }
  return value;
}

function positiveInteger(value: unknown, key: string, fallback: number): number {
  if (value === undefined) {
    return fallback;
  }
  if (!Number.isSafeInteger(value) || (value as number) < 1) {
    throw badRequest(`${key} must be a positive integer`, key);
  }
  return value as number;
}

function readFilter(source: Record<string, unknown>): DeliveryFilter {
  const filter: DeliveryFilter = {};
  const related = source.relatedTo;
  if (related !== undefined) {
    filter.relatedTo = Array.isArray(related) ? related.map(String) : [String(related)];
  }
  if (typeof source.type === "string") {
    filter.type = source.type;
  }
  if (Array.isArray(source.eventIds)) {
    filter.eventIds = source.eventIds.map(String);
  }
  return filter;
}

function clockView(deps: ControlDeps, account: Account) {
  return { now: deps.state.nowSeconds(account), frozen: account.frozenAtMs !== null };
}

function webhookView(account: Account) {
  return {
    url: account.webhookUrl,
    mode: account.webhookMode,
    secret: account.webhookSecret,
    retryBaseMs: account.retryBaseMs,
    maxAttempts: account.maxAttempts,
  };
}

const ROUTES: ControlRoute[] = [
  route("GET", "/account", (deps, { account }) => ({
    id: account.id,
    webhook: webhookView(account),
    clock: clockView(deps, account),
  })),
  route("POST", "/accounts", (deps, { body }) => {
    const mode = optionalString(body, "webhookMode");
    if (mode !== undefined && mode !== "push" && mode !== "pull") {
      throw badRequest("webhookMode must be push or pull", "webhookMode");
    }
    const webhookSecret = optionalString(body, "webhookSecret");
    const webhookUrl = optionalString(body, "webhookUrl");
    const { account, secretKey } = createAccount(deps.state, {
      ...(webhookSecret === undefined ? {} : { webhookSecret }),
      ...(webhookUrl === undefined ? {} : { webhookUrl }),
      ...(mode === undefined ? {} : { webhookMode: mode }),
    });
    return { id: account.id, secretKey, webhook: webhookView(account) };
  }),
  route("POST", "/api_keys", (deps, { account }) => ({
    secretKey: addSecretKey(deps.state, account),
  })),

  route("GET", "/clock", (deps, { account }) => clockView(deps, account)),
  route("POST", "/clock", (deps, { account, body }) => {
    const advance = body.advanceSeconds ?? 0;
    if (!Number.isSafeInteger(advance) || (advance as number) < 0) {
      throw badRequest("advanceSeconds must be a non-negative integer", "advanceSeconds");
    }
    if (body.frozen !== undefined) {
      if (typeof body.frozen !== "boolean") {
        throw badRequest("frozen must be a boolean", "frozen");
      }
      deps.state.setFrozen(account, body.frozen);
    }
    deps.state.advanceClock(account, advance as number);
    const settled = runDueTasks(deps.state, account, deps.webhooks);
    return { ...clockView(deps, account), settled };
  }),

  route("GET", "/faults", (deps, { account }) => ({
    faults: deps.faults.list(account.id),
    stalled: deps.faults.stalledCount(account.id),
  })),
  route("POST", "/faults", (deps, { account, body }) => deps.faults.add(account.id, body)),
  route("DELETE", "/faults", (deps, { account }) => ({
    removed: deps.faults.clear(account.id),
    released: deps.faults.release(account.id),
  })),
  route("POST", "/faults/release", (deps, { account, body }) => ({
    released: deps.faults.release(account.id, optionalString(body, "faultId")),
  })),

  route("GET", "/webhooks/config", (_deps, { account }) => webhookView(account)),
  route("POST", "/webhooks/config", (deps, { account, body }) => {
    if (body.url !== undefined) {
      account.webhookUrl = body.url === null ? null : assertLoopbackUrl(String(body.url));
    }
    if (body.mode !== undefined) {
      if (body.mode !== "push" && body.mode !== "pull") {
        throw badRequest("mode must be push or pull", "mode");
      }
      account.webhookMode = body.mode;
    }
    account.retryBaseMs = positiveInteger(body.retryBaseMs, "retryBaseMs", account.retryBaseMs);
    account.maxAttempts = positiveInteger(body.maxAttempts, "maxAttempts", account.maxAttempts);
    deps.state.accounts.touch(account.id);
    return webhookView(account);
  }),
  route("POST", "/webhooks/pull", (deps, { account, body }) => ({
    deliveries: deps.webhooks.pull(
      account,
      readFilter(body),
      positiveInteger(body.limit, "limit", 100),
      body.peek === true,
    ),
  })),
  route("POST", "/webhooks/flush", async (deps, { account, body }) => {
    const order = body.order ?? "created";
    if (order !== "created" && order !== "reverse") {
      throw badRequest("order must be created or reverse", "order");
    }
    return { results: await deps.webhooks.flush(account, readFilter(body), order) };
  }),
  route("POST", "/webhooks/redeliver", (deps, { account, body }) => {
    const eventId = String(body.eventId ?? "");
    const event = deps.state.findOfType(account, eventId, "event");
    if (!event) {
      throw resourceMissing("event", eventId, "eventId");
    }
    const times = positiveInteger(body.times, "times", 1);
    return { deliveries: deps.webhooks.redeliver(account, event, times) };
  }),
  route("GET", "/webhooks/deliveries", (deps, { account, query }) => ({
    deliveries: deps.webhooks.list(
      account,
      readFilter({
        ...(query.has("relatedTo") ? { relatedTo: query.getAll("relatedTo") } : {}),
        ...(query.has("type") ? { type: query.get("type") } : {}),
        ...(query.has("eventId") ? { eventIds: query.getAll("eventId") } : {}),
      }),
    ),
  })),

  route("POST", "/payment_intents/:id/settle", (deps, { account, body, ids }) => {
    const outcome = body.outcome;
    if (outcome !== undefined && outcome !== "succeeded" && outcome !== "failed") {
      throw badRequest("outcome must be succeeded or failed", "outcome");
    }
    const ctx = ctxFor(deps, account);
    const pi = requirePaymentIntent(ctx, ids[0] as string);
    settlePayment(ctx, pi, outcome);
    return pi.body;
  }),
  route("POST", "/disputes", (deps, { account, body }) => {
    const ctx = ctxFor(deps, account);
    const charge = requireCharge(ctx, String(body.charge ?? ""), "charge");
    return openDispute(ctx, charge, optionalString(body, "reason") ?? "fraudulent").body;
  }),
  route("POST", "/disputes/:id/close", (deps, { account, body, ids }) => {
    if (body.outcome !== "won" && body.outcome !== "lost") {
      throw badRequest("outcome must be won or lost", "outcome");
    }
    const ctx = ctxFor(deps, account);
    const dispute = requireDispute(ctx, ids[0] as string);
    closeDispute(ctx, dispute, body.outcome);
    return dispute.body;
  }),
  route("POST", "/early_fraud_warnings", (deps, { account, body }) => {
    const ctx = ctxFor(deps, account);
    const charge = requireCharge(ctx, String(body.charge ?? ""), "charge");
    return openFraudWarning(ctx, charge, optionalString(body, "fraudType")).body;
  }),

  route("GET", "/requests", (deps, { account, query }) => ({
    requests: deps.requests.list(
      account.id,
      query.get("pathPrefix"),
      Number(query.get("limit") ?? 100),
    ),
  })),
];

/** The control route for `method path`, or undefined. */
export function matchControl(
  method: string,
  path: string,
): { handler: ControlHandler; ids: string[] } | undefined {
  for (const candidate of ROUTES) {
    const match = candidate.method === method ? candidate.pattern.exec(path) : null;
    if (match) {
      return { handler: candidate.handler, ids: match.slice(1).map(decodeURIComponent) };
    }
  }
  return undefined;
}
