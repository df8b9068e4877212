/**
 * `/v2/queues`: upsert (parallelism, paused), list, get, delete, pause and resume. Queues also
 * come into being on first enqueue, with parallelism 1.
 */
import type { Broker } from "./broker.ts";
import type { Dispatcher } from "./dispatcher.ts";
import { type Exchange, HttpError, notFound, parseJson } from "./http.ts";
import { queueView } from "./views.ts";

/** Handles `/v2/queues...`; returns false when no route matches. */
export function handleQueues(ex: Exchange, broker: Broker, dispatcher: Dispatcher): boolean {
  const { method, path } = ex;
  const lag = (name: string) =>
    Object.values(broker.state.messages).filter((m) => m.queueName === name).length;
  if (method === "POST" && path === "/v2/queues") {
    const input = parseJson(ex.body) as {
      queueName?: unknown;
      parallelism?: unknown;
      paused?: unknown;
    };
    if (typeof input.queueName !== "string" || input.queueName === "") {
      throw new HttpError(400, "queueName is required");
    }
    broker.ensureQueue(input.queueName);
    const queue = broker.state.queues[input.queueName] as NonNullable<
      (typeof broker.state.queues)[string]
    >;
    if (typeof input.parallelism === "number" && input.parallelism >= 1) {
      queue.parallelism = Math.floor(input.parallelism);
    }
    if (typeof input.paused === "boolean") {
      queue.paused = input.paused;
    }
    queue.updatedAtMs = broker.clock.nowMs();
    broker.persist();
    void dispatcher.settle();
    ex.empty(200);
    return true;
  }
  if (method === "GET" && path === "/v2/queues") {
    ex.json(
      200,
      Object.values(broker.state.queues).map((q) => queueView(q, lag(q.name))),
    );
    return true;
  }
  const match = /^\/v2\/queues\/([^/]+)(?:\/(pause|resume))?$/.exec(path);
  if (!match) {
    return false;
  }
  const name = decodeURIComponent(match[1] as string);
  const queue = broker.state.queues[name] ?? notFound("queue", name);
  if (match[2] !== undefined && method === "POST") {
    queue.paused = match[2] === "pause";
    queue.updatedAtMs = broker.clock.nowMs();
    broker.persist();
    void dispatcher.settle();
    ex.empty(200);
    return true;
  }
  if (match[2] === undefined && method === "GET") {
    ex.json(200, queueView(queue, lag(name)));
    return true;
  }
  if (match[2] === undefined && method === "DELETE") {
    delete broker.state.queues[name];
    broker.persist();
    ex.empty(200);
    return true;
  }
  return false;
}
