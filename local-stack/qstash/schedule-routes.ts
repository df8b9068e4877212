/**
 * `/v2/schedules`: create (or replace by `Upstash-Schedule-Id`), list, get, delete, pause and
 * resume, in the shapes `client.schedules` reads.
 */

import type { Broker } from "./broker.ts";
import type { Dispatcher } from "./dispatcher.ts";
import { type Exchange, notFound } from "./http.ts";
import { destinationAfter } from "./publish-request.ts";
import { setSchedulePaused, upsertSchedule } from "./schedules.ts";
import { scheduleView } from "./views.ts";

/** Handles `/v2/schedules...`; returns false when no route matches. */
export function handleSchedules(ex: Exchange, broker: Broker, dispatcher: Dispatcher): boolean {
  const { method, path, target } = ex;
  const rest = path.slice("/v2/schedules".length);
  if (method === "GET" && (rest === "" || rest === "/")) {
    const all = Object.values(broker.state.schedules).sort((a, b) => a.createdAtMs - b.createdAtMs);
    ex.json(200, all.map(scheduleView));
    return true;
  }
  const toggle = /^\/([^/]+)\/(pause|resume)$/.exec(rest);
  if (toggle && (method === "PATCH" || method === "POST")) {
    const id = decodeURIComponent(toggle[1] as string);
    if (!setSchedulePaused(broker, id, toggle[2] === "pause")) {
      notFound("schedule", id);
    }
    void dispatcher.settle();
    ex.empty(200);
    return true;
  }
  if (method === "POST" && rest.startsWith("/")) {
    const scheduleId = upsertSchedule(broker, {
      destination: destinationAfter(target, "/v2/schedules/"),
      headers: ex.headers,
      body: ex.body,
      callerIp: ex.callerIp,
    });
    ex.json(201, { scheduleId });
    return true;
  }
  const one = /^\/([^/]+)$/.exec(rest);
  if (one) {
    const id = decodeURIComponent(one[1] as string);
    const schedule = broker.state.schedules[id] ?? notFound("schedule", id);
    if (method === "GET") {
      ex.json(200, scheduleView(schedule));
      return true;
    }
    if (method === "DELETE") {
      delete broker.state.schedules[id];
      broker.persist();
      ex.empty(200);
      return true;
    }
  }
  return false;
}
