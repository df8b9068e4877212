/**
 * QStash's REST API (`/v2/...`) as `@upstash/qstash` 2.12 calls it: publish, batch, enqueue,
 * messages, schedules, DLQ and queues, answering in the shapes the SDK parses. Destinations are
 * taken verbatim from the request target (`/v2/publish/http://127.0.0.1:8787/hook?x=1`), as
 * QStash does, and must be loopback URLs.
 */
import type { Broker } from "./broker.ts";
import type { Dispatcher } from "./dispatcher.ts";
import { handleDlq, matchesFilter } from "./dlq-routes.ts";
import { type Exchange, HttpError, notFound, parseJson } from "./http.ts";
import { destinationAfter, draftMessage, type MessageDraft } from "./publish-request.ts";
import { handleQueues } from "./queue-routes.ts";
import { handleSchedules } from "./schedule-routes.ts";
import { messageView } from "./views.ts";

function publishedView(url: string, messageId: string, deduplicated: boolean) {
  return deduplicated ? { messageId, url, deduplicated: true } : { messageId, url };
}

function publish(broker: Broker, dispatcher: Dispatcher, drafts: MessageDraft[]) {
  const results = drafts.map((draft) => ({ draft, ...broker.accept(draft, "publish") }));
  broker.persist();
  void dispatcher.settle();
  return results.map((r) => publishedView(r.draft.url, r.messageId, r.deduplicated));
}

interface BatchEntry {
  destination?: unknown;
  headers?: unknown;
  body?: unknown;
  queue?: unknown;
}

function batchDrafts(ex: Exchange, broker: Broker): MessageDraft[] {
  const entries = parseJson(ex.body);
  if (!Array.isArray(entries)) {
    throw new HttpError(400, "batch body must be a JSON array of messages");
  }
  const nowMs = broker.clock.nowMs();
  // Every entry is validated before any is accepted, so a bad entry rejects the whole batch.
  return (entries as BatchEntry[]).map((entry, index) => {
    if (typeof entry?.destination !== "string") {
      throw new HttpError(400, `batch[${index}].destination must be a string`);
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries((entry.headers ?? {}) as Record<string, unknown>)) {
      headers[name.toLowerCase()] = String(value);
    }
    const body = entry.body === undefined ? "" : entry.body;
    return draftMessage({
      destination: entry.destination,
      headers,
      body: Buffer.from(typeof body === "string" ? body : JSON.stringify(body)),
      callerIp: ex.callerIp,
      nowMs,
      ...(typeof entry.queue === "string" ? { queueName: entry.queue } : {}),
    });
  });
}

/** Handles `/v2/...`; returns false when no route matches. */
export function handleApi(ex: Exchange, broker: Broker, dispatcher: Dispatcher): boolean {
  const { method, path, target, query } = ex;
  const nowMs = broker.clock.nowMs();

  if (method === "POST" && path.startsWith("/v2/publish/")) {
    const draft = draftMessage({
      destination: destinationAfter(target, "/v2/publish/"),
      headers: ex.headers,
      body: ex.body,
      callerIp: ex.callerIp,
      nowMs,
    });
    const [result] = publish(broker, dispatcher, [draft]);
    ex.json(result?.deduplicated ? 202 : 201, result);
    return true;
  }
  if (method === "POST" && path.startsWith("/v2/enqueue/")) {
    const rest = target.slice("/v2/enqueue/".length);
    const slash = rest.indexOf("/");
    if (slash <= 0) {
      throw new HttpError(400, "expected /v2/enqueue/<queue>/<destination>");
    }
    const queueName = decodeURIComponent(rest.slice(0, slash));
    const draft = draftMessage({
      destination: destinationAfter(rest, rest.slice(0, slash + 1)),
      headers: ex.headers,
      body: ex.body,
      callerIp: ex.callerIp,
      nowMs,
      queueName,
    });
    const [result] = publish(broker, dispatcher, [draft]);
    ex.json(result?.deduplicated ? 202 : 201, result);
    return true;
  }
  if (method === "POST" && path === "/v2/batch") {
    ex.json(201, publish(broker, dispatcher, batchDrafts(ex, broker)));
    return true;
  }

  const messageMatch = /^\/v2\/messages\/([^/]+)$/.exec(path);
  if (messageMatch) {
    const id = decodeURIComponent(messageMatch[1] as string);
    const message = broker.state.messages[id] ?? notFound("message", id);
    if (method === "GET") {
      ex.json(200, messageView(message));
      return true;
    }
    if (method === "DELETE") {
      broker.cancel(id);
      ex.json(200, { cancelled: 1 });
      return true;
    }
  }
  if (method === "DELETE" && path === "/v2/messages") {
    const doomed = Object.values(broker.state.messages).filter((m) =>
      matchesFilter(m, query, "messageIds", m.messageId),
    );
    for (const message of doomed) {
      delete broker.state.messages[message.messageId];
    }
    broker.persist();
    ex.json(200, { cancelled: doomed.length });
    return true;
  }

  if (path.startsWith("/v2/schedules")) {
    return handleSchedules(ex, broker, dispatcher);
  }
  if (path.startsWith("/v2/dlq")) {
    return handleDlq(ex, broker, dispatcher);
  }
  if (path.startsWith("/v2/queues")) {
    return handleQueues(ex, broker, dispatcher);
  }
  return false;
}
