/**
 * Creates the demo's catalogue through the admin API, as an operator would: meters, plans (their
 * first version starting before any replayed day), accounts on those plans from the start of
 * their replayed day (an onboarding of existing customers, so their billing starts with that
 * day), Stripe customers with a default test card for the accounts charged automatically, tax
 * rates, and prepaid credit.
 */
import Stripe from "stripe";
import type { AdminApi } from "./api.ts";
import { DEMO_METERS, DEMO_PLANS, type DemoAccount } from "./demo-catalogue.ts";

export interface SetupResult {
  plans: Record<string, string>;
  stripeCustomers: Record<string, string>;
}

const TAX: Record<string, { name: string; percent: string }[]> = {
  "cortex-eu": [{ name: "USt", percent: "19" }],
  "acme-ai": [{ name: "Sales tax", percent: "8.875" }],
};

export async function createCatalogue(
  api: AdminApi,
  accounts: DemoAccount[],
  stripe: { url: string; secretKey: string },
  options: { plansFromMs: number; accountStartMs: Record<string, number>; notificationUrl: string },
): Promise<SetupResult> {
  const wholeSecond = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString();
  const since = wholeSecond(options.plansFromMs);
  for (const meter of DEMO_METERS) {
    await api.call("POST", "/v1/meters", meter, { "idempotency-key": `demo-meter-${meter.key}` });
  }
  const plans: Record<string, string> = {};
  for (const plan of DEMO_PLANS) {
    const created = await api.call<{ id: string }>(
      "POST",
      "/v1/plans",
      {
        key: plan.key,
        name: plan.name,
        versions: [
          {
            currency: plan.currency,
            baseFee: plan.baseFee,
            prices: plan.prices,
            effectiveFrom: since,
          },
        ],
      },
      { "idempotency-key": `demo-plan-${plan.key}` },
    );
    plans[plan.key] = created.id;
  }
  const base = new URL(stripe.url);
  const client = new Stripe(stripe.secretKey, {
    host: base.hostname,
    port: Number(base.port),
    protocol: "http",
    httpClient: Stripe.createFetchHttpClient(),
    maxNetworkRetries: 2,
  });
  const stripeCustomers: Record<string, string> = {};
  for (const account of accounts) {
    let stripeCustomerId: string | null = null;
    if (account.collectionMethod === "charge_automatically" && account.card) {
      const customer = await client.customers.create(
        { name: account.name, metadata: { meterline_account: account.id } },
        { idempotencyKey: `demo-customer-${account.id}` },
      );
      const method = await client.paymentMethods.attach(account.card, { customer: customer.id });
      await client.customers.update(customer.id, {
        invoice_settings: { default_payment_method: method.id },
      });
      stripeCustomerId = customer.id;
      stripeCustomers[account.id] = customer.id;
    }
    await api.call(
      "POST",
      "/v1/accounts",
      {
        id: account.id,
        name: account.name,
        email: `billing@${account.id}.example`,
        currency: account.currency,
        timeZone: account.timeZone,
        billingInterval: { unit: "day", count: 1, anchorDate: "2026-01-01" },
        planId: plans[account.plan],
        planEffectiveFrom: wholeSecond(options.accountStartMs[account.id] ?? options.plansFromMs),
        collectionMethod: account.collectionMethod,
        ...(account.netTermsDays !== undefined ? { netTermsDays: account.netTermsDays } : {}),
        ...(account.poNumber !== undefined ? { poNumber: account.poNumber } : {}),
        stripeCustomerId,
        notificationUrl: `${options.notificationUrl}/accounts/${account.id}`,
        ...(account.spend ? { spend: account.spend } : {}),
      },
      { "idempotency-key": `demo-account-${account.id}` },
    );
    const tax = TAX[account.id];
    if (tax) {
      await api.call("PUT", `/v1/accounts/${account.id}/tax-rates`, { taxRates: tax });
    }
    if (account.prepaid) {
      await api.call(
        "POST",
        `/v1/accounts/${account.id}/credit-grants`,
        {
          amount: account.prepaid,
          currency: account.currency,
          kind: "purchased",
          effectiveAt: wholeSecond(options.accountStartMs[account.id] ?? options.plansFromMs),
          description: "Prepaid balance",
        },
        { "idempotency-key": `demo-credit-${account.id}` },
      );
    }
  }
  return { plans, stripeCustomers };
}
