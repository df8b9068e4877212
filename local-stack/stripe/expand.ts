/**
 * `expand[]`: replaces an id in the response with the object it names, along a dotted path
 * (`latest_charge`, `invoice_settings.default_payment_method`, `data.customer` in lists,
 * `latest_charge.payment_intent` through an expanded object).
 */
import type { Ctx } from "./context.ts";
import { badRequest } from "./failure.ts";
import { clone } from "./state.ts";

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The object an id names, as an expansion shows it (a deleted customer as its stub). */
function resolve(ctx: Ctx, id: string): Record<string, unknown> | undefined {
  const stored = ctx.state.find(ctx.account, id);
  if (!stored) {
    return undefined;
  }
  if (stored.hidden.deleted) {
    return { id: stored.id, object: stored.body.object, deleted: true };
  }
  return clone(stored.body);
}

function walk(ctx: Ctx, node: Record<string, unknown>, path: string[], full: string): void {
  const [head, ...rest] = path as [string, ...string[]];
  let value = node[head];
  if (value === undefined) {
    throw badRequest(`This property cannot be expanded (${full}).`, "expand");
  }
  if (Array.isArray(value) && head === "data" && rest.length > 0) {
    for (const item of value) {
      if (isRecord(item)) {
        walk(ctx, item, rest, full);
      }
    }
    return;
  }
  if (typeof value === "string") {
    const expanded = resolve(ctx, value);
    if (expanded) {
      node[head] = expanded;
      value = expanded;
    }
  }
  if (rest.length > 0 && isRecord(value)) {
    walk(ctx, value, rest, full);
  }
}

/** Checks the shape of `expand[]` paths before an endpoint runs (at most 4 levels, as Stripe). */
export function checkExpandPaths(paths: string[]): string[] {
  for (const path of paths) {
    const parts = path.split(".");
    if (parts.length > 4 || parts.some((part) => part === "")) {
      throw badRequest(`This property cannot be expanded (${path}).`, "expand");
    }
  }
  return paths;
}

/** A copy of `body` with every `paths` expansion applied (paths checked beforehand). */
export function expandBody(ctx: Ctx, body: unknown, paths: string[]): unknown {
  if (paths.length === 0 || !isRecord(body)) {
    return body;
  }
  const copy = clone(body);
  for (const path of paths) {
    walk(ctx, copy, path.split("."), path);
  }
  return copy;
}
