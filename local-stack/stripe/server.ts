/**
 * The sandbox's HTTP server. Every API request goes: authenticate -> route -> parse -> due
 * transitions -> fault injection -> idempotency claim or replay -> endpoint -> expansion ->
 * save -> answer (or drop the socket). Control requests under `/_sandbox/` are JSON.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "../../lib/log/logger.ts";
import { apiKeyOf, authenticate } from "./auth.ts";
import type { Ctx } from "./context.ts";
import { matchControl } from "./control.ts";
import { checkExpandPaths, expandBody } from "./expand.ts";
import { apiError, badRequest, errorBody, type FailureFields, StripeFailure } from "./failure.ts";
import { FaultBook } from "./faults.ts";
import { type FormObject, flattenForm, parseForm } from "./form.ts";
import { type Claim, IdempotencyLayer } from "./idempotency.ts";
import { newId } from "./ids.ts";
import { Params } from "./params.ts";
import { runDueTasks } from "./payments.ts";
import { RequestLog } from "./request-log.ts";
import { matchRoute } from "./routes.ts";
import { MODELLED_API_VERSION, type SandboxState } from "./state.ts";
import { WebhookDispatcher } from "./webhooks.ts";

/** Largest request body accepted; meterline's requests are a few hundred bytes. */
const MAX_BODY_BYTES = 1_000_000;
/** How often processing payments are checked against the sandbox clock without a request. */
const TICK_MS = 1_000;

export interface SandboxServer {
  server: Server;
  webhooks: WebhookDispatcher;
  faults: FaultBook;
  /** Stops background work, saves state and closes every connection. */
  close(): Promise<void>;
}

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string>;
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(badRequest(`Request bodies are limited to ${MAX_BODY_BYTES} bytes.`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function expandPaths(form: FormObject): string[] {
  const raw: FormObject = form.expand === undefined ? {} : { expand: form.expand };
  return checkExpandPaths(new Params(raw, []).expand());
}

/** Builds the server (not yet listening) over `state`. */
export function createSandboxServer(state: SandboxState, log: Logger): SandboxServer {
  const webhooks = new WebhookDispatcher(state, log);
  const faults = new FaultBook();
  const idempotency = new IdempotencyLayer(state);
  const requests = new RequestLog();
  idempotency.recover();
  state.flush();
  webhooks.resume();

  const ticker = setInterval(() => {
    const accounts = new Set([...state.tasks.values()].map((task) => task.account));
    for (const accountId of accounts) {
      const account = state.accounts.get(accountId);
      if (account && runDueTasks(state, account, webhooks) > 0) {
        state.flush();
      }
    }
  }, TICK_MS);
  ticker.unref();

  function failureAnswer(fields: FailureFields, requestId: string, nowSeconds: number): Answer {
    return {
      status: fields.status,
      body: json(errorBody(fields, requestId, nowSeconds)),
      headers: fields.headers ?? {},
    };
  }

  function send(
    res: ServerResponse,
    requestId: string,
    answer: Answer,
    extra: Record<string, string> = {},
  ): void {
    res.writeHead(answer.status, {
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(answer.body)),
      "cache-control": "no-cache, no-store",
      "request-id": requestId,
      ...answer.headers,
      ...extra,
    });
    res.end(answer.body);
  }

  async function handleControl(req: IncomingMessage, url: URL, method: string): Promise<Answer> {
    const account = authenticate(state, req.headers.authorization);
    const match = matchControl(method, url.pathname);
    if (!match) {
      throw badRequest(`Unknown sandbox control endpoint ${method} ${url.pathname}`);
    }
    const text = await readBody(req);
    let body: unknown = {};
    if (text.trim() !== "") {
      try {
        body = JSON.parse(text);
      } catch {
        throw badRequest("Control requests take a JSON object body.");
      }
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw badRequest("Control requests take a JSON object body.");
    }
    const result = await match.handler(
      { state, faults, webhooks, requests },
      { account, body: body as Record<string, unknown>, query: url.searchParams, ids: match.ids },
    );
    state.flush();
    return { status: 200, body: json(result), headers: {} };
  }

  async function handleApi(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    method: string,
    requestId: string,
  ): Promise<void> {
    const startedMs = Date.now();
    const account = authenticate(state, req.headers.authorization);
    const apiKey = apiKeyOf(req.headers.authorization) as string;
    const path = url.pathname;
    const found = matchRoute(method, path);
    if (!found) {
      throw new StripeFailure({
        status: 404,
        type: "invalid_request_error",
        message:
          `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or ` +
          "we can help at https://support.stripe.com/.",
      });
    }
    const text = await readBody(req);
    const form = parseForm(method === "POST" ? text : url.search.slice(1));
    const rawKey = req.headers["idempotency-key"];
    // Stripe ignores idempotency keys on GET and DELETE.
    const idempotencyKey = method === "POST" && typeof rawKey === "string" ? rawKey : null;
    const echo: Record<string, string> = {
      "stripe-version": String(req.headers["stripe-version"] ?? MODELLED_API_VERSION),
      ...(idempotencyKey === null ? {} : { "idempotency-key": idempotencyKey }),
    };
    if (runDueTasks(state, account, webhooks) > 0) {
      state.flush();
    }
    const fault = faults.take(account.id, {
      method,
      path,
      idempotencyKey,
      params: flattenForm(form),
    });
    const record = (status: number | null, replayed: boolean) => {
      requests.add(account.id, {
        requestId,
        method,
        path,
        idempotencyKey,
        status,
        replayed,
        fault: fault?.kind ?? null,
        atMs: startedMs,
      });
      log.info("request", {
        requestId,
        method,
        path,
        status,
        replayed,
        fault: fault?.kind ?? null,
        idempotencyKey,
        durationMs: Date.now() - startedMs,
      });
    };

    if (fault?.kind === "timeout") {
      // Never answer; the client's timeout fires and closes the socket.
      record(null, false);
      return;
    }
    if (fault?.kind === "error_500" && !fault.storeIdempotency) {
      record(500, false);
      send(
        res,
        requestId,
        failureAnswer(
          apiError("An unknown error occurred").fields,
          requestId,
          state.nowSeconds(account),
        ),
        echo,
      );
      return;
    }

    let claim: Claim | undefined;
    if (idempotencyKey !== null) {
      claim = idempotency.claim(account, apiKey, idempotencyKey, { method, path, form, requestId });
      state.flush();
      if (claim.kind === "replay") {
        record(claim.record.status ?? null, true);
        if (fault?.kind === "drop_after_success") {
          req.socket.destroy();
          return;
        }
        send(
          res,
          requestId,
          { status: claim.record.status ?? 500, body: claim.record.body ?? "", headers: {} },
          { ...echo, "idempotent-replayed": "true", "original-request": claim.record.requestId },
        );
        return;
      }
    }
    if (fault?.kind === "stall") {
      await faults.stall(account.id, fault.id);
    }

    const ctx: Ctx = {
      state,
      account,
      requestId,
      idempotencyKey,
      now: state.nowSeconds(account),
      events: webhooks,
    };
    let answer: Answer;
    let beforeStart = false;
    let began = false;
    try {
      if (fault?.kind === "error_500") {
        throw apiError("An unknown error occurred");
      }
      const paths = expandPaths(form);
      const result = found.route.handler(ctx, form, found.ids);
      began = true;
      answer = { status: 200, body: json(expandBody(ctx, result, paths)), headers: {} };
    } catch (error) {
      if (!(error instanceof StripeFailure)) {
        log.error("endpoint failed", { requestId, method, path, error });
      }
      const failure =
        error instanceof StripeFailure ? error : apiError("An unknown error occurred");
      // An expansion error comes after the work was done: save it like any other answer so a
      // retry with the key cannot do the work twice.
      beforeStart = !began && failure.fields.beforeStart === true;
      answer = failureAnswer(failure.fields, requestId, ctx.now);
    }
    if (claim?.kind === "new") {
      if (beforeStart) {
        idempotency.release(claim.record);
      } else {
        idempotency.complete(claim.record, answer.status, answer.body);
      }
    }
    state.flush();
    record(answer.status, false);
    if (fault?.kind === "drop_after_success") {
      // The work is done and saved; the client never hears about it.
      req.socket.destroy();
      return;
    }
    send(res, requestId, answer, echo);
  }

  const server = createServer((req, res) => {
    const requestId = newId("req");
    const url = new URL(req.url ?? "/", "http://sandbox.invalid");
    const method = (req.method ?? "GET").toUpperCase();
    const work = url.pathname.startsWith("/_sandbox/")
      ? handleControl(req, url, method).then((answer) => send(res, requestId, answer))
      : handleApi(req, res, url, method, requestId);
    work.catch((error: unknown) => {
      if (!(error instanceof StripeFailure)) {
        log.error("request failed", { requestId, error });
      }
      if (res.headersSent || res.destroyed) {
        return;
      }
      const failure =
        error instanceof StripeFailure ? error : apiError("An unknown error occurred");
      send(res, requestId, failureAnswer(failure.fields, requestId, Math.floor(Date.now() / 1000)));
    });
  });

  return {
    server,
    webhooks,
    faults,
    async close() {
      clearInterval(ticker);
      webhooks.stop();
      faults.release(null);
      state.flush();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      state.flush();
    },
  };
}
