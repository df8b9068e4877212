import type { PricingWindow } from "../catalogue/account-config.ts";
import type { MeterDefinition } from "../catalogue/meter.ts";
import { prorateBaseFees } from "../catalogue/proration.ts";
import { Decimal } from "../money/decimal.ts";
import { roundInvoiceLine } from "../money/invoice-rounding.ts";
import type { Period } from "../periods/period.ts";
import { overlapMs } from "../periods/period.ts";
import { commitmentTopUp } from "../pricing/commitment.ts";
import { explainTotal } from "../pricing/explain.ts";
import { prorate } from "../pricing/prorate.ts";
import { rateTotal } from "../pricing/rate.ts";
import type { Price } from "../pricing/types.ts";
import { compilePrice } from "../pricing/validate.ts";

/** A period's usage of one meter under one pricing segment (plan version id or "unpriced"). */
export interface SegmentUsage {
  meter: string;
  segment: string;
  /** Decimal text. */
  quantity: string;
  /** Rated amount, full precision (decimal text). */
  amount: string;
  events: number;
}

export type LineKind = "usage" | "base_fee" | "commitment" | "proration";

/** An invoice line before it is stored: every figure needed to trace it back to its price. */
export interface DraftLine {
  kind: LineKind;
  description: string;
  meter: string | null;
  planId: string | null;
  planVersionId: string | null;
  /** 1-based tier number for tier lines, null otherwise. */
  tier: number | null;
  /** Units the line prices (packages for package prices), null for fees. */
  quantity: Decimal | null;
  unitPrice: Decimal | null;
  flatFee: Decimal | null;
  /** Full precision, and the same rounded once to minor units (HALF_UP). */
  amount: Decimal;
  amountMinor: bigint;
  /** The part of the period the line covers. */
  fromMs: number;
  toMs: number;
}

/** A usage amount the ledger rated differently from the authoritative plan version. */
export interface RatingDrift {
  meter: string;
  segment: string;
  quantity: string;
  ledgerAmount: string;
  reratedAmount: string;
}

export interface LineInput {
  period: Period;
  currency: string;
  /** The account's pricing windows (AccountConfig.pricing), from the catalogue. */
  windows: readonly PricingWindow[];
  meters: readonly MeterDefinition[];
  usage: readonly SegmentUsage[];
}

export interface BuiltLines {
  lines: DraftLine[];
  drifts: RatingDrift[];
  /** Usage no plan version prices (before the first plan, or a meter the plan leaves out). */
  unpriced: SegmentUsage[];
}

interface PricedUsage {
  window: PricingWindow;
  meter: MeterDefinition | undefined;
  meterKey: string;
  price: Price;
  usage: SegmentUsage | null;
}

function line(
  fields: Omit<DraftLine, "amountMinor" | "amount"> & { amount: Decimal },
  currency: string,
): DraftLine {
  return { ...fields, amountMinor: roundInvoiceLine(fields.amount, currency).amountMinor };
}

function compiledPrices(window: PricingWindow): Map<string, Price> {
  const prices = new Map<string, Price>();
  for (const [key, spec] of Object.entries(window.prices)) {
    prices.set(key, compilePrice(spec));
  }
  return prices;
}

/** Usage lines of one meter in one window; returns the amount they rate (for the commitment). */
function usageLines(
  item: PricedUsage & { usage: SegmentUsage },
  span: { fromMs: number; toMs: number },
  currency: string,
  lines: DraftLine[],
  drifts: RatingDrift[],
): Decimal {
  const { window, price, usage } = item;
  const name = item.meter?.name ?? item.meterKey;
  const quantity = Decimal.from(usage.quantity);
  const ledgerAmount = Decimal.from(usage.amount);
  const common = {
    kind: "usage" as const,
    meter: item.meterKey,
    planId: window.planId,
    planVersionId: window.planVersionId,
    ...span,
  };
  if (price.model === "percentage") {
    // Take rates are rated per event; the period's amount is the sum of the events' fees, which
    // only the ledger holds, so the line carries it as rated.
    lines.push(
      line(
        {
          ...common,
          description: `${name} · ${price.ratePercent.toString()} % of ${quantity.toString()}`,
          tier: null,
          quantity,
          unitPrice: null,
          flatFee: null,
          amount: ledgerAmount,
        },
        currency,
      ),
    );
    return ledgerAmount;
  }
  const rerated = rateTotal(price, quantity);
  if (!rerated.eq(ledgerAmount)) {
    drifts.push({
      meter: item.meterKey,
      segment: usage.segment,
      quantity: quantity.toString(),
      ledgerAmount: ledgerAmount.toString(),
      reratedAmount: rerated.toString(),
    });
  }
  for (const rating of explainTotal(price, quantity)) {
    const label =
      rating.kind === "included"
        ? `${name} · included`
        : rating.kind === "tier"
          ? `${name} · tier ${(rating.tierIndex ?? 0) + 1}`
          : rating.kind === "package"
            ? `${name} · ${rating.quantity.toString()} in packages`
            : name;
    lines.push(
      line(
        {
          ...common,
          description: label,
          tier: rating.tierIndex === null ? null : rating.tierIndex + 1,
          quantity: rating.packages ?? rating.quantity,
          unitPrice: rating.unitPrice,
          flatFee: rating.flatFee.isZero() ? null : rating.flatFee,
          amount: rating.amount,
        },
        currency,
      ),
    );
  }
  return rerated;
}

/**
 * Builds an invoice's lines for one period, in this order: base fees (one per plan version in
 * effect, prorated by exact seconds when it covered part of the period), then per meter (by key)
 * and plan version (by time) its usage lines, followed by that meter's commitment top-up.
 *
 * Usage lines come from `usage` (the ledger's totals): tier lines by `explainTotal`, take-rate
 * meters as one line of their rated amount. Each quantity-priced usage total is re-rated with the
 * authoritative plan version; when that differs from the ledger's amount (a meter rated with a
 * stale configuration) the re-rated amount is billed and the difference reported in `drifts`.
 * A meter's minimum charge is prorated like the base fee and topped up against what the lines
 * rate. Every line is rounded once (roundInvoiceLine, HALF_UP). Pure; throws VALIDATION_FAILED if
 * a stored price no longer compiles (a catalogue bug).
 */
export function buildInvoiceLines(input: LineInput): BuiltLines {
  const { period, currency } = input;
  const lines: DraftLine[] = [];
  const drifts: RatingDrift[] = [];
  const unpriced: SegmentUsage[] = [];
  const meters = new Map(input.meters.map((meter) => [meter.key, meter]));
  const periodMs = period.endMs - period.startMs;
  const inPeriod = input.windows.filter(
    (w) => overlapMs(period, w.fromMs, w.toMs ?? Number.POSITIVE_INFINITY) > 0,
  );

  const proration = prorateBaseFees(period, inPeriod);
  for (const fee of proration.lines) {
    if (Decimal.from(fee.baseFee).isZero()) {
      continue;
    }
    const whole = fee.toMs - fee.fromMs === periodMs;
    lines.push(
      line(
        {
          kind: whole ? "base_fee" : "proration",
          description: whole
            ? `Base fee · ${fee.planId} v${fee.version}`
            : `Base fee · ${fee.planId} v${fee.version}, ${fee.seconds} of ${proration.periodSeconds} s`,
          meter: null,
          planId: fee.planId,
          planVersionId: fee.planVersionId,
          tier: null,
          quantity: null,
          unitPrice: null,
          flatFee: null,
          amount: fee.amount,
          fromMs: fee.fromMs,
          toMs: fee.toMs,
        },
        currency,
      ),
    );
  }

  // Every (meter, window) that has usage or a commitment, grouped by meter.
  const byWindow = new Map(inPeriod.map((w) => [w.planVersionId, w]));
  const priced = new Map<string, PricedUsage[]>();
  const add = (item: PricedUsage) => {
    const list = priced.get(item.meterKey) ?? [];
    list.push(item);
    priced.set(item.meterKey, list);
  };
  const prices = new Map(inPeriod.map((w) => [w.planVersionId, compiledPrices(w)]));
  const used = new Set<string>();
  for (const usage of input.usage) {
    const window = byWindow.get(usage.segment);
    const price = prices.get(usage.segment)?.get(usage.meter);
    if (!window || !price) {
      unpriced.push(usage);
      continue;
    }
    used.add(`${usage.meter}\u0000${usage.segment}`);
    add({ window, meter: meters.get(usage.meter), meterKey: usage.meter, price, usage });
  }
  for (const window of inPeriod) {
    for (const [meterKey, price] of prices.get(window.planVersionId) ?? []) {
      if (price.minimumCharge !== null && !used.has(`${meterKey}\u0000${window.planVersionId}`)) {
        add({ window, meter: meters.get(meterKey), meterKey, price, usage: null });
      }
    }
  }

  for (const meterKey of [...priced.keys()].sort()) {
    const items = (priced.get(meterKey) ?? []).sort((a, b) => a.window.fromMs - b.window.fromMs);
    for (const item of items) {
      const fromMs = Math.max(period.startMs, item.window.fromMs);
      const toMs = Math.min(period.endMs, item.window.toMs ?? Number.POSITIVE_INFINITY);
      const rated = item.usage
        ? usageLines({ ...item, usage: item.usage }, { fromMs, toMs }, currency, lines, drifts)
        : Decimal.ZERO;
      const minimum = item.price.minimumCharge;
      if (minimum === null) {
        continue;
      }
      const owed = prorate(minimum, toMs - fromMs, periodMs);
      const topUp = commitmentTopUp(rated, owed);
      if (topUp.isZero()) {
        continue;
      }
      const name = item.meter?.name ?? meterKey;
      lines.push(
        line(
          {
            kind: "commitment",
            description: `${name} · minimum commitment ${owed.toString()}, top-up`,
            meter: meterKey,
            planId: item.window.planId,
            planVersionId: item.window.planVersionId,
            tier: null,
            quantity: null,
            unitPrice: null,
            flatFee: null,
            amount: topUp,
            fromMs,
            toMs,
          },
          currency,
        ),
      );
    }
  }
  return { lines, drifts, unpriced };
}
