/**
 * The demo's catalogue: meters for LLM tokens, requests and per-second compute; three plans with
 * graduated, package, volume and per-unit prices; six accounts on different plans, time zones and
 * collection methods — one with a hard spend cap, one with prepaid credits. Daily billing, so the
 * replayed day is a closed period by the end of the run.
 */

export const DEMO_METERS = [
  {
    key: "input_tokens",
    name: "Input tokens",
    aggregation: "sum",
    unit: "token",
    groupBy: ["source"],
  },
  {
    key: "output_tokens",
    name: "Output tokens",
    aggregation: "sum",
    unit: "token",
    groupBy: ["source"],
  },
  { key: "requests", name: "Requests", aggregation: "count", unit: "request" },
  {
    key: "vcpu",
    name: "vCPU time",
    aggregation: "time_weighted",
    unit: "vCPU-second",
    seriesProperty: "deployment",
    heartbeatTimeoutSeconds: 120,
    groupBy: ["deployment"],
  },
] as const;

const SCALE_PRICES = {
  input_tokens: {
    model: "graduated",
    tiers: [
      { upTo: "1000000", unitPrice: "0.0000025" },
      { upTo: "10000000", unitPrice: "0.000002" },
      { upTo: null, unitPrice: "0.0000015" },
    ],
  },
  output_tokens: {
    model: "graduated",
    tiers: [
      { upTo: "100000", unitPrice: "0.00001" },
      { upTo: null, unitPrice: "0.000008" },
    ],
  },
  requests: { model: "per_unit", unitPrice: "0.0001" },
  vcpu: { model: "per_unit", unitPrice: "0.000463" },
};

export const DEMO_PLANS = [
  { key: "scale", name: "Scale", currency: "USD", baseFee: "2.00", prices: SCALE_PRICES },
  {
    key: "starter",
    name: "Starter",
    currency: "USD",
    baseFee: "0",
    prices: {
      input_tokens: { model: "per_unit", unitPrice: "0.000003", includedQuantity: "100000" },
      output_tokens: { model: "package", packageSize: "1000", packagePrice: "0.012" },
      requests: {
        model: "volume",
        tiers: [
          { upTo: "1000", unitPrice: "0.0002" },
          { upTo: null, unitPrice: "0.00015", flatFee: "0.10" },
        ],
        minimumCharge: "1.00",
      },
      vcpu: { model: "per_unit", unitPrice: "0.0005", includedQuantity: "3600" },
    },
  },
  {
    key: "scale-eur",
    name: "Scale (EUR)",
    currency: "EUR",
    baseFee: "1.80",
    prices: {
      ...SCALE_PRICES,
      requests: { model: "per_unit", unitPrice: "0.00009" },
      vcpu: { model: "per_unit", unitPrice: "0.00042" },
    },
  },
] as const;

export interface DemoAccount {
  id: string;
  name: string;
  plan: "scale" | "starter" | "scale-eur";
  currency: "USD" | "EUR";
  timeZone: string;
  collectionMethod: "charge_automatically" | "send_invoice";
  netTermsDays?: number;
  poNumber?: string;
  spend?: { budget: string; alertPercents: number[]; hardCap: boolean };
  /** Prepaid credit granted at setup, in the account currency. */
  prepaid?: string;
  /** Charged accounts get a Stripe customer with this test card as default. */
  card?: string;
}

export const DEMO_ACCOUNTS: DemoAccount[] = [
  {
    id: "acme-ai",
    name: "Acme AI",
    plan: "scale",
    currency: "USD",
    timeZone: "UTC",
    collectionMethod: "charge_automatically",
    card: "pm_card_visa",
  },
  {
    id: "byte-labs",
    name: "Byte Labs",
    plan: "scale",
    currency: "USD",
    timeZone: "America/New_York",
    collectionMethod: "charge_automatically",
    spend: { budget: "20", alertPercents: [50, 80, 100], hardCap: true },
    card: "pm_card_mastercard",
  },
  {
    id: "cortex-eu",
    name: "Cortex GmbH",
    plan: "scale-eur",
    currency: "EUR",
    timeZone: "Europe/Berlin",
    collectionMethod: "send_invoice",
    netTermsDays: 30,
    poNumber: "PO-4471",
  },
  {
    id: "delta-ml",
    name: "Delta ML",
    plan: "starter",
    currency: "USD",
    timeZone: "Asia/Kolkata",
    collectionMethod: "charge_automatically",
    prepaid: "25.00",
    card: "pm_card_visa",
  },
  {
    id: "echo-dev",
    name: "Echo Dev",
    plan: "starter",
    currency: "USD",
    timeZone: "America/Los_Angeles",
    collectionMethod: "charge_automatically",
    card: "pm_card_visa",
  },
  {
    id: "fjord-labs",
    name: "Fjord Labs",
    plan: "scale",
    currency: "USD",
    timeZone: "Asia/Tokyo",
    collectionMethod: "charge_automatically",
    card: "pm_card_visa",
  },
];
