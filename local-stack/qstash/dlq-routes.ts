/**
 * `/v2/dlq`: list (filtered, paged), get, delete and retry dead-lettered messages, plus the
 * filter vocabulary (`messageIds`/`dlqIds`, `url`, `queueName`, `scheduleId`) bulk routes share.
 */
import type { Broker } from "./broker.ts";
import type { Dispatcher } from "./dispatcher.ts";
import { type Exchange, notFound } from "./http.ts";
import type { DlqRecord, MessageRecord } from "./state.ts";
import { dlqView } from "./views.ts";

/** The `messageIds`/`dlqIds`, `url`, `queueName`, `scheduleId` filters of bulk endpoints. */
export function matchesFilter(
  record: MessageRecord | DlqRecord,
  query: URLSearchParams,
  idParam: string,
  id: string,
): boolean {
  const ids = query.getAll(idParam);
  if (ids.length > 0 && !ids.includes(id)) {
    return false;
  }
  for (const field of ["url", "queueName", "scheduleId", "messageId"] as const) {
    const wanted = query.getAll(field);
    if (wanted.length > 0 && !wanted.includes(String(record[field]))) {
      return false;
    }
  }
  return true;
}

function dlqMatches(broker: Broker, query: URLSearchParams): DlqRecord[] {
  return Object.values(broker.state.dlq)
    .filter((entry) => matchesFilter(entry, query, "dlqIds", entry.dlqId))
    .sort((a, b) => a.failedAtMs - b.failedAtMs || a.seq - b.seq);
}

function pageOf<T>(items: T[], query: URLSearchParams): { page: T[]; cursor?: string } {
  const start = Number(query.get("cursor") ?? "0") || 0;
  const count = Math.max(1, Number(query.get("count") ?? "100") || 100);
  const page = items.slice(start, start + count);
  return start + count < items.length ? { page, cursor: String(start + count) } : { page };
}

/** Handles `/v2/dlq...`; returns false when no route matches. */
export function handleDlq(ex: Exchange, broker: Broker, dispatcher: Dispatcher): boolean {
  const { method, path, query } = ex;
  if (method === "GET" && path === "/v2/dlq") {
    const { page, cursor } = pageOf(dlqMatches(broker, query), query);
    ex.json(200, { messages: page.map(dlqView), ...(cursor ? { cursor } : {}) });
    return true;
  }
  if (method === "DELETE" && path === "/v2/dlq") {
    const doomed = dlqMatches(broker, query);
    for (const entry of doomed) {
      delete broker.state.dlq[entry.dlqId];
    }
    broker.persist();
    ex.json(200, { deleted: doomed.length });
    return true;
  }
  if (method === "POST" && (path === "/v2/dlq/retry" || path.startsWith("/v2/dlq/retry/"))) {
    const single = path.slice("/v2/dlq/retry/".length);
    const ids = single
      ? [decodeURIComponent(single)]
      : dlqMatches(broker, query).map((e) => e.dlqId);
    const responses = ids.flatMap((id) => {
      const messageId = broker.retryDeadLetter(id);
      return messageId === undefined ? [] : [{ messageId }];
    });
    void dispatcher.settle();
    ex.json(200, { responses });
    return true;
  }
  const one = /^\/v2\/dlq\/([^/]+)$/.exec(path);
  if (one) {
    const id = decodeURIComponent(one[1] as string);
    const entry = broker.state.dlq[id] ?? notFound("DLQ message", id);
    if (method === "GET") {
      ex.json(200, dlqView(entry));
      return true;
    }
    if (method === "DELETE") {
      delete broker.state.dlq[id];
      broker.persist();
      ex.empty(200);
      return true;
    }
  }
  return false;
}
