import type { AccountConfig } from "../catalogue/account-config.ts";
import { getCurrency } from "../money/currency.ts";
import { Decimal } from "../money/decimal.ts";
import { type CreditBalance, readCredits } from "./credits.ts";
import type { MeterCache } from "./meter-cache.ts";
import type { Sql } from "./sql.ts";

/**
 * The most usage one account may rate in one billing period: 10^13 minor units (USD 100
 * billion, JPY 10 trillion). Far above any real bill, and far enough below 2^53 that an invoice
 * of many meters, base fees and tax still states every amount exactly as a JSON number.
 */
export const PERIOD_AMOUNT_CEILING_MINOR = 10n ** 13n;

/** Thrown inside the ingest transaction when a batch would take a period past the ceiling. */
export class PeriodAmountCeilingError extends Error {
  readonly periodStartMs: number;
  readonly amount: string;
  readonly ceiling: string;
  readonly currency: string;

  constructor(periodStartMs: number, amount: string, ceiling: string, currency: string) {
    super(`period amount ${amount} ${currency} would exceed ${ceiling}`);
    this.name = "PeriodAmountCeilingError";
    this.periodStartMs = periodStartMs;
    this.amount = amount;
    this.ceiling = ceiling;
    this.currency = currency;
  }
}

/** A budget threshold crossed by this batch: raised once per period. */
export interface SpendAlert {
  periodStartMs: number;
  percent: number;
  spent: string;
  budget: string;
  currency: string;
  /** True when this crossing is the hard cap (100 % with the cap on). */
  capReached: boolean;
}

/**
 * Adds the batch's rated amounts to each period's spend and reports thresholds crossed for the
 * first time. Runs inside the ingest transaction, so an alert is raised exactly once per
 * threshold and period even when batches race or are retried.
 */
export function recordSpend(
  sql: Sql,
  config: AccountConfig,
  deltas: Map<number, Decimal>,
  cache?: MeterCache,
): SpendAlert[] {
  const alerts: SpendAlert[] = [];
  const budget = config.spend.budget === null ? null : Decimal.from(config.spend.budget);
  for (const [periodStartMs, delta] of deltas) {
    let row = cache?.spend.get(periodStartMs);
    if (row === undefined) {
      row =
        sql
          .exec<{ amount: string; alerted: string }>(
            "SELECT amount, alerted FROM spend WHERE period_start = ?",
            periodStartMs,
          )
          .toArray()[0] ?? null;
    }
    const before = row ? Decimal.from(row.amount) : Decimal.ZERO;
    const after = before.add(delta);
    const ceiling = Decimal.fromParts(
      PERIOD_AMOUNT_CEILING_MINOR,
      getCurrency(config.currency).exponent,
    );
    if (after.abs().gt(ceiling) && after.abs().gt(before.abs())) {
      throw new PeriodAmountCeilingError(
        periodStartMs,
        after.toString(),
        ceiling.toString(),
        config.currency,
      );
    }
    const alerted = new Set<number>(row ? (JSON.parse(row.alerted) as number[]) : []);
    if (budget?.isPositive()) {
      const thresholds = [...config.spend.alertPercents];
      if (config.spend.hardCap && !thresholds.includes(100)) {
        thresholds.push(100);
      }
      for (const percent of thresholds.sort((a, b) => a - b)) {
        const line = budget.mul(Decimal.fromParts(BigInt(percent), 2));
        if (!alerted.has(percent) && after.gte(line)) {
          alerted.add(percent);
          alerts.push({
            periodStartMs,
            percent,
            spent: after.toString(),
            budget: budget.toString(),
            currency: config.currency,
            capReached: config.spend.hardCap && percent === 100,
          });
        }
      }
    }
    sql.exec(
      `INSERT INTO spend (period_start, amount, alerted) VALUES (?, ?, ?)
       ON CONFLICT (period_start) DO UPDATE SET amount = excluded.amount, alerted = excluded.alerted`,
      periodStartMs,
      after.toString(),
      JSON.stringify([...alerted].sort((a, b) => a - b)),
    );
    cache?.spend.set(periodStartMs, {
      amount: after.toString(),
      alerted: JSON.stringify([...alerted].sort((a, b) => a - b)),
    });
  }
  return alerts;
}

/**
 * The period's rated spend so far, whether its hard cap has been reached (the account's billing
 * status is then `capped` for the period), and the prepaid credit left after the usage not
 * invoiced yet (lib/metering/credits.ts).
 */
export function readSpend(
  sql: Sql,
  config: AccountConfig,
  periodStartMs: number,
): {
  spent: string;
  budget: string | null;
  capped: boolean;
  alertedPercents: number[];
  credits: CreditBalance;
} {
  const row = sql
    .exec<{ amount: string; alerted: string }>(
      "SELECT amount, alerted FROM spend WHERE period_start = ?",
      periodStartMs,
    )
    .toArray()[0];
  const alerted = row ? (JSON.parse(row.alerted) as number[]) : [];
  return {
    spent: row?.amount ?? "0",
    budget: config.spend.budget,
    capped: config.spend.hardCap && alerted.includes(100),
    alertedPercents: alerted,
    credits: readCredits(sql),
  };
}
