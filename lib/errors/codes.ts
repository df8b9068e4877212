/**
 * Every stable error code meterline returns, with its HTTP status and a human title.
 * Codes are part of the public API: never rename one, only add.
 */
export const ERROR_CODES = {
  // Request shape
  MALFORMED_BODY: { status: 400, title: "The request body could not be parsed" },
  VALIDATION_FAILED: { status: 422, title: "The request is well-formed but invalid" },
  INVALID_QUERY: { status: 400, title: "A query parameter is invalid" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: "Unsupported Content-Type or Content-Encoding" },
  PAYLOAD_TOO_LARGE: { status: 413, title: "The request body is too large" },
  TOO_MANY_EVENTS: { status: 413, title: "Too many events in one request" },
  WEBHOOK_SIGNATURE_INVALID: {
    status: 400,
    title: "The webhook signature does not match the payload",
  },
  // Identity
  UNAUTHENTICATED: { status: 401, title: "Missing or invalid API key" },
  FORBIDDEN: { status: 403, title: "This key may not perform this action" },
  NOT_FOUND: { status: 404, title: "No such resource" },
  METHOD_NOT_ALLOWED: { status: 405, title: "Method not allowed" },
  // State
  CONFLICT: { status: 409, title: "The resource is in a state that forbids this change" },
  ALREADY_EXISTS: { status: 409, title: "A resource with this key already exists" },
  IMMUTABLE_FIELD: { status: 409, title: "A field that is fixed at creation was changed" },
  IDEMPOTENCY_CONFLICT: {
    status: 409,
    title: "The idempotency key was reused with other parameters",
  },
  RATE_LIMITED: { status: 429, title: "Too many requests" },
  AMOUNT_TOO_LARGE: {
    status: 422,
    title: "An amount is beyond what the API can state exactly",
  },
  // GraphQL (lib/graphql): limits on what one query may ask for, and its argument errors
  QUERY_TOO_DEEP: { status: 400, title: "The query nests fields too deeply" },
  QUERY_TOO_COSTLY: { status: 400, title: "The query asks for too much at once" },
  BAD_USER_INPUT: { status: 400, title: "A GraphQL argument is invalid" },
  ACCOUNT_SUSPENDED: { status: 403, title: "The account is suspended" },
  // Infrastructure
  DEPENDENCY_UNAVAILABLE: { status: 503, title: "A service meterline depends on is unavailable" },
  BAD_ENVIRONMENT: { status: 500, title: "The Worker is misconfigured" },
  INTERNAL: { status: 500, title: "Internal error" },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The HTTP status for a code; the single place where codes become statuses. */
export function statusOf(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}

/** Codes whose failures are worth retrying unless the thrower says otherwise. */
export const RETRYABLE_BY_DEFAULT: ReadonlySet<ErrorCode> = new Set([
  "DEPENDENCY_UNAVAILABLE",
  "RATE_LIMITED",
]);
