import { AppError } from "../errors/index.ts";
import { clickHouseFailure } from "../pipeline/sink-errors.ts";

/**
 * Turns a ClickHouse client failure into what an HTTP caller should see: an unreachable server
 * becomes retryable DEPENDENCY_UNAVAILABLE; a server error (a query meterline got wrong) is
 * returned as it is, to surface as an internal error.
 */
export function wrapClickHouseError(error: unknown): unknown {
  if (clickHouseFailure(error).unavailable) {
    return new AppError("DEPENDENCY_UNAVAILABLE", "ClickHouse is unreachable", {
      detail: "Usage analytics did not answer. Retry shortly.",
      cause: error,
      retryable: true,
      retryAfterSeconds: 5,
    });
  }
  return error;
}
