/**
 * Test controls under `/_sandbox/...` (same bearer token as the API): the sandbox clock, the
 * signing-key and backoff switches, firing a schedule on demand, waiting for pushes to finish,
 * and pull mode (holds, leased deliveries, reported results) for receivers inside workerd.
 * Every route that can cause deliveries answers only after they were attempted.
 */
import type { Broker } from "./broker.ts";
import type { Dispatcher } from "./dispatcher.ts";
import { type Exchange, HttpError, parseJson } from "./http.ts";
import { assertLoopbackUrl } from "./publish-request.ts";
import { fireSchedule, rescheduleAll } from "./schedules.ts";

function asObject(value: unknown): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HttpError(400, "request body must be a JSON object");
  }
  return value as Record<string, unknown>;
}

function clockView(broker: Broker) {
  return { nowMs: broker.clock.nowMs(), frozen: broker.clock.frozen };
}

function moveClock(broker: Broker, input: Record<string, unknown>): void {
  const { frozen, setMs, advanceSeconds } = input;
  if (frozen !== undefined && typeof frozen !== "boolean") {
    throw new HttpError(400, "frozen must be a boolean");
  }
  if (setMs !== undefined && (!Number.isSafeInteger(setMs) || (setMs as number) < 0)) {
    throw new HttpError(400, "setMs must be a non-negative integer (epoch milliseconds)");
  }
  if (
    advanceSeconds !== undefined &&
    (typeof advanceSeconds !== "number" || !Number.isFinite(advanceSeconds) || advanceSeconds < 0)
  ) {
    throw new HttpError(400, "advanceSeconds must be a non-negative number");
  }
  if (typeof frozen === "boolean") {
    broker.clock.setFrozen(frozen);
  }
  if (typeof setMs === "number") {
    broker.clock.set(setMs);
    rescheduleAll(broker);
  }
  if (typeof advanceSeconds === "number") {
    broker.clock.advance(Math.round(advanceSeconds * 1000));
  }
  broker.persist();
}

function updateConfig(broker: Broker, input: Record<string, unknown>): void {
  const { signingKey, retryBackoff } = input;
  if (signingKey !== undefined && signingKey !== "current" && signingKey !== "next") {
    throw new HttpError(400, 'signingKey must be "current" or "next"');
  }
  if (retryBackoff !== undefined && retryBackoff !== "standard" && retryBackoff !== "fast") {
    throw new HttpError(400, 'retryBackoff must be "standard" or "fast"');
  }
  if (signingKey !== undefined) {
    broker.state.config.signingKey = signingKey;
  }
  if (retryBackoff !== undefined) {
    broker.state.config.retryBackoff = retryBackoff;
  }
  broker.persist();
}

/** The URL prefix a pull route names; it must lie within a registered hold. */
function heldPrefix(broker: Broker, value: unknown): string {
  if (typeof value !== "string" || value === "") {
    throw new HttpError(400, "urlPrefix is required");
  }
  if (!broker.state.holds.some((hold) => value.startsWith(hold))) {
    throw new HttpError(400, `urlPrefix ${value} is not held; POST /_sandbox/holds first`);
  }
  return value;
}

function resultInput(input: Record<string, unknown>) {
  const { status, body, headers } = input;
  if (!Number.isInteger(status) || (status as number) < 100 || (status as number) > 599) {
    throw new HttpError(400, "status must be an HTTP status code (100-599)");
  }
  const headerLists: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(asObject(headers ?? {}))) {
    headerLists[name.toLowerCase()] = [String(value)];
  }
  return {
    status: status as number,
    headers: headerLists,
    bodyBase64: Buffer.from(typeof body === "string" ? body : "").toString("base64"),
  };
}

/** Handles `/_sandbox/...`; resolves false when no route matches. */
export async function handleSandbox(
  ex: Exchange,
  broker: Broker,
  dispatcher: Dispatcher,
): Promise<boolean> {
  const { method, path, query } = ex;
  if (path === "/_sandbox/clock" && (method === "GET" || method === "POST")) {
    if (method === "POST") {
      moveClock(broker, asObject(parseJson(ex.body)));
      await dispatcher.settle();
    }
    ex.json(200, clockView(broker));
    return true;
  }
  if (path === "/_sandbox/flush" && method === "POST") {
    await dispatcher.settle();
    ex.json(200, {
      ...clockView(broker),
      pendingMessages: Object.keys(broker.state.messages).length,
      busy: dispatcher.busyCount,
      deadLetters: Object.keys(broker.state.dlq).length,
    });
    return true;
  }
  if (path === "/_sandbox/config" && (method === "GET" || method === "POST")) {
    if (method === "POST") {
      updateConfig(broker, asObject(parseJson(ex.body)));
    }
    ex.json(200, broker.state.config);
    return true;
  }
  const fire = /^\/_sandbox\/schedules\/([^/]+)\/fire$/.exec(path);
  if (fire && method === "POST") {
    const id = decodeURIComponent(fire[1] as string);
    const schedule = broker.state.schedules[id];
    if (!schedule) {
      throw new HttpError(404, `schedule ${id} not found`);
    }
    const messageId = fireSchedule(broker, schedule);
    broker.persist();
    await dispatcher.settle();
    ex.json(200, { messageId });
    return true;
  }
  if (path === "/_sandbox/holds") {
    return handleHolds(ex, broker, dispatcher);
  }
  if (path === "/_sandbox/deliveries" && method === "GET") {
    const urlPrefix = heldPrefix(broker, query.get("urlPrefix"));
    const limit = Math.max(1, Number(query.get("limit") ?? "100") || 100);
    const deliveries = dispatcher.pull(urlPrefix, limit).map((d) => ({
      messageId: d.messageId,
      url: d.url,
      method: d.method,
      headers: d.headers,
      body: d.body.toString("utf8"),
      bodyBase64: d.body.toString("base64"),
      retried: d.retried,
    }));
    ex.json(200, deliveries);
    return true;
  }
  const result = /^\/_sandbox\/deliveries\/([^/]+)\/result$/.exec(path);
  if (result && method === "POST") {
    const messageId = decodeURIComponent(result[1] as string);
    const outcome = dispatcher.report(messageId, resultInput(asObject(parseJson(ex.body))));
    if (!outcome) {
      throw new HttpError(409, `message ${messageId} is not leased: pull it before reporting`);
    }
    await dispatcher.settle();
    ex.json(200, { messageId, ...outcome });
    return true;
  }
  return false;
}

async function handleHolds(ex: Exchange, broker: Broker, dispatcher: Dispatcher) {
  const { method, query } = ex;
  if (method === "GET") {
    ex.json(200, { holds: broker.state.holds });
    return true;
  }
  if (method === "POST") {
    const { urlPrefix } = asObject(parseJson(ex.body));
    if (typeof urlPrefix !== "string") {
      throw new HttpError(400, "urlPrefix is required");
    }
    assertLoopbackUrl(urlPrefix, "urlPrefix");
    if (!broker.state.holds.includes(urlPrefix)) {
      broker.state.holds.push(urlPrefix);
      broker.persist();
    }
    ex.json(200, { urlPrefix });
    return true;
  }
  if (method === "DELETE") {
    const urlPrefix = query.get("urlPrefix") ?? "";
    const released = broker.state.holds.includes(urlPrefix);
    broker.state.holds = broker.state.holds.filter((hold) => hold !== urlPrefix);
    broker.persist();
    dispatcher.releaseLeases(urlPrefix);
    await dispatcher.settle();
    ex.json(200, { urlPrefix, released });
    return true;
  }
  return false;
}
