import { isAppError } from "../errors/index.ts";

/** A sink failure in the form failure notes and dead letters keep. */
export interface SinkFailure {
  /** `DEPENDENCY_UNAVAILABLE`, `CLICKHOUSE_<TYPE>`, `POSTGRES_<SQLSTATE>` or `UNEXPECTED`. */
  code: string;
  message: string;
  /**
   * True when the sink itself was unreachable (every message would fail the same way); false
   * when the sink answered with an error, which may be caused by one message's data.
   */
  unavailable: boolean;
}

function messageOf(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? ` (cause: ${error.cause.message})` : "";
    return `${error.message}${cause}`;
  }
  return String(error);
}

/** Describes a ClickHouse client failure: a server error has a numeric code and a type. */
export function clickHouseFailure(error: unknown): SinkFailure {
  const e = error as { code?: unknown; type?: unknown };
  if (typeof e?.code === "string" && /^\d+$/.test(e.code) && typeof e.type === "string") {
    return { code: `CLICKHOUSE_${e.type}`, message: messageOf(error), unavailable: false };
  }
  // No ClickHouse error body: the request never reached the server or its answer was lost.
  return { code: "CLICKHOUSE_UNREACHABLE", message: messageOf(error), unavailable: true };
}

/** Describes a Postgres failure: unreachable (DEPENDENCY_UNAVAILABLE) or an SQL error. */
export function postgresFailure(error: unknown): SinkFailure {
  if (isAppError(error)) {
    return { code: error.code, message: messageOf(error), unavailable: error.retryable };
  }
  const sqlState = (error as { code?: unknown })?.code;
  if (typeof sqlState === "string" && /^[0-9A-Z]{5}$/.test(sqlState)) {
    return { code: `POSTGRES_${sqlState}`, message: messageOf(error), unavailable: false };
  }
  return { code: "UNEXPECTED", message: messageOf(error), unavailable: false };
}
