import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { accountOfKey, hashApiKey, timingSafeEqualText } from "../../lib/auth/api-keys.ts";
import { AppError } from "../../lib/errors/index.ts";
import type { AppEnv, Principal } from "../context.ts";
import { meterFor } from "../meters.ts";

function unauthenticated(detail: string): AppError {
  return new AppError("UNAUTHENTICATED", "Missing or invalid API key", { detail });
}

/**
 * Reads `Authorization: Bearer <key>`: the admin key (a secret) or an account key. With
 * `meterVerifies`, an account key is checked by the account meter the route calls anyway;
 * otherwise it is checked here, with one call to the account's meter.
 */
export function authenticate(options: { meterVerifies?: boolean; adminOnly?: boolean } = {}) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match?.[1]) {
      throw unauthenticated("Send your API key as `Authorization: Bearer <key>`.");
    }
    const key = match[1];
    let principal: Principal;
    if (timingSafeEqualText(key, c.get("config").adminApiKey)) {
      principal = { kind: "admin" };
    } else {
      const accountId = accountOfKey(key);
      if (accountId === null) {
        throw unauthenticated("The API key is not valid. Check it, or create a new one.");
      }
      if (options.adminOnly) {
        throw new AppError("FORBIDDEN", "This endpoint needs the admin key", {
          detail: "Account keys may only send events and read their own account.",
        });
      }
      const keyHash = await hashApiKey(key);
      principal = { kind: "account", accountId, keyHash, verified: false };
      if (!options.meterVerifies) {
        const valid = await meterFor(c.env, accountId).authenticate(accountId, keyHash);
        if (!valid) {
          throw unauthenticated("The API key is not valid or was revoked.");
        }
        principal.verified = true;
      }
    }
    c.set("principal", principal);
    await next();
  });
}

/**
 * Resolves the account a request may act on: the admin key may name any account; an account key
 * only its own. Another account's id answers 404 so existence is never revealed.
 */
export function accountScope(c: Context<AppEnv>, accountId: string): string {
  const principal = c.get("principal");
  if (principal.kind === "account" && principal.accountId !== accountId) {
    throw new AppError("NOT_FOUND", "No such account", {
      detail: "The account does not exist or this key cannot see it.",
    });
  }
  return accountId;
}

/** The key hash the meter must verify, or null when nothing is left to verify. */
export function pendingKeyHash(c: Context<AppEnv>): string | null {
  const principal = c.get("principal");
  return principal.kind === "account" && !principal.verified ? principal.keyHash : null;
}
