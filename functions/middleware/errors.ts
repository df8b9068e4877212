import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { AppError, asAppError, PROBLEM_CONTENT_TYPE, toProblem } from "../../lib/errors/index.ts";
import { createLogger } from "../../lib/log/logger.ts";
import type { AppEnv } from "../context.ts";

function fromHttpException(error: HTTPException): AppError {
  if (error.status === 413) {
    return new AppError("PAYLOAD_TOO_LARGE", error.message || "Request body too large");
  }
  if (error.status === 401) {
    return new AppError("UNAUTHENTICATED", error.message || "Unauthenticated");
  }
  return new AppError("MALFORMED_BODY", error.message || "Bad request");
}

/** Renders an error as application/problem+json; the one place errors become responses. */
export function problemResponse(c: Context<AppEnv>, thrown: unknown): Response {
  const error = thrown instanceof HTTPException ? fromHttpException(thrown) : asAppError(thrown);
  const requestId = c.get("requestId") ?? "req_unknown";
  const log = c.get("log") ?? createLogger({ bindings: { requestId } });
  const problem = toProblem(error, requestId);
  if (problem.status >= 500) {
    log.error("request failed", { code: error.code, error: thrown, context: error.context });
  } else {
    log.info("request rejected", { code: error.code, detail: problem.detail });
  }
  const headers = new Headers({ "Content-Type": PROBLEM_CONTENT_TYPE, "Request-Id": requestId });
  if (error.retryAfterSeconds !== undefined) {
    headers.set("Retry-After", String(error.retryAfterSeconds));
  }
  return new Response(JSON.stringify(problem), { status: problem.status, headers });
}

/** Answers unmatched routes with a NOT_FOUND problem document. */
export function notFoundResponse(c: Context<AppEnv>): Response {
  return problemResponse(
    c,
    new AppError("NOT_FOUND", `No route for ${c.req.method} ${c.req.path}`, {
      detail: "Check the path and method against the OpenAPI document at /openapi.json.",
    }),
  );
}
