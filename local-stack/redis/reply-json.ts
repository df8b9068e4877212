/**
 * Redis replies as Upstash's REST API renders them. With `Upstash-Encoding: base64` every
 * string (bulk or status) is base64 of its raw bytes, except the status reply `OK`, which
 * @upstash/redis special-cases; integers are JSON numbers and nil is `null`, at any depth.
 */
import type { Reply } from "./resp.ts";

/** One entry of a pipeline or transaction answer, already JSON text. */
export type EntryJson = string;

const INTEGER = /^-?\d+$/;

function stringJson(bytes: Buffer, base64: boolean): string {
  return JSON.stringify(base64 ? bytes.toString("base64") : bytes.toString("utf8"));
}

/**
 * Renders a reply's value as JSON text. Integers are written with their exact digits, so
 * values past 2^53 are not rounded on our side of the wire. Errors nested inside arrays (only
 * Lua can produce them) are rendered as their message string.
 */
export function valueJson(reply: Reply, base64: boolean): string {
  switch (reply.kind) {
    case "simple":
      if (reply.value === "OK") {
        return '"OK"';
      }
      return stringJson(Buffer.from(reply.value, "utf8"), base64);
    case "error":
      return stringJson(Buffer.from(reply.message, "utf8"), base64);
    case "integer":
      return INTEGER.test(reply.digits) ? reply.digits : JSON.stringify(reply.digits);
    case "bulk":
      return reply.value === null ? "null" : stringJson(reply.value, base64);
    case "array":
      if (reply.items === null) {
        return "null";
      }
      return `[${reply.items.map((item) => valueJson(item, base64)).join(",")}]`;
  }
}

/** `{"error": ...}` for an error reply, `{"result": ...}` for anything else. */
export function entryJson(reply: Reply, base64: boolean): EntryJson {
  if (reply.kind === "error") {
    return errorJson(reply.message);
  }
  return `{"result":${valueJson(reply, base64)}}`;
}

/** `{"error": message}`; error texts are never base64-encoded, as the client reads them raw. */
export function errorJson(message: string): EntryJson {
  return JSON.stringify({ error: message });
}
