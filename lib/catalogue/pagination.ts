import { CatalogueErrors } from "./fields.ts";

/** Page size when the caller names none. */
export const DEFAULT_PAGE_SIZE = 20;
/** The most items one page may hold. */
export const MAX_PAGE_SIZE = 100;

/** A validated page request: up to `limit` items sorting after `after` (null: from the start). */
export interface PageRequest {
  limit: number;
  after: string | null;
}

/** One page of a list; `next_cursor` is null on the last page. */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

const CURSOR_VERSION = 1;

function toBase64Url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const byte of bytes) {
    binary += String.fromCharCode(byte);
  }
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): string | null {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) {
    return null;
  }
  try {
    const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return null;
  }
}

/**
 * An opaque cursor naming the last item of a page by its sort key (base64url JSON). Callers must
 * not build or read cursors; the encoding may change with the version inside.
 */
export function encodeCursor(lastKey: string): string {
  return toBase64Url(JSON.stringify({ v: CURSOR_VERSION, after: lastKey }));
}

function decodeCursor(cursor: string): string | null {
  const text = fromBase64Url(cursor);
  if (text === null) {
    return null;
  }
  try {
    const parsed = JSON.parse(text) as { v?: unknown; after?: unknown };
    return parsed.v === CURSOR_VERSION && typeof parsed.after === "string" ? parsed.after : null;
  } catch {
    return null;
  }
}

/**
 * Validates list query parameters (`limit`: 1..100, default 20; `cursor`: from a previous
 * page). Throws VALIDATION_FAILED naming `/limit` and `/cursor` problems together.
 */
export function parsePageRequest(query: { limit?: string; cursor?: string }): PageRequest {
  const errors = new CatalogueErrors();
  let limit = DEFAULT_PAGE_SIZE;
  if (query.limit !== undefined) {
    if (!/^\d{1,6}$/.test(query.limit)) {
      errors.add("/limit", "INVALID_TYPE", "limit must be a whole number");
    } else {
      limit = Number(query.limit);
      if (limit < 1 || limit > MAX_PAGE_SIZE) {
        errors.add("/limit", "OUT_OF_RANGE", `limit must be from 1 to ${MAX_PAGE_SIZE}`);
      }
    }
  }
  let after: string | null = null;
  if (query.cursor !== undefined && query.cursor !== "") {
    after = decodeCursor(query.cursor);
    if (after === null) {
      errors.add("/cursor", "INVALID_CURSOR");
    }
  }
  errors.throwIfAny("The list parameters are invalid");
  return { limit, after };
}

/**
 * Builds a page from rows fetched with `limit + 1`: the extra row only says another page
 * exists, and the cursor names the last row shown.
 */
export function toPage<Row, T>(
  rows: Row[],
  request: PageRequest,
  keyOf: (row: Row) => string,
  map: (row: Row) => T,
): Page<T> {
  const shown = rows.slice(0, request.limit);
  const last = shown[shown.length - 1];
  const more = rows.length > request.limit && last !== undefined;
  return { data: shown.map(map), next_cursor: more ? encodeCursor(keyOf(last)) : null };
}
