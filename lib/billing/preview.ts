import type { Database } from "../adapters/postgres.ts";
import { loadAccountConfigSnapshot } from "../catalogue/account-config.ts";
import { AppError } from "../errors/index.ts";
import type { PeriodTotals } from "../metering/periods.ts";
import type { Period } from "../periods/period.ts";
import { calendarOf, loadBillingAccount } from "./account.ts";
import { planConsumption, usableGrants } from "./credits.ts";
import { buildInvoiceLines, type DraftLine, type RatingDrift } from "./lines.ts";
import { computeTaxes, type RateTax } from "./tax.ts";

/** The invoice the current period would produce if it closed now. Money in minor units. */
export interface UpcomingInvoice {
  accountId: string;
  currency: string;
  period: Period;
  asOfMs: number;
  lines: (DraftLine & { taxMinor: bigint })[];
  taxes: RateTax[];
  subtotalMinor: bigint;
  taxMinor: bigint;
  totalMinor: bigint;
  /** Credit the invoice would draw from the account's grants, in consumption order. */
  creditsAppliedMinor: bigint;
  amountDueMinor: bigint;
  drifts: RatingDrift[];
}

/**
 * A real-time preview of the account's upcoming invoice: the current period's totals straight
 * from the account meter (exact at the moment of the call, not waiting for the pipeline), priced
 * by the same line builder, taxes and credit order the invoice run uses. Nothing is written or
 * consumed. NOT_FOUND for an unknown account.
 */
export async function previewUpcomingInvoice(deps: {
  db: Database;
  meter: { periodTotals(accountId: string, periodStartMs: number): Promise<PeriodTotals> };
  accountId: string;
  nowMs: number;
}): Promise<UpcomingInvoice> {
  const [account, config] = await Promise.all([
    loadBillingAccount(deps.db, deps.accountId),
    loadAccountConfigSnapshot(deps.db, deps.accountId),
  ]);
  if (!account || !config) {
    throw new AppError("NOT_FOUND", "No such account", {
      detail: "The account does not exist or this key cannot see it.",
    });
  }
  const period = calendarOf(account).containing(deps.nowMs);
  const totals = await deps.meter.periodTotals(account.id, period.startMs);
  const built = buildInvoiceLines({
    period,
    currency: account.currency,
    windows: config.pricing,
    meters: config.meters,
    usage: totals.totals,
  });
  const tax = computeTaxes(
    built.lines.map((line) => line.amountMinor),
    account.taxRates,
  );
  const subtotal = built.lines.reduce((sum, line) => sum + line.amountMinor, 0n);
  const total = subtotal + tax.totalMinor;
  const grants = await usableGrants(deps.db, {
    accountId: account.id,
    currency: account.currency,
    periodStartMs: period.startMs,
    periodEndMs: period.endMs,
  });
  const credits = total > 0n ? planConsumption(grants, total) : [];
  const creditsApplied = credits.reduce((sum, part) => sum + part.amountMinor, 0n);
  return {
    accountId: account.id,
    currency: account.currency,
    period,
    asOfMs: deps.nowMs,
    lines: built.lines.map((line, index) => ({ ...line, taxMinor: tax.lineTaxMinor[index] ?? 0n })),
    taxes: tax.rates,
    subtotalMinor: subtotal,
    taxMinor: tax.totalMinor,
    totalMinor: total,
    creditsAppliedMinor: creditsApplied,
    amountDueMinor: total - creditsApplied > 0n ? total - creditsApplied : 0n,
    drifts: built.drifts,
  };
}
