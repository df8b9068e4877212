/**
 * `--verify`: recomputes every invoice straight from the workload with separate, deliberately
 * simple code — plain BigInt arithmetic at 12 decimal places and a price-by-price switch, not
 * meterline's rating engine — and compares totals to the minor unit. It also checks that the
 * account meters, Postgres and ClickHouse agree, that the replay counted every event exactly once,
 * and that each invoice was charged at Stripe exactly once.
 */
import Stripe from "stripe";
import type { AccountDrift, Invoice } from "./cycle.ts";
import { DEMO_PLANS, type DemoAccount } from "./demo-catalogue.ts";
import type { ReplayResult } from "./replay.ts";
import type { DemoEvent, Workload } from "./workload.ts";

const SCALE = 10n ** 12n;

/** Decimal text → integer at 12 places (inputs here never have more). */
function fixed(text: string): bigint {
  const negative = text.startsWith("-");
  const [whole = "0", fraction = ""] = text.replace("-", "").split(".");
  const value = BigInt(whole) * SCALE + BigInt((fraction + "0".repeat(12)).slice(0, 12));
  return negative ? -value : value;
}

/** Rounds a 12-place amount to cents (2 places), half up; amounts here are never negative. */
function toCents(amount: bigint): bigint {
  const unit = 10n ** 10n;
  return (amount + unit / 2n) / unit;
}

type Price = Record<string, unknown> & { model: string };

/** The exact amount of each line a price gives for `quantity` (12 places). */
function priceLines(price: Price, quantity: bigint): bigint[] {
  const included = price.includedQuantity ? fixed(String(price.includedQuantity)) : 0n;
  const billable = quantity > included ? quantity - included : 0n;
  const lines: bigint[] = included > 0n && quantity > 0n ? [0n] : [];
  if (billable === 0n) {
    return lines;
  }
  const mul = (a: bigint, b: bigint) => (a * b) / SCALE;
  switch (price.model) {
    case "per_unit":
      return [...lines, mul(billable, fixed(String(price.unitPrice)))];
    case "package": {
      const size = fixed(String(price.packageSize));
      const packages = (billable + size - 1n) / size;
      return [...lines, packages * fixed(String(price.packagePrice))];
    }
    case "volume":
    case "graduated": {
      const tiers = price.tiers as { upTo: string | null; unitPrice: string; flatFee?: string }[];
      let lower = 0n;
      for (const tier of tiers) {
        const upTo = tier.upTo === null ? null : fixed(tier.upTo);
        const flat = tier.flatFee ? fixed(tier.flatFee) : 0n;
        const lands = upTo === null || billable <= upTo;
        if (price.model === "volume") {
          if (lands) {
            return [...lines, mul(billable, fixed(tier.unitPrice)) + flat];
          }
        } else {
          const top = lands ? billable : (upTo as bigint);
          lines.push(mul(top - lower, fixed(tier.unitPrice)) + flat);
          if (lands) {
            return lines;
          }
        }
        lower = upTo ?? lower;
      }
      return lines;
    }
    default:
      throw new Error(`the verifier does not know price model ${price.model}`);
  }
}

/** Quantities per meter from the raw events: sums, counts, and level × seconds per series. */
export function quantitiesOf(events: DemoEvent[], heartbeatSeconds: number): Map<string, bigint> {
  const totals = new Map<string, bigint>();
  const add = (meter: string, amount: bigint) =>
    totals.set(meter, (totals.get(meter) ?? 0n) + amount);
  const series = new Map<string, DemoEvent[]>();
  for (const event of events) {
    if (event.meter === "requests") {
      add("requests", SCALE);
    } else if (event.meter === "vcpu") {
      const key = event.properties.deployment ?? "";
      series.set(key, [...(series.get(key) ?? []), event]);
    } else {
      add(event.meter, fixed(event.value ?? "0"));
    }
  }
  for (const samples of series.values()) {
    samples.sort((a, b) => a.timeMs - b.timeMs);
    for (let i = 1; i < samples.length; i += 1) {
      const previous = samples[i - 1] as DemoEvent;
      const current = samples[i] as DemoEvent;
      const gapMs = current.timeMs - previous.timeMs;
      const level = fixed(previous.value ?? "0");
      if (level > 0n && gapMs > 0 && gapMs <= heartbeatSeconds * 1000) {
        add("vcpu", (level * BigInt(gapMs)) / 1000n);
      }
    }
  }
  return totals;
}

export interface ExpectedInvoice {
  subtotalMinor: bigint;
  taxMinor: bigint;
  totalMinor: bigint;
  creditsMinor: bigint;
  amountDueMinor: bigint;
}

/** The invoice the simple rules expect for one account's replayed day. */
export function expectedInvoice(
  account: DemoAccount,
  events: DemoEvent[],
  heartbeatSeconds: number,
  taxPercents: string[],
): ExpectedInvoice {
  const plan = DEMO_PLANS.find((p) => p.key === account.plan);
  if (!plan) {
    throw new Error(`unknown plan ${account.plan}`);
  }
  const quantities = quantitiesOf(events, heartbeatSeconds);
  const lines: bigint[] = [];
  if (fixed(plan.baseFee) > 0n) {
    lines.push(fixed(plan.baseFee));
  }
  const prices = plan.prices as Record<string, Price>;
  for (const meter of Object.keys(prices).sort()) {
    const price = prices[meter] as Price;
    const quantity = quantities.get(meter) ?? 0n;
    const usage = quantity > 0n ? priceLines(price, quantity) : [];
    lines.push(...usage);
    if (price.minimumCharge) {
      const rated = usage.reduce((a, b) => a + b, 0n);
      const minimum = fixed(String(price.minimumCharge));
      if (minimum > rated) {
        lines.push(minimum - rated);
      }
    }
  }
  const rounded = lines.map(toCents);
  const subtotal = rounded.reduce((a, b) => a + b, 0n);
  let tax = 0n;
  for (const percent of taxPercents) {
    // Σ exact line taxes (cents × percent / 100), rounded once, half up.
    const exactCents = rounded.reduce((sum, cents) => sum + cents * fixed(percent), 0n) / 100n;
    tax += (exactCents + SCALE / 2n) / SCALE;
  }
  const total = subtotal + tax;
  const prepaid = account.prepaid ? toCents(fixed(account.prepaid)) : 0n;
  const credits = prepaid < total ? prepaid : total;
  return {
    subtotalMinor: subtotal,
    taxMinor: tax,
    totalMinor: total,
    creditsMinor: credits,
    amountDueMinor: total - credits,
  };
}

export interface Mismatch {
  what: string;
  account?: string;
  expected: string;
  actual: string;
}

export async function verify(input: {
  workload: Workload;
  accounts: DemoAccount[];
  taxes: Record<string, string[]>;
  invoices: Map<string, Invoice>;
  drift: AccountDrift[];
  replay: ReplayResult;
  stripe: { url: string; secretKey: string };
}): Promise<{ mismatches: Mismatch[]; checks: number; chargesPerInvoice: Map<string, number> }> {
  const mismatches: Mismatch[] = [];
  let checks = 0;
  const check = (
    what: string,
    expected: string | bigint | number,
    actual: string | bigint | number,
    account?: string,
  ) => {
    checks += 1;
    if (String(expected) !== String(actual)) {
      mismatches.push({
        what,
        ...(account ? { account } : {}),
        expected: String(expected),
        actual: String(actual),
      });
    }
  };

  const unique = new Set(input.workload.events.map((e) => `${e.account}\u0000${e.id}`)).size;
  check("events accepted exactly once", unique, input.replay.accepted);
  check("events rejected", 0, input.replay.rejected);
  check(
    "duplicates reported for resent events",
    input.replay.chaos.resent,
    input.replay.duplicates,
  );
  check("batches the client gave up on", 0, input.replay.failedBatches);

  for (const account of input.accounts) {
    const events = input.workload.events.filter((e) => e.account === account.id);
    const expected = expectedInvoice(
      account,
      events,
      input.workload.heartbeatSeconds,
      input.taxes[account.id] ?? [],
    );
    const invoice = input.invoices.get(account.id);
    if (!invoice) {
      mismatches.push({
        what: "invoice exists",
        account: account.id,
        expected: "an invoice",
        actual: "none",
      });
      continue;
    }
    check(
      "invoice subtotal (minor units)",
      expected.subtotalMinor,
      invoice.subtotalMinor,
      account.id,
    );
    check("invoice tax (minor units)", expected.taxMinor, invoice.taxMinor, account.id);
    check("invoice total (minor units)", expected.totalMinor, invoice.totalMinor, account.id);
    check(
      "credit applied (minor units)",
      expected.creditsMinor,
      invoice.creditsAppliedMinor,
      account.id,
    );
    check("amount due (minor units)", expected.amountDueMinor, invoice.amountDueMinor, account.id);
    const charged =
      account.collectionMethod === "charge_automatically" && expected.amountDueMinor > 0n;
    check(
      "invoice status",
      charged ? "paid" : expected.amountDueMinor > 0n ? "open" : "paid",
      invoice.status,
      account.id,
    );
  }

  for (const report of input.drift) {
    const problems = report.rows.filter((r) => !r.postgresMatches || !r.clickhouseMatches);
    const actual = report.clean
      ? "clean"
      : JSON.stringify({ lag: report.lag, errors: report.errors, mismatched: problems });
    check("meter, Postgres and ClickHouse agree", "clean", actual, report.account);
  }

  // Exactly one successful charge per invoice, asked of Stripe itself.
  const base = new URL(input.stripe.url);
  const stripe = new Stripe(input.stripe.secretKey, {
    host: base.hostname,
    port: Number(base.port),
    protocol: "http",
    httpClient: Stripe.createFetchHttpClient(),
  });
  const chargesPerInvoice = new Map<string, number>();
  for (const [accountId, invoice] of input.invoices) {
    const found = await stripe.paymentIntents.search({
      query: `metadata['invoice_id']:'${invoice.id}'`,
      limit: 100,
    });
    const succeeded = found.data.filter((pi) => pi.status === "succeeded").length;
    chargesPerInvoice.set(invoice.id, succeeded);
    const account = input.accounts.find((a) => a.id === accountId);
    const shouldCharge =
      account?.collectionMethod === "charge_automatically" && BigInt(invoice.amountDueMinor) > 0n;
    check("successful Stripe charges for the invoice", shouldCharge ? 1 : 0, succeeded, accountId);
    if (shouldCharge) {
      const amount = found.data.find((pi) => pi.status === "succeeded")?.amount ?? -1;
      check("charged amount (minor units)", invoice.amountDueMinor, amount, accountId);
    }
  }
  return { mismatches, checks, chargesPerInvoice };
}
