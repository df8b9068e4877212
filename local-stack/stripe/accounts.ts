/**
 * Sandbox accounts: isolated tenants, each with its own objects, API keys, clock and webhook
 * endpoint. The default account is the one announced to the stack; tests that move the clock
 * or read every event create their own so parallel test files cannot disturb each other.
 */
import { badRequest } from "./failure.ts";
import { newId, randomToken } from "./ids.ts";
import type { Account, SandboxState } from "./state.ts";
import { assertLoopbackUrl } from "./webhooks.ts";

/** Failed pushes retry after 1 s, 2 s, 4 s... unless the account sets otherwise. */
export const DEFAULT_RETRY_BASE_MS = 1_000;
export const DEFAULT_MAX_ATTEMPTS = 8;

/** A new `sk_test_` secret key (48 random characters). */
export function newSecretKey(): string {
  return `sk_test_${randomToken(48)}`;
}

/** A new `whsec_` webhook signing secret. */
export function newWebhookSecret(): string {
  return `whsec_${randomToken(32)}`;
}

export interface AccountOptions {
  secretKey?: string;
  webhookSecret?: string;
  webhookUrl?: string | null;
  webhookMode?: "push" | "pull";
}

/** Creates an account with one secret key; push mode when it has a URL, pull otherwise. */
export function createAccount(
  state: SandboxState,
  options: AccountOptions = {},
): { account: Account; secretKey: string } {
  const secretKey = options.secretKey ?? newSecretKey();
  if (!secretKey.startsWith("sk_test_")) {
    throw badRequest("Secret keys must start with sk_test_.", "secretKey");
  }
  if (state.apiKeys.has(secretKey)) {
    throw badRequest("That secret key already belongs to an account.", "secretKey");
  }
  const webhookUrl = options.webhookUrl ? assertLoopbackUrl(options.webhookUrl) : null;
  const account: Account = {
    id: newId("acct"),
    webhookSecret: options.webhookSecret ?? newWebhookSecret(),
    webhookUrl,
    webhookMode: options.webhookMode ?? (webhookUrl ? "push" : "pull"),
    retryBaseMs: DEFAULT_RETRY_BASE_MS,
    maxAttempts: DEFAULT_MAX_ATTEMPTS,
    clockOffsetMs: 0,
    frozenAtMs: null,
  };
  state.accounts.set(account.id, account);
  state.apiKeys.set(secretKey, account.id);
  return { account, secretKey };
}

/** Adds another secret key to an account (idempotency keys are scoped per secret key). */
export function addSecretKey(state: SandboxState, account: Account): string {
  const secretKey = newSecretKey();
  state.apiKeys.set(secretKey, account.id);
  return secretKey;
}
