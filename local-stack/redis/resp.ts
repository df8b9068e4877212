/**
 * RESP2, the wire protocol redis-server speaks by default: command encoding and an incremental
 * reply parser. Written here rather than taken from a client library because the gateway needs
 * the raw reply tree (simple vs bulk strings, errors nested in EXEC replies, integers as exact
 * digits), which general-purpose clients flatten or throw away.
 */

/** One reply exactly as the server sent it. Bulk payloads stay bytes (binary-safe). */
export type Reply =
  | { kind: "simple"; value: string }
  | { kind: "error"; message: string }
  | { kind: "integer"; digits: string }
  | { kind: "bulk"; value: Buffer | null }
  | { kind: "array"; items: Reply[] | null };

const CRLF = Buffer.from("\r\n");

/** Encodes one command as a RESP array of bulk strings. */
export function encodeCommand(args: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    parts.push(Buffer.from(`$${arg.length}\r\n`), arg, CRLF);
  }
  return Buffer.concat(parts);
}

/** A reply parsed from the front of a buffer, and the offset just past it. */
interface Parsed {
  reply: Reply;
  end: number;
}

/**
 * Parses one reply starting at `start`. Returns `undefined` when the buffer ends first, and
 * reports through `need` how many bytes from `start` a bulk payload needs at least, so the
 * caller can skip re-parsing until they have arrived.
 */
function parseAt(buffer: Buffer, start: number, need: { bytes: number }): Parsed | undefined {
  const lineEnd = buffer.indexOf(CRLF, start);
  if (lineEnd < 0) {
    return undefined;
  }
  const type = String.fromCharCode(buffer[start] ?? 0);
  const line = buffer.toString("utf8", start + 1, lineEnd);
  const afterLine = lineEnd + 2;
  switch (type) {
    case "+":
      return { reply: { kind: "simple", value: line }, end: afterLine };
    case "-":
      return { reply: { kind: "error", message: line }, end: afterLine };
    case ":":
      return { reply: { kind: "integer", digits: line }, end: afterLine };
    case "$": {
      const length = Number(line);
      if (length < 0) {
        return { reply: { kind: "bulk", value: null }, end: afterLine };
      }
      const end = afterLine + length + 2;
      if (buffer.length < end) {
        need.bytes = Math.max(need.bytes, end);
        return undefined;
      }
      // Copy out of the receive buffer so replies do not pin large socket chunks.
      const value = Buffer.from(buffer.subarray(afterLine, afterLine + length));
      return { reply: { kind: "bulk", value }, end };
    }
    case "*": {
      const count = Number(line);
      if (count < 0) {
        return { reply: { kind: "array", items: null }, end: afterLine };
      }
      const items: Reply[] = [];
      let offset = afterLine;
      for (let i = 0; i < count; i++) {
        const item = parseAt(buffer, offset, need);
        if (!item) {
          return undefined;
        }
        items.push(item.reply);
        offset = item.end;
      }
      return { reply: { kind: "array", items }, end: offset };
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)} from redis-server`);
  }
}

/**
 * Turns a byte stream into replies, in order. Chunks are only joined once enough bytes for
 * the pending reply are present, so a large value arriving in many chunks is copied once.
 */
export class ReplyParser {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private needBytes = 0;

  /** Feeds bytes and returns every reply they complete (possibly none). */
  push(chunk: Buffer): Reply[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered < this.needBytes) {
      return [];
    }
    let buffer = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
    const replies: Reply[] = [];
    let offset = 0;
    const need = { bytes: 0 };
    for (;;) {
      need.bytes = 0;
      const parsed = parseAt(buffer, offset, need);
      if (!parsed) {
        break;
      }
      replies.push(parsed.reply);
      offset = parsed.end;
      if (offset === buffer.length) {
        break;
      }
    }
    buffer = buffer.subarray(offset);
    this.chunks = buffer.length > 0 ? [buffer] : [];
    this.buffered = buffer.length;
    this.needBytes = need.bytes > 0 ? need.bytes - offset : 0;
    return replies;
  }
}
