export { AppError, type AppErrorOptions, type FieldError, isAppError } from "./app-error.ts";
export { ERROR_CODES, type ErrorCode, RETRYABLE_BY_DEFAULT, statusOf } from "./codes.ts";
export { asAppError, PROBLEM_CONTENT_TYPE, type ProblemDocument, toProblem } from "./problem.ts";
