import type { ClickHouseClient } from "@clickhouse/client-web";
import type { Queryable } from "../adapters/postgres.ts";
import { type AnalyticsTotals, readAnalyticsTotals } from "../analytics/rated-totals.ts";
import type { Clock } from "../clock/clock.ts";
import { pendingDeadLetters } from "../ledger/dead-letters.ts";
import { retryingBatches } from "../ledger/failures.ts";
import { type LedgerTotals, readLedgerTotals } from "../ledger/rollups.ts";
import type { PeriodTotals } from "../metering/periods.ts";
import { Decimal } from "../money/decimal.ts";

/** The account meter's read-only answers the drift check needs (its RPC stub fits). */
export interface MeterReader {
  knownPeriods(
    accountId: string,
    limit: number,
  ): Promise<{ startMs: number; endMs: number; sealed: boolean }[]>;
  periodTotals(accountId: string, periodStartMs: number): Promise<PeriodTotals>;
  pipelineState(): Promise<{ outboxRows: number; oldestCreatedMs: number | null }>;
}

/** Quantity, amount (decimal text, canonical) and event count of one meter in one period. */
export interface DriftTotals {
  quantity: string;
  amount: string;
  events: number;
}

/** One (meter, period) of an account as each place sees it. */
export interface DriftRow {
  meter: string;
  periodStartMs: number;
  durableObject: DriftTotals;
  /** null when that sink could not be read (see `errors`). */
  postgres: DriftTotals | null;
  clickhouse: DriftTotals | null;
  /** Whether the sink equals the Durable Object; null when it could not be read. */
  postgresMatches: boolean | null;
  clickhouseMatches: boolean | null;
}

/** Why totals may legitimately differ right now: work still on its way to the sinks. */
export interface PipelineLag {
  /** Outbox rows the meter has not handed to the queue yet, and the oldest one's age. */
  outboxRows: number;
  oldestOutboxMs: number | null;
  /** Batches the consumer failed to land and will retry. */
  retryingBatches: number;
  oldestRetryFailedMs: number | null;
  /** Dead letters not replayed yet. */
  pendingDeadLetters: number;
  oldestDeadLetterMs: number | null;
}

export interface AccountDrift {
  accountId: string;
  checkedAtMs: number;
  rows: DriftRow[];
  lag: PipelineLag;
  /** Rows where a readable sink differs from the meter. */
  mismatches: number;
  /** Sources that could not be read, with the error. */
  errors: string[];
  /** No mismatch, nothing in flight, every source read: the pipeline is drained and exact. */
  clean: boolean;
}

interface Sum {
  quantity: Decimal;
  amount: Decimal;
  events: number;
}

function bySum(
  rows: readonly { meter: string; quantity: string; amount: string; events: number }[],
) {
  const sums = new Map<string, Sum>();
  for (const row of rows) {
    const sum = sums.get(row.meter) ?? { quantity: Decimal.ZERO, amount: Decimal.ZERO, events: 0 };
    sum.quantity = sum.quantity.add(Decimal.from(row.quantity));
    sum.amount = sum.amount.add(Decimal.from(row.amount));
    sum.events += row.events;
    sums.set(row.meter, sum);
  }
  return sums;
}

const ZERO_SUM: Sum = { quantity: Decimal.ZERO, amount: Decimal.ZERO, events: 0 };

function totals(sum: Sum): DriftTotals {
  return { quantity: sum.quantity.toString(), amount: sum.amount.toString(), events: sum.events };
}

function same(a: Sum, b: Sum): boolean {
  return a.quantity.eq(b.quantity) && a.amount.eq(b.amount) && a.events === b.events;
}

/**
 * Compares one period's totals per meter: the meter's (summed over segments) against each
 * sink's (null = unreadable). A meter missing from a sink counts as zero there; a meter only a
 * sink knows is reported too. Decimals compare by value. Pure.
 */
export function compareTotals(
  periodStartMs: number,
  meter: PeriodTotals["totals"],
  ledger: readonly LedgerTotals[] | null,
  analytics: readonly AnalyticsTotals[] | null,
): DriftRow[] {
  const fromMeter = bySum(meter);
  const fromLedger = ledger ? bySum(ledger) : null;
  const fromAnalytics = analytics ? bySum(analytics) : null;
  const meters = new Set([
    ...fromMeter.keys(),
    ...(fromLedger?.keys() ?? []),
    ...(fromAnalytics?.keys() ?? []),
  ]);
  return [...meters].sort().map((key) => {
    const truth = fromMeter.get(key) ?? ZERO_SUM;
    const pg = fromLedger ? (fromLedger.get(key) ?? ZERO_SUM) : null;
    const chSum = fromAnalytics ? (fromAnalytics.get(key) ?? ZERO_SUM) : null;
    return {
      meter: key,
      periodStartMs,
      durableObject: totals(truth),
      postgres: pg ? totals(pg) : null,
      clickhouse: chSum ? totals(chSum) : null,
      postgresMatches: pg ? same(truth, pg) : null,
      clickhouseMatches: chSum ? same(truth, chSum) : null,
    };
  });
}

export interface DriftDeps {
  meter: MeterReader;
  db: Queryable;
  clickhouse: ClickHouseClient;
  clock: Clock;
}

/** Periods checked per account when none is named: the newest ones the meter holds. */
export const DRIFT_PERIODS_PER_ACCOUNT = 2;

async function attempt<T>(
  source: string,
  errors: string[],
  work: () => Promise<T>,
): Promise<T | null> {
  try {
    return await work();
  } catch (error) {
    errors.push(`${source}: ${error instanceof Error ? error.message : String(error)}`);
    return null;
  }
}

/**
 * Compares an account's totals in the account meter (the source of truth), the Postgres ledger
 * and ClickHouse for the named periods (period start instants), or the meter's newest
 * `DRIFT_PERIODS_PER_ACCOUNT` periods, and gathers the pipeline lag that explains a difference
 * while work is in flight. A source that cannot be read is listed in `errors` and its columns
 * are null; the check itself never throws for a sink outage. Read-only everywhere.
 */
export async function checkAccountDrift(
  deps: DriftDeps,
  accountId: string,
  periodStartsMs: readonly number[] | null,
): Promise<AccountDrift> {
  const errors: string[] = [];
  const periods =
    periodStartsMs ??
    (await attempt("durable object", errors, async () =>
      (await deps.meter.knownPeriods(accountId, DRIFT_PERIODS_PER_ACCOUNT)).map((p) => p.startMs),
    )) ??
    [];
  const rows: DriftRow[] = [];
  for (const periodStartMs of periods) {
    const [meter, ledger, analytics] = await Promise.all([
      attempt("durable object", errors, () => deps.meter.periodTotals(accountId, periodStartMs)),
      attempt("postgres", errors, () => readLedgerTotals(deps.db, accountId, periodStartMs)),
      attempt("clickhouse", errors, () =>
        readAnalyticsTotals(deps.clickhouse, accountId, periodStartMs),
      ),
    ]);
    if (meter) {
      rows.push(...compareTotals(periodStartMs, meter.totals, ledger, analytics));
    }
  }
  const [outbox, retrying, dead] = await Promise.all([
    attempt("durable object", errors, () => deps.meter.pipelineState()),
    attempt("postgres", errors, () => retryingBatches(deps.db, accountId)),
    attempt("postgres", errors, () => pendingDeadLetters(deps.db, accountId)),
  ]);
  const lag: PipelineLag = {
    outboxRows: outbox?.outboxRows ?? 0,
    oldestOutboxMs: outbox?.oldestCreatedMs ?? null,
    retryingBatches: retrying?.batches ?? 0,
    oldestRetryFailedMs: retrying?.oldestFailedAtMs ?? null,
    pendingDeadLetters: dead?.count ?? 0,
    oldestDeadLetterMs: dead?.oldestDeadAtMs ?? null,
  };
  const mismatches = rows.filter(
    (row) => row.postgresMatches === false || row.clickhouseMatches === false,
  ).length;
  const inFlight = lag.outboxRows + lag.retryingBatches + lag.pendingDeadLetters > 0;
  const uniqueErrors = [...new Set(errors)];
  return {
    accountId,
    checkedAtMs: deps.clock.nowMs(),
    rows,
    lag,
    mismatches,
    errors: uniqueErrors,
    clean: mismatches === 0 && !inFlight && uniqueErrors.length === 0,
  };
}
