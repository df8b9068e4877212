import { GraphQLError } from "graphql";
import { AppError, type ErrorCode } from "../errors/index.ts";

/**
 * The stable codes a GraphQL error carries in `extensions.code`. Part of the public API: never
 * rename one, only add. `GRAPHQL_PARSE_FAILED` and `GRAPHQL_VALIDATION_FAILED` are queries that
 * are not GraphQL or do not fit the schema; the rest are meterline's error codes.
 */
export const GRAPHQL_ERROR_CODES = [
  "UNAUTHENTICATED",
  "FORBIDDEN",
  "NOT_FOUND",
  "BAD_USER_INPUT",
  "QUERY_TOO_DEEP",
  "QUERY_TOO_COSTLY",
  "GRAPHQL_PARSE_FAILED",
  "GRAPHQL_VALIDATION_FAILED",
  "UNSUPPORTED_MEDIA_TYPE",
  "METHOD_NOT_ALLOWED",
  "RATE_LIMITED",
  "DEPENDENCY_UNAVAILABLE",
  "INTERNAL",
] as const;
/** One of GRAPHQL_ERROR_CODES. */
export type GraphQLErrorCode = (typeof GRAPHQL_ERROR_CODES)[number];

/** AppError codes that mean "your argument is wrong" in REST terms; GraphQL says BAD_USER_INPUT. */
const INPUT_CODES: ReadonlySet<ErrorCode> = new Set([
  "VALIDATION_FAILED",
  "INVALID_QUERY",
  "MALFORMED_BODY",
  "BAD_USER_INPUT",
]);

const PASSED_THROUGH: ReadonlySet<string> = new Set(GRAPHQL_ERROR_CODES);

/** The GraphQL code for an AppError code: input errors fold into BAD_USER_INPUT. */
export function graphQLCodeOf(code: ErrorCode): GraphQLErrorCode {
  if (INPUT_CODES.has(code)) {
    return "BAD_USER_INPUT";
  }
  return PASSED_THROUGH.has(code) ? (code as GraphQLErrorCode) : "INTERNAL";
}

/** `extensions` of an error built from an AppError: code, detail, field errors, retry hint. */
function extensionsOf(error: AppError, requestId: string): Record<string, unknown> {
  const code = graphQLCodeOf(error.code);
  if (code === "INTERNAL") {
    // Internal details stay in the log; the request id finds them there.
    return { code, requestId };
  }
  const extensions: Record<string, unknown> = { code, detail: error.detail ?? error.message };
  if (error.fieldErrors.length > 0) {
    extensions.errors = error.fieldErrors;
  }
  if (error.retryable) {
    extensions.retryable = true;
    if (error.retryAfterSeconds !== undefined) {
      extensions.retryAfterSeconds = error.retryAfterSeconds;
    }
  }
  return extensions;
}

/**
 * The error the client sees for anything a resolver threw: an AppError keeps its message and
 * gets its stable code; anything else (a bug, an unexpected driver failure) becomes INTERNAL
 * with only the request id, so no internals leak. Location and path are kept.
 */
export function toClientError(error: GraphQLError, requestId: string): GraphQLError {
  if (typeof error.extensions?.code === "string" && !error.originalError) {
    return error;
  }
  const original = error.originalError;
  const app =
    original instanceof AppError
      ? original
      : original instanceof GraphQLError && typeof original.extensions?.code === "string"
        ? null
        : new AppError("INTERNAL", "Internal error");
  if (app === null) {
    return original as GraphQLError;
  }
  const code = graphQLCodeOf(app.code);
  return new GraphQLError(code === "INTERNAL" ? "Internal error" : app.message, {
    nodes: error.nodes ?? null,
    source: error.source ?? null,
    positions: error.positions ?? null,
    path: error.path ?? null,
    extensions: extensionsOf(app, requestId),
  });
}

/** A GraphQL error with a code and no schema location: auth, transport and limit failures. */
export function requestError(
  code: GraphQLErrorCode,
  message: string,
  extensions: Record<string, unknown> = {},
): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extensions } });
}

/** The JSON body of a response that failed before any GraphQL ran (auth, method, media type). */
export function errorBody(code: GraphQLErrorCode, message: string, detail: string): string {
  return JSON.stringify({ errors: [{ message, extensions: { code, detail } }] });
}
