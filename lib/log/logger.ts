/**
 * Structured logging: one JSON line per call with fixed keys. Bindings (requestId, accountId...)
 * are attached with `child`. Never pass secrets, API keys or card data in fields.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(bindings: LogFields): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  bindings?: LogFields;
  nowMs?: () => number;
  /** Where lines go; defaults to console.log so the Workers runtime captures them. */
  sink?: (line: string) => void;
}

function serialiseError(value: unknown): unknown {
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: value.message };
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) {
      out.code = code;
    }
    if (value.cause !== undefined) {
      out.cause = serialiseError(value.cause);
    }
    return out;
  }
  return value;
}

/** Creates a JSON-lines logger. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const threshold = LEVEL_RANK[options.level ?? "info"];
  const bindings = options.bindings ?? {};
  const nowMs = options.nowMs ?? Date.now;
  const sink = options.sink ?? ((line: string) => console.log(line));

  function write(level: LogLevel, msg: string, fields?: LogFields): void {
    if (LEVEL_RANK[level] < threshold) {
      return;
    }
    const record: LogFields = { time: new Date(nowMs()).toISOString(), level, msg, ...bindings };
    if (fields) {
      for (const [key, value] of Object.entries(fields)) {
        record[key] = serialiseError(value);
      }
    }
    sink(
      JSON.stringify(record, (_key, value) =>
        typeof value === "bigint" ? value.toString() : value,
      ),
    );
  }

  return {
    debug: (msg, fields) => write("debug", msg, fields),
    info: (msg, fields) => write("info", msg, fields),
    warn: (msg, fields) => write("warn", msg, fields),
    error: (msg, fields) => write("error", msg, fields),
    child: (more) => createLogger({ ...options, bindings: { ...bindings, ...more } }),
  };
}

/** A logger that drops everything; for tests that assert on other things. */
export const silentLogger: Logger = createLogger({ sink: () => {} });

export function isLogLevel(value: string): value is LogLevel {
  return value in LEVEL_RANK;
}
