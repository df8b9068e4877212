/**
 * Stripe's error envelope `{error:{type, code, decline_code, message, param, ...}}` and the HTTP
 * statuses the SDK maps to its error classes (400/404 invalid request or idempotency, 401
 * authentication, 402 card, 409 conflict, 500 API error).
 */
export type StripeErrorType =
  | "api_error"
  | "card_error"
  | "idempotency_error"
  | "invalid_request_error";

export interface FailureFields {
  status: number;
  type: StripeErrorType;
  message: string;
  code?: string;
  declineCode?: string;
  param?: string;
  /** More members of the error hash, e.g. `charge`, `payment_intent`, `payment_method`. */
  extra?: Record<string, unknown>;
  /**
   * The request was rejected before the endpoint began (validation), so Stripe saves no
   * idempotent result for it and the same key may be retried.
   */
  beforeStart?: boolean;
  headers?: Record<string, string>;
}

/** A Stripe API error to answer with; thrown by endpoint code and caught by the server. */
export class StripeFailure extends Error {
  readonly fields: FailureFields;

  constructor(fields: FailureFields) {
    super(fields.message);
    this.fields = fields;
  }
}

/** The JSON body Stripe sends for an error; members in Stripe's (alphabetical) order. */
export function errorBody(
  fields: FailureFields,
  requestId: string,
  nowSeconds: number,
): { error: Record<string, unknown> } {
  const error: Record<string, unknown> = { ...fields.extra };
  if (fields.code !== undefined) {
    error.code = fields.code;
  }
  if (fields.declineCode !== undefined) {
    error.decline_code = fields.declineCode;
  }
  if (fields.code !== undefined) {
    error.doc_url = `https://stripe.com/docs/error-codes/${fields.code.replace(/_/g, "-")}`;
  }
  error.message = fields.message;
  if (fields.param !== undefined) {
    error.param = fields.param;
  }
  error.request_log_url = `https://dashboard.stripe.com/test/logs/${requestId}?t=${nowSeconds}`;
  error.type = fields.type;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(error).sort()) {
    sorted[key] = error[key];
  }
  return { error: sorted };
}

/** A validation failure (bad or missing parameter): not saved for idempotent replay. */
export function badRequest(message: string, param?: string, code?: string): StripeFailure {
  return new StripeFailure({
    status: 400,
    type: "invalid_request_error",
    message,
    beforeStart: true,
    ...(param === undefined ? {} : { param }),
    ...(code === undefined ? {} : { code }),
  });
}

/** `Missing required param: x.` (400 parameter_missing, not saved for replay). */
export function missingParam(param: string): StripeFailure {
  return badRequest(`Missing required param: ${param}.`, param, "parameter_missing");
}

/** `Received unknown parameter: x` (400 parameter_unknown, not saved for replay). */
export function unknownParam(param: string): StripeFailure {
  return badRequest(
    `Received unknown parameter: ${param}. The Stripe sandbox models only the parameters ` +
      "meterline uses; see docs/local-stack/stripe.md.",
    param,
    "parameter_unknown",
  );
}

/** A failure while the endpoint runs (saved for idempotent replay like any response). */
export function invalidRequest(
  message: string,
  options: { param?: string; code?: string; status?: number; extra?: Record<string, unknown> } = {},
): StripeFailure {
  return new StripeFailure({
    status: options.status ?? 400,
    type: "invalid_request_error",
    message,
    ...(options.param === undefined ? {} : { param: options.param }),
    ...(options.code === undefined ? {} : { code: options.code }),
    ...(options.extra === undefined ? {} : { extra: options.extra }),
  });
}

/** `No such customer: 'cus_x'` with 404 resource_missing. */
export function resourceMissing(label: string, id: string, param = "id"): StripeFailure {
  return invalidRequest(`No such ${label}: '${id}'`, {
    status: 404,
    code: "resource_missing",
    param,
  });
}

/** A PaymentIntent in the wrong status for the operation (Stripe includes the intent). */
export function unexpectedState(message: string, paymentIntent: unknown): StripeFailure {
  return invalidRequest(message, {
    code: "payment_intent_unexpected_state",
    extra: { payment_intent: paymentIntent },
  });
}

/** A 402 card_error, as a decline or an invalid card number answers. */
export function cardError(
  message: string,
  code: string,
  declineCode: string | undefined,
  extra: Record<string, unknown> = {},
  param?: string,
): StripeFailure {
  return new StripeFailure({
    status: 402,
    type: "card_error",
    message,
    code,
    extra,
    ...(declineCode === undefined ? {} : { declineCode }),
    ...(param === undefined ? {} : { param }),
  });
}

/** A 400 idempotency_error (key reused with other parameters or endpoint). */
export function idempotencyError(message: string): StripeFailure {
  return new StripeFailure({
    status: 400,
    type: "idempotency_error",
    message,
    beforeStart: true,
  });
}

/** A 500 api_error (Stripe failed). */
export function apiError(message: string): StripeFailure {
  return new StripeFailure({ status: 500, type: "api_error", message });
}

/**
 * Stripe answers a bad or missing key with 401 and type invalid_request_error; the SDK raises
 * StripeAuthenticationError from the status.
 */
export function authenticationError(message: string): StripeFailure {
  return new StripeFailure({
    status: 401,
    type: "invalid_request_error",
    message,
    beforeStart: true,
  });
}
