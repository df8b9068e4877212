import { AppError } from "../errors/index.ts";
import { NumberLiteral } from "./decimal-text.ts";
import type { RawEvent } from "./event.ts";
import { JsonTooDeepError, parseJsonExact } from "./json-exact.ts";
import { INGEST_LIMITS } from "./limits.ts";

/** Body encodings `POST /v1/events` accepts, by media type (`readBodyText` requires UTF-8). */
export const EVENT_MEDIA_TYPES = {
  json: "application/json",
  ndjson: "application/x-ndjson",
  cloudEvent: "application/cloudevents+json",
  cloudEventBatch: "application/cloudevents-batch+json",
} as const;

const NDJSON_ALIASES = new Set(["application/x-ndjson", "application/ndjson", "application/jsonl"]);

/** What the decoder produced: raw events plus per-line failures that are rejections, not 400s. */
export interface DecodedBody {
  events: RawEvent[];
  /** Indexes of NDJSON lines or CloudEvents that could not become events, with the reason. */
  malformed: { index: number; code: "MALFORMED_JSON" | "CLOUDEVENT_INVALID"; detail: string }[];
  /** Events found in the body, malformed ones included. */
  total: number;
}

function mediaTypeOf(contentType: string | null): string {
  return (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

/** The `charset` parameter of a Content-Type, lower-cased and unquoted; null without one. */
function charsetOf(contentType: string | null): string | null {
  for (const parameter of (contentType ?? "").split(";").slice(1)) {
    const [name, value] = parameter.split("=", 2);
    if (name?.trim().toLowerCase() === "charset" && value !== undefined) {
      return value
        .trim()
        .replace(/^"(.*)"$/, "$1")
        .toLowerCase();
    }
  }
  return null;
}

/**
 * Reads a body stream to text, decompressing gzip, and refusing to read past the limits: the
 * wire limit on the raw stream, the body limit after decompression (gzip bombs stop early).
 * The text must be UTF-8: a `charset` other than utf-8 is UNSUPPORTED_MEDIA_TYPE (415), and
 * invalid UTF-8 is MALFORMED_BODY (400) rather than being replaced with U+FFFD, which would make
 * events with different ids look like duplicates of one another.
 */
export async function readBodyText(
  body: ReadableStream<Uint8Array> | null,
  contentEncoding: string | null,
  contentType: string | null,
  /**
   * The declared Content-Length, when the body is not compressed: small bodies within the wire
   * limit are then read in one go, without the byte-counting stream pipeline (it costs more than
   * the read for a single event). The cap is still checked on the bytes actually received.
   */
  declaredLength: number | null = null,
): Promise<string> {
  const charset = charsetOf(contentType);
  if (charset !== null && charset !== "utf-8" && charset !== "utf8") {
    throw new AppError("UNSUPPORTED_MEDIA_TYPE", `Unsupported charset: ${charset}`, {
      detail: `The charset ${charset} is not supported: send UTF-8 (charset=utf-8, or none).`,
    });
  }
  if (body === null) {
    throw new AppError("MALFORMED_BODY", "The request has no body", {
      detail: "Send the events as the request body.",
    });
  }
  const encoding = (contentEncoding ?? "identity").trim().toLowerCase();
  if (
    (encoding === "identity" || encoding === "") &&
    declaredLength !== null &&
    declaredLength <= SMALL_BODY_BYTES
  ) {
    const small = await new Response(body).arrayBuffer();
    if (small.byteLength > INGEST_LIMITS.maxWireBytes) {
      throw new AppError(
        "PAYLOAD_TOO_LARGE",
        `Body exceeds ${INGEST_LIMITS.maxWireBytes} bytes (wire)`,
        {
          detail: `Send at most ${INGEST_LIMITS.maxWireBytes} bytes per request; split larger batches.`,
        },
      );
    }
    return decodeUtf8(small);
  }
  let stream: ReadableStream<Uint8Array> = body.pipeThrough(
    byteCap(INGEST_LIMITS.maxWireBytes, "wire"),
  );
  if (encoding === "gzip" || encoding === "x-gzip") {
    stream = stream.pipeThrough(
      new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
    );
  } else if (encoding !== "identity" && encoding !== "") {
    throw new AppError("UNSUPPORTED_MEDIA_TYPE", `Unsupported Content-Encoding: ${encoding}`, {
      detail: "Send the body uncompressed or with Content-Encoding: gzip.",
    });
  }
  stream = stream.pipeThrough(byteCap(INGEST_LIMITS.maxBodyBytes, "decoded"));
  let bytes: ArrayBuffer;
  try {
    bytes = await new Response(stream).arrayBuffer();
  } catch (error) {
    if (error instanceof AppError) {
      throw error;
    }
    throw new AppError("MALFORMED_BODY", "The body could not be decompressed", {
      detail: "The gzip stream is corrupt or truncated.",
      cause: error,
    });
  }
  return decodeUtf8(bytes);
}

/** Bodies up to this size, uncompressed and with a declared length, are read without streams. */
const SMALL_BODY_BYTES = 1024 * 1024;

function decodeUtf8(bytes: ArrayBuffer): string {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch (error) {
    throw new AppError("MALFORMED_BODY", "The body is not valid UTF-8", {
      detail: "The body is not valid UTF-8. Encode the JSON text as UTF-8.",
      cause: error,
    });
  }
}

function byteCap(
  limit: number,
  which: "wire" | "decoded",
): TransformStream<Uint8Array, Uint8Array> {
  let seen = 0;
  return new TransformStream({
    transform(chunk, controller) {
      seen += chunk.byteLength;
      if (seen > limit) {
        controller.error(
          new AppError("PAYLOAD_TOO_LARGE", `Body exceeds ${limit} bytes (${which})`, {
            detail: `Send at most ${limit} bytes${which === "decoded" ? " after decompression" : ""} per request; split larger batches.`,
          }),
        );
        return;
      }
      controller.enqueue(chunk);
    },
  });
}

function parseWhole(text: string): unknown {
  try {
    return parseJsonExact(text);
  } catch (error) {
    if (error instanceof JsonTooDeepError) {
      throw new AppError("MALFORMED_BODY", "The body nests too deeply", {
        detail:
          `The body ${error.message}: arrays and objects may nest at most ` +
          `${INGEST_LIMITS.maxJsonDepth} levels. An event needs 3 (batch, event, properties).`,
      });
    }
    throw new AppError("MALFORMED_BODY", "The body is not valid JSON", {
      detail: `${error instanceof Error ? error.message : "parse error"}. Send a JSON object, a JSON array or NDJSON.`,
    });
  }
}

function tooMany(count: number): AppError {
  return new AppError("TOO_MANY_EVENTS", `${count} events in one request`, {
    detail: `Send at most ${INGEST_LIMITS.maxEventsPerRequest} events per request; split larger batches.`,
  });
}

/** Maps a CloudEvents 1.0 envelope onto meterline's event fields. */
function fromCloudEvent(
  envelope: unknown,
): { ok: true; event: unknown } | { ok: false; detail: string } {
  if (typeof envelope !== "object" || envelope === null || Array.isArray(envelope)) {
    return { ok: false, detail: "a CloudEvent must be a JSON object" };
  }
  const ce = envelope as Record<string, unknown>;
  if (ce.specversion !== "1.0") {
    return { ok: false, detail: 'specversion must be "1.0"' };
  }
  for (const field of ["id", "source", "type"] as const) {
    if (typeof ce[field] !== "string" || ce[field] === "") {
      return { ok: false, detail: `CloudEvent attribute ${field} is required` };
    }
  }
  const data = ce.data ?? {};
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    return { ok: false, detail: "CloudEvent data must be a JSON object" };
  }
  const { value, ...properties } = data as Record<string, unknown>;
  const event: Record<string, unknown> = { id: ce.id, meter: ce.type, properties };
  if (ce.subject !== undefined) {
    event.account = ce.subject;
  }
  if (ce.time !== undefined) {
    event.time = ce.time;
  }
  if (value !== undefined) {
    event.value = value;
  }
  return { ok: true, event };
}

/** A JSON object as the exact parser returns it (not an array, null or a number literal). */
function isJsonObject(value: unknown): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof NumberLiteral)
  );
}

/**
 * Decodes a request body into raw events by media type. Whole-body problems (unknown type,
 * unparseable JSON, too many events) throw AppError and store nothing; a bad NDJSON line or a
 * malformed CloudEvent in a batch only rejects that event.
 */
export function decodeEvents(contentType: string | null, text: string): DecodedBody {
  const media = mediaTypeOf(contentType);
  const events: RawEvent[] = [];
  const malformed: DecodedBody["malformed"] = [];

  if (media === EVENT_MEDIA_TYPES.json || media === "") {
    const parsed = parseWhole(text);
    if (!Array.isArray(parsed) && !isJsonObject(parsed)) {
      throw new AppError("MALFORMED_BODY", "The body is neither an event nor an array of events", {
        detail: "Send one event as a JSON object, or several as a JSON array of objects.",
      });
    }
    const list = Array.isArray(parsed) ? parsed : [parsed];
    if (list.length > INGEST_LIMITS.maxEventsPerRequest) {
      throw tooMany(list.length);
    }
    for (const [index, body] of list.entries()) {
      events.push({ index, body });
    }
  } else if (NDJSON_ALIASES.has(media)) {
    const lines = text.split("\n");
    let index = 0;
    for (const line of lines) {
      const trimmed = line.trim();
      if (trimmed === "") {
        continue;
      }
      if (index >= INGEST_LIMITS.maxEventsPerRequest) {
        throw tooMany(lines.filter((l) => l.trim() !== "").length);
      }
      try {
        events.push({ index, body: parseJsonExact(trimmed) });
      } catch (error) {
        malformed.push({
          index,
          code: "MALFORMED_JSON",
          detail: `line ${index + 1}: ${error instanceof Error ? error.message : "invalid JSON"}`,
        });
      }
      index += 1;
    }
  } else if (
    media === EVENT_MEDIA_TYPES.cloudEvent ||
    media === EVENT_MEDIA_TYPES.cloudEventBatch
  ) {
    const parsed = parseWhole(text);
    const batch = media === EVENT_MEDIA_TYPES.cloudEventBatch;
    if (batch && !Array.isArray(parsed)) {
      throw new AppError("MALFORMED_BODY", "A CloudEvents batch must be a JSON array", {
        detail: "Send an array of CloudEvents, or use application/cloudevents+json for one event.",
      });
    }
    const list = batch ? (parsed as unknown[]) : [parsed];
    if (list.length > INGEST_LIMITS.maxEventsPerRequest) {
      throw tooMany(list.length);
    }
    list.forEach((envelope, index) => {
      const mapped = fromCloudEvent(envelope);
      if (mapped.ok) {
        events.push({ index, body: mapped.event });
      } else {
        malformed.push({ index, code: "CLOUDEVENT_INVALID", detail: mapped.detail });
      }
    });
  } else {
    throw new AppError("UNSUPPORTED_MEDIA_TYPE", `Unsupported Content-Type: ${media}`, {
      detail:
        "Use application/json (an event or an array), application/x-ndjson, " +
        "application/cloudevents+json or application/cloudevents-batch+json.",
    });
  }

  const total = events.length + malformed.length;
  if (total === 0) {
    throw new AppError("MALFORMED_BODY", "The body contains no events", {
      detail: "Send at least one event.",
    });
  }
  return { events, malformed, total };
}
