/**
 * ClickHouse exceptions as the HTTP interface reports them: the modern text
 * `Code: N. DB::Exception: <message>. (TYPE) (version X)`, the `X-ClickHouse-Exception-Code`
 * header, and the HTTP status the real server derives from the code. @clickhouse/client-web
 * parses exactly that text into `ClickHouseError { code, type }`.
 */

/** Codes this stand-in raises itself; engine errors carry their own code and name. */
export const CODES = {
  BAD_ARGUMENTS: 36,
  NOT_IMPLEMENTED: 48,
  SYNTAX_ERROR: 62,
  UNKNOWN_SETTING: 115,
  CANNOT_DECOMPRESS: 271,
  AUTHENTICATION_FAILED: 516,
  UNKNOWN_EXCEPTION: 1002,
} as const;

type CodeName = keyof typeof CODES;

/** A failure to report to the client, already in ClickHouse's vocabulary. */
export class ClickHouseFailure extends Error {
  readonly code: number;
  readonly type: string;

  constructor(type: CodeName, message: string) {
    super(message);
    this.name = "ClickHouseFailure";
    this.code = CODES[type];
    this.type = type;
  }
}

// The real server's exceptionCodeToHTTPStatus (src/Server/HTTP), restated by number.
const STATUS_BY_CODE = new Map<number, number>([
  [194, 401], // REQUIRED_PASSWORD
  ...[192, 193, 516, 512, 497].map((code): [number, number] => [code, 403]),
  ...[
    36, 427, 6, 25, 26, 38, 41, 72, 441, 675, 676, 27, 376, 15, 44, 37, 123, 8, 167, 168, 223, 62,
    117, 53, 321,
  ].map((code): [number, number] => [code, 400]),
  ...[60, 46, 47, 50, 56, 81, 115, 152, 63, 73, 336, 78, 511].map((code): [number, number] => [
    code,
    404,
  ]),
  [229, 413], // QUERY_IS_TOO_LARGE
  [48, 501], // NOT_IMPLEMENTED
  [209, 503], // SOCKET_TIMEOUT
  [76, 503], // CANNOT_OPEN_FILE
  [381, 411], // HTTP_LENGTH_REQUIRED
  [159, 408], // TIMEOUT_EXCEEDED
  [439, 503], // CANNOT_SCHEDULE_TASK
  [779, 415], // UNSUPPORTED_MEDIA_TYPE
]);

/** The HTTP status ClickHouse answers with for an exception code; 500 when unlisted. */
export function httpStatusFor(code: number): number {
  return STATUS_BY_CODE.get(code) ?? 500;
}

/** What goes on the wire for one failed request. */
export interface WireError {
  code: number;
  status: number;
  text: string;
}

const CODE_RE = /^Code: (\d+)\. /;
const VERSION_RE = /\(version [^)]*\)\s*$/;

/**
 * Renders any thrown value as ClickHouse's exception text. Engine errors (chdb) already read
 * `Code: N. DB::Exception: ... (TYPE)` and only gain the version suffix; our own failures are
 * formatted the same way; anything else becomes UNKNOWN_EXCEPTION so the client still parses it.
 */
export function toWireError(error: unknown, engineVersion: string): WireError {
  const suffix = ` (version ${engineVersion})`;
  if (error instanceof ClickHouseFailure) {
    const text = `Code: ${error.code}. DB::Exception: ${error.message}. (${error.type})${suffix}`;
    return { code: error.code, status: httpStatusFor(error.code), text };
  }
  const message = error instanceof Error ? error.message : String(error);
  const engineCode = (error as { clickhouseCode?: unknown } | null)?.clickhouseCode;
  const parsed = CODE_RE.exec(message);
  const code = typeof engineCode === "number" ? engineCode : Number(parsed?.[1] ?? Number.NaN);
  if (parsed && Number.isFinite(code)) {
    const text = VERSION_RE.test(message) ? message.trimEnd() : `${message.trimEnd()}${suffix}`;
    return { code, status: httpStatusFor(code), text };
  }
  if (Number.isFinite(code)) {
    // A typed chdb error whose text lost the prefix (e.g. a JS-side insert validation error).
    const text = `Code: ${code}. DB::Exception: ${message}. (UNKNOWN_EXCEPTION)${suffix}`;
    return { code, status: httpStatusFor(code), text };
  }
  const fallback = CODES.UNKNOWN_EXCEPTION;
  return {
    code: fallback,
    status: httpStatusFor(fallback),
    text: `Code: ${fallback}. DB::Exception: ${message}. (UNKNOWN_EXCEPTION)${suffix}`,
  };
}
