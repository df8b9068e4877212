/**
 * The local QStash: a publisher that accepts messages through QStash's REST API, persists them in
 * `--data`, and delivers them to loopback destinations with signed requests, retries, a DLQ and
 * cron schedules, all on a sandbox clock that tests control. See docs/local-stack/qstash.md.
 *
 * Options: the standard `--host --port --data`, plus `--fast-retries` (start with no retry
 * backoff). `--worker-url` is accepted because the stack passes it to webhook senders, but unused:
 * QStash delivers to the URL each message names.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createLogger } from "../../lib/log/logger.ts";
import { announceReady, onShutdown, parseServiceArgs } from "../lifecycle.ts";
import type { QStashInfo } from "../stack.ts";
import { handleApi } from "./api-routes.ts";
import { Broker } from "./broker.ts";
import { Dispatcher } from "./dispatcher.ts";
import {
  type Exchange,
  HttpError,
  headerMap,
  readBody,
  requireBearer,
  sendEmpty,
  sendJson,
} from "./http.ts";
import { handleSandbox } from "./sandbox-routes.ts";
import { StateFile } from "./state.ts";

/** How often the wall clock is checked for messages and schedules that became due by themselves. */
const TICK_MS = 250;

const args = parseServiceArgs({
  "worker-url": { type: "string" },
  "fast-retries": { type: "boolean" },
});
const log = createLogger({
  bindings: { service: "qstash" },
  sink: (line) => process.stderr.write(`${line}\n`),
});

const file = new StateFile(args.data);
const broker = new Broker(file, file.load());
if (args.extra["fast-retries"] === true) {
  broker.state.config.retryBackoff = "fast";
  broker.persist();
}
const dispatcher = new Dispatcher(broker, log);

async function exchangeFor(request: IncomingMessage, response: ServerResponse): Promise<Exchange> {
  const target = request.url ?? "/";
  const queryAt = target.indexOf("?");
  return {
    method: (request.method ?? "GET").toUpperCase(),
    target,
    path: queryAt < 0 ? target : target.slice(0, queryAt),
    query: new URLSearchParams(queryAt < 0 ? "" : target.slice(queryAt + 1)),
    headers: headerMap(request),
    body: await readBody(request),
    callerIp: request.socket.remoteAddress ?? "127.0.0.1",
    json: (status, value) => sendJson(response, status, value),
    empty: (status) => sendEmpty(response, status),
  };
}

async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  try {
    requireBearer(request, broker.state.identity.token);
    const ex = await exchangeFor(request, response);
    let handled = false;
    if (ex.path.startsWith("/v2/")) {
      handled = handleApi(ex, broker, dispatcher);
    } else if (ex.path.startsWith("/_sandbox/")) {
      handled = await handleSandbox(ex, broker, dispatcher);
    }
    if (!handled) {
      throw new HttpError(404, `no route for ${ex.method} ${ex.path}`);
    }
  } catch (error) {
    if (error instanceof HttpError) {
      sendJson(response, error.status, { error: error.message });
      return;
    }
    log.error("qstash request failed", { method: request.method, error });
    sendJson(response, 500, { error: "internal error in the local QStash sandbox" });
  }
}

const server = createServer((request, response) => void handle(request, response));
server.listen(args.port, args.host, () => {
  const { port } = server.address() as AddressInfo;
  const { token, currentSigningKey, nextSigningKey } = broker.state.identity;
  const info: QStashInfo & { port: number } = {
    url: `http://${args.host}:${port}`,
    token,
    currentSigningKey,
    nextSigningKey,
    port,
  };
  log.info("qstash sandbox listening", {
    port,
    pendingMessages: Object.keys(broker.state.messages).length,
    schedules: Object.keys(broker.state.schedules).length,
  });
  announceReady({ ...info });
  void dispatcher.settle();
});

const ticker = setInterval(() => void dispatcher.settle(), TICK_MS);

onShutdown(async () => {
  clearInterval(ticker);
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  // Attempts still in flight are not awaited: their messages stay in the state file and are
  // attempted again after a restart (at-least-once).
  broker.persist();
});
