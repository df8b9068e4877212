/**
 * Stripe's list and search envelopes: newest first, `limit` 1–100 (default 10), cursor paging by
 * `starting_after` / `ending_before`, `created` filters; search pages by an opaque `page` token.
 */
import type { Ctx } from "./context.ts";
import { badRequest, resourceMissing } from "./failure.ts";
import type { Params } from "./params.ts";
import type { StoredObject } from "./state.ts";

/** Parameters every list endpoint accepts (besides `expand`). */
export const LIST_PARAMS = ["limit", "starting_after", "ending_before", "created"] as const;
/** Parameters every search endpoint accepts (besides `expand`). */
export const SEARCH_PARAMS = ["query", "limit", "page"] as const;

function readLimit(params: Params): number {
  const limit = params.integer("limit") ?? 10;
  if (limit < 1 || limit > 100) {
    throw badRequest(
      "This value must be greater than or equal to 1 and less than or equal to 100.",
      "limit",
    );
  }
  return limit;
}

/** Applies `created=<t>` or `created[gt|gte|lt|lte]=<t>`. */
function createdFilter(params: Params): (stored: StoredObject) => boolean {
  if (!params.has("created")) {
    return () => true;
  }
  if (typeof params.raw.created === "string") {
    const exact = params.integer("created");
    return (stored) => exact === undefined || stored.body.created === exact;
  }
  const range = params.hash("created", ["gt", "gte", "lt", "lte"]);
  const gt = range?.integer("gt");
  const gte = range?.integer("gte");
  const lt = range?.integer("lt");
  const lte = range?.integer("lte");
  return (stored) => {
    const created = Number(stored.body.created);
    return (
      (gt === undefined || created > gt) &&
      (gte === undefined || created >= gte) &&
      (lt === undefined || created < lt) &&
      (lte === undefined || created <= lte)
    );
  };
}

/** One page of a list endpoint; `items` must already be newest first and filtered. */
export function listPage(
  ctx: Ctx,
  items: StoredObject[],
  params: Params,
  url: string,
  label: string,
): { object: "list"; data: unknown[]; has_more: boolean; url: string } {
  const limit = readLimit(params);
  const after = params.string("starting_after");
  const before = params.string("ending_before");
  const filtered = items.filter(createdFilter(params));
  const position = (id: string, param: string): number => {
    if (!ctx.state.find(ctx.account, id)) {
      throw resourceMissing(label, id, param);
    }
    return filtered.findIndex((stored) => stored.id === id);
  };
  let page: StoredObject[];
  let hasMore: boolean;
  if (after) {
    const rest = filtered.slice(position(after, "starting_after") + 1);
    page = rest.slice(0, limit);
    hasMore = rest.length > limit;
  } else if (before) {
    const index = position(before, "ending_before");
    const newer = index < 0 ? [] : filtered.slice(0, index);
    page = newer.slice(Math.max(0, newer.length - limit));
    hasMore = newer.length > limit;
  } else {
    page = filtered.slice(0, limit);
    hasMore = filtered.length > limit;
  }
  return { object: "list", data: page.map((stored) => stored.body), has_more: hasMore, url };
}

/** One page of a search endpoint; `page` is the offset, opaque to clients as Stripe's is. */
export function searchPage(
  items: StoredObject[],
  params: Params,
  url: string,
): {
  object: "search_result";
  data: unknown[];
  has_more: boolean;
  next_page: string | null;
  url: string;
} {
  const limit = readLimit(params);
  const token = params.string("page");
  let offset = 0;
  if (token) {
    const decoded = Number(Buffer.from(token, "base64url").toString("utf8").replace(/^o:/, ""));
    if (!Number.isSafeInteger(decoded) || decoded < 0) {
      throw badRequest(`Invalid page: ${token}`, "page");
    }
    offset = decoded;
  }
  const data = items.slice(offset, offset + limit);
  const hasMore = items.length > offset + limit;
  return {
    object: "search_result",
    data: data.map((stored) => stored.body),
    has_more: hasMore,
    next_page: hasMore ? Buffer.from(`o:${offset + limit}`).toString("base64url") : null,
    url,
  };
}
