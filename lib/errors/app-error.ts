import { type ErrorCode, RETRYABLE_BY_DEFAULT } from "./codes.ts";

/** One per-field validation failure, reported under `errors` in a problem document. */
export interface FieldError {
  /** JSON pointer or dotted path of the offending field, e.g. `/events/3/value`. */
  field: string;
  code: string;
  detail: string;
}

export interface AppErrorOptions {
  detail?: string;
  /** Structured facts that explain the failure; logged, never shown to other tenants. */
  context?: Record<string, unknown>;
  cause?: unknown;
  fieldErrors?: FieldError[];
  /** Overrides the code's default retryability, e.g. a dependency that answered "try later". */
  retryable?: boolean;
  /** Seconds the caller should wait before retrying, sent as `Retry-After`. */
  retryAfterSeconds?: number;
}

/**
 * The one error type meterline throws for expected failures and infrastructure faults.
 * Its `code` is stable and maps to an HTTP status in `codes.ts`; handlers never pick statuses.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly detail: string | undefined;
  readonly context: Record<string, unknown>;
  readonly fieldErrors: FieldError[];
  readonly retryable: boolean;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "AppError";
    this.code = code;
    this.detail = options.detail;
    this.context = options.context ?? {};
    this.fieldErrors = options.fieldErrors ?? [];
    this.retryable = options.retryable ?? RETRYABLE_BY_DEFAULT.has(code);
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** Narrows an unknown thrown value to AppError, including ones rebuilt across an RPC boundary. */
export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}
