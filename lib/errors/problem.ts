import { AppError, type FieldError } from "./app-error.ts";
import { ERROR_CODES, type ErrorCode } from "./codes.ts";

/** RFC 9457 problem document, as every meterline error body is shaped. */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  code: ErrorCode;
  errors?: FieldError[];
  retryable?: boolean;
}

export const PROBLEM_CONTENT_TYPE = "application/problem+json";
const PROBLEM_TYPE_BASE = "https://meterline.dev/problems/";

/** Builds the problem document for an error; `requestId` becomes `instance`. */
export function toProblem(error: AppError, requestId: string): ProblemDocument {
  const entry = ERROR_CODES[error.code];
  const doc: ProblemDocument = {
    type: `${PROBLEM_TYPE_BASE}${error.code.toLowerCase().replaceAll("_", "-")}`,
    title: entry.title,
    status: entry.status,
    detail: error.detail ?? error.message,
    instance: requestId,
    code: error.code,
  };
  if (error.fieldErrors.length > 0) {
    doc.errors = error.fieldErrors;
  }
  if (error.retryable) {
    doc.retryable = true;
  }
  return doc;
}

/** Wraps anything thrown that is not an AppError as INTERNAL, keeping it as the cause. */
export function asAppError(thrown: unknown): AppError {
  if (thrown instanceof AppError) {
    return thrown;
  }
  return new AppError("INTERNAL", "Internal error", {
    detail: "An unexpected error occurred. It has been logged; retry later or contact support.",
    cause: thrown,
  });
}
