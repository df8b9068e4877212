import { Decimal } from "../money/decimal.ts";
import { overlapMs, type Period } from "../periods/period.ts";
import { prorate } from "../pricing/prorate.ts";
import type { PricingWindow } from "./account-config.ts";

/** The share of one plan version's base fee that a billing period owes. */
export interface BaseFeeLine {
  planId: string;
  planVersionId: string;
  version: number;
  /** The part of the period this version was in effect: `[fromMs, toMs)`. */
  fromMs: number;
  toMs: number;
  /** Elapsed seconds of that part: real time, so a 23-hour DST day counts 82,800. */
  seconds: number;
  /** The version's fee for a whole period (decimal text). */
  baseFee: string;
  /** baseFee × seconds / periodSeconds, truncated past 18 fractional digits (see prorate). */
  amount: Decimal;
}

/** A period's base fee, line by line. */
export interface BaseFeeProration {
  period: Period;
  /** Exact length of the period in seconds (2,674,800 for March 2024 in New York). */
  periodSeconds: number;
  /** One line per version in effect during the period, in time order. */
  lines: BaseFeeLine[];
  /** Sum of the lines, unrounded: round once, on the invoice line. */
  total: Decimal;
}

/**
 * The base fee a billing period owes when several plan versions (or plans, after a switch) were
 * in effect during it. Rule: each version's base fee × (seconds it was in effect within the
 * period ÷ seconds in the period), seconds being real elapsed time between instants, so DST
 * changes inside the period (a 23- or 25-hour day) shorten or lengthen both the period and the
 * part, and nothing else does. Time no version covers (before the first plan) owes nothing.
 *
 * `windows` are an account's pricing windows (AccountConfig.pricing). Amounts are exact until the
 * one division per line, which keeps 18 fractional digits and truncates; round the total once,
 * at the invoice line. Throws RangeError for an empty period.
 */
export function prorateBaseFees(
  period: Period,
  windows: readonly PricingWindow[],
): BaseFeeProration {
  const periodMs = period.endMs - period.startMs;
  if (!(periodMs > 0)) {
    throw new RangeError(`empty period [${period.startMs}, ${period.endMs})`);
  }
  const lines: BaseFeeLine[] = [];
  let total = Decimal.ZERO;
  const ordered = [...windows].sort((a, b) => a.fromMs - b.fromMs);
  for (const window of ordered) {
    const toMs = window.toMs ?? Number.POSITIVE_INFINITY;
    const usedMs = overlapMs(period, window.fromMs, toMs);
    if (usedMs === 0) {
      continue;
    }
    // The ratio is the same in any unit: milliseconds keep a boundary that is not a whole
    // second exact, and equal seconds ÷ seconds whenever both are whole.
    const amount = prorate(Decimal.from(window.baseFee), usedMs, periodMs);
    const fromMs = Math.max(period.startMs, window.fromMs);
    lines.push({
      planId: window.planId,
      planVersionId: window.planVersionId,
      version: window.version,
      fromMs,
      toMs: fromMs + usedMs,
      seconds: usedMs / 1000,
      baseFee: window.baseFee,
      amount,
    });
    total = total.add(amount);
  }
  return { period, periodSeconds: periodMs / 1000, lines, total };
}
