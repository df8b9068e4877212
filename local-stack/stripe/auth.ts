/**
 * API keys on requests: `Authorization: Bearer <key>` (what the SDK sends) or Basic auth with
 * the key as user name (what curl -u sends), mapped to the sandbox account that owns the key.
 */
import { authenticationError } from "./failure.ts";
import type { Account, SandboxState } from "./state.ts";

/** The key from `Authorization: Bearer <key>` or Basic auth with the key as user name. */
export function apiKeyOf(header: string | undefined): string | null {
  if (!header) {
    return null;
  }
  const [scheme, value] = header.split(" ", 2);
  if (scheme?.toLowerCase() === "bearer" && value) {
    return value.trim();
  }
  if (scheme?.toLowerCase() === "basic" && value) {
    return Buffer.from(value, "base64").toString("utf8").split(":")[0] ?? null;
  }
  return null;
}

function mask(key: string): string {
  return key.length <= 12 ? "****" : `${key.slice(0, 8)}${"*".repeat(8)}${key.slice(-4)}`;
}

/** The account of the request's key; 401 (as Stripe words it) when missing or unknown. */
export function authenticate(state: SandboxState, header: string | undefined): Account {
  const apiKey = apiKeyOf(header);
  if (apiKey === null) {
    throw authenticationError(
      "You did not provide an API key. You need to provide your API key in the Authorization " +
        "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
    );
  }
  const account = state.accountForKey(apiKey);
  if (!account) {
    throw authenticationError(`Invalid API Key provided: ${mask(apiKey)}`);
  }
  return account;
}
