import { NumberLiteral } from "./decimal-text.ts";
import { INGEST_LIMITS } from "./limits.ts";

/**
 * A run of 16+ digits (possibly with a point) or an exponent: the only number literals whose
 * value a double might not hold exactly. Doubles hold every decimal of up to 15 significant
 * digits exactly enough that their shortest text equals the literal's value.
 */
const MAYBE_INEXACT_NUMBER = /\d[\d.]{15,}|\d[eE][+-]?\d/;

/**
 * The whole-body screen: such a literal where JSON puts numbers, right after `:`, `[` or `,`.
 * Text inside strings (UUIDs full of "1e4", timestamps) seldom looks like that, so bodies with
 * only ordinary numbers take the fast path; a string that does merely costs the slow path.
 */
const MAYBE_INEXACT_LITERAL = /[:[,]\s*-?(?:\d[\d.]{15,}|\d+(?:\.\d+)?[eE])/;

/** Thrown by `parseJsonExact` for text nesting deeper than INGEST_LIMITS.maxJsonDepth. */
export class JsonTooDeepError extends Error {
  constructor() {
    super(`nests too deeply (limit ${INGEST_LIMITS.maxJsonDepth})`);
    this.name = "JsonTooDeepError";
  }
}

/** Whether JSON `text` opens more than `limit` arrays or objects inside one another. */
function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === 0x5c) {
        i += 1;
      } else if (code === 0x22) {
        inString = false;
      }
    } else if (code === 0x22) {
      inString = true;
    } else if (code === 0x5b || code === 0x7b) {
      depth += 1;
      if (depth > limit) {
        return true;
      }
    } else if (code === 0x5d || code === 0x7d) {
      depth -= 1;
    }
  }
  return false;
}

/**
 * Parses JSON without silently losing precision in numbers. The fast path is plain JSON.parse;
 * only when the text contains a literal that a double might not hold exactly does it reparse
 * with a reviver that keeps such literals' source text as NumberLiteral. The reviver recurses
 * once per level, so that path first refuses text nesting deeper than the published limit
 * (JsonTooDeepError) instead of running out of stack; plain JSON.parse does not recurse.
 * Throws SyntaxError for text that is not JSON.
 */
export function parseJsonExact(text: string): unknown {
  if (!MAYBE_INEXACT_LITERAL.test(text)) {
    return JSON.parse(text);
  }
  if (nestsDeeperThan(text, INGEST_LIMITS.maxJsonDepth)) {
    throw new JsonTooDeepError();
  }
  return JSON.parse(text, function revive(
    this: unknown,
    _key,
    value,
    context?: { source?: string },
  ) {
    if (typeof value === "number" && context?.source !== undefined) {
      const source = context.source;
      return MAYBE_INEXACT_NUMBER.test(source) ? new NumberLiteral(source) : value;
    }
    return value;
  } as (this: unknown, key: string, value: unknown) => unknown);
}
