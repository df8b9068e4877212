import Stripe from "stripe";

/** Stripe through the official SDK; `apiBase` points it at the local sandbox in dev and tests. */
export interface StripeSettings {
  secretKey: string;
  apiBase?: string | undefined;
}

/** API version meterline is written against; pinned so Stripe upgrades are deliberate. */
export const STRIPE_API_VERSION = "2026-11-18.endive";

/** Builds a Stripe client using fetch (no Node http) so it runs in Workers unchanged. */
export function openStripe(settings: StripeSettings, options: { timeoutMs?: number } = {}): Stripe {
  const config: Stripe.StripeConfig = {
    apiVersion: STRIPE_API_VERSION as Stripe.StripeConfig["apiVersion"],
    httpClient: Stripe.createFetchHttpClient(),
    // meterline retries money movements itself, with its own idempotency keys.
    maxNetworkRetries: 0,
    timeout: options.timeoutMs ?? 20_000,
  };
  if (settings.apiBase) {
    const base = new URL(settings.apiBase);
    config.host = base.hostname;
    config.port = Number(base.port || (base.protocol === "https:" ? 443 : 80));
    config.protocol = base.protocol === "https:" ? "https" : "http";
  }
  return new Stripe(settings.secretKey, config);
}

/** Web Crypto provider for webhook signatures (Node's crypto is not in Workers). */
export const stripeCrypto = Stripe.createSubtleCryptoProvider();

export type { Stripe };
