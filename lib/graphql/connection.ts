import { AppError } from "../errors/index.ts";

/** Items one page holds when the query names no `first`, and the most it may ask for. */
export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/** Relay-style page facts: enough to ask for the next page. */
export interface PageInfo {
  hasNextPage: boolean;
  endCursor: string | null;
}

/** One page of a list, as every list field of the schema returns it. */
export interface Connection<T> {
  nodes: T[];
  pageInfo: PageInfo;
}

/** Validated `first` / `after` arguments. `after` is still the opaque cursor text. */
export interface PageArgs {
  first: number;
  after: string | null;
}

const CURSOR_VERSION = 1;

/** A sort key as a cursor carries it: the values of the ordering columns of the last item. */
export type CursorKey = readonly (string | number)[];

function badInput(message: string, field: string): AppError {
  return new AppError("BAD_USER_INPUT", message, {
    detail: message,
    fieldErrors: [{ field, code: "invalid", detail: message }],
  });
}

/**
 * Checks `first` (1 to MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE when absent) and passes `after` on.
 * Throws BAD_USER_INPUT naming the argument.
 */
export function pageArgs(args: { first?: number | null; after?: string | null }): PageArgs {
  const first = args.first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw badInput(`first must be from 1 to ${MAX_PAGE_SIZE}`, "first");
  }
  const after = args.after === undefined || args.after === "" ? null : args.after;
  return { first, after };
}

function toBase64Url(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) {
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
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

/**
 * An opaque cursor naming the last item of a page by its sort key. Clients pass it back as
 * `after` and must not build or read it; the version inside lets the encoding change.
 */
export function encodeCursor(key: CursorKey): string {
  return toBase64Url(JSON.stringify({ v: CURSOR_VERSION, k: key }));
}

/**
 * Reads a cursor made by `encodeCursor` whose key has `arity` parts of the given kinds
 * (`s` string, `n` finite number). Throws BAD_USER_INPUT for anything else, so a forged or
 * stale cursor never reaches SQL as a surprise.
 */
export function decodeCursor(cursor: string, kinds: readonly ("s" | "n")[]): CursorKey {
  const text = fromBase64Url(cursor);
  let parsed: unknown;
  try {
    parsed = text === null ? null : JSON.parse(text);
  } catch {
    parsed = null;
  }
  const key = (parsed as { v?: unknown; k?: unknown } | null)?.k;
  const valid =
    (parsed as { v?: unknown } | null)?.v === CURSOR_VERSION &&
    Array.isArray(key) &&
    key.length === kinds.length &&
    key.every((part, i) =>
      kinds[i] === "s"
        ? typeof part === "string"
        : typeof part === "number" && Number.isFinite(part),
    );
  if (!valid) {
    throw badInput("after is not a cursor this list returned", "after");
  }
  return key as CursorKey;
}

/** Reads a cursor key part that must be an ISO instant; BAD_USER_INPUT otherwise. */
export function cursorInstant(part: string | number | undefined): string {
  const ms = typeof part === "string" ? Date.parse(part) : Number.NaN;
  if (!Number.isFinite(ms)) {
    throw badInput("after is not a cursor this list returned", "after");
  }
  return new Date(ms).toISOString();
}

/**
 * Builds a connection from rows fetched with `first + 1`: the extra row only says another page
 * exists; the cursor names the last row shown by `keyOf`.
 */
export function toConnection<T>(
  rows: readonly T[],
  first: number,
  keyOf: (row: T) => CursorKey,
): Connection<T> {
  const nodes = rows.slice(0, first);
  const last = nodes[nodes.length - 1];
  const hasNextPage = rows.length > first && last !== undefined;
  return { nodes, pageInfo: { hasNextPage, endCursor: last ? encodeCursor(keyOf(last)) : null } };
}

/**
 * Pages a list already held in memory (a record's own sub-list, such as a plan's versions or a
 * usage report's minute buckets), in its given order, by a unique key per item.
 */
export function sliceConnection<T>(
  items: readonly T[],
  args: PageArgs,
  keyOf: (item: T) => string,
): Connection<T> {
  let start = 0;
  if (args.after !== null) {
    const [after] = decodeCursor(args.after, ["s"]);
    const index = items.findIndex((item) => keyOf(item) === after);
    if (index === -1) {
      throw badInput("after names an item that is no longer in this list", "after");
    }
    start = index + 1;
  }
  return toConnection(items.slice(start, start + args.first + 1), args.first, (item) => [
    keyOf(item),
  ]);
}

/**
 * Adapts a page from a lib list function (`{ data, next_cursor }`, lib/catalogue/pagination.ts),
 * whose cursors pass through to the client unchanged.
 */
export function fromLibPage<T>(page: { data: T[]; next_cursor: string | null }): Connection<T> {
  return {
    nodes: page.data,
    pageInfo: { hasNextPage: page.next_cursor !== null, endCursor: page.next_cursor },
  };
}
