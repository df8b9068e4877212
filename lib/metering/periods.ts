import type { MeterContext } from "./meter-context.ts";
import type { Sql } from "./sql.ts";

/** A period's totals as the account meter holds them. */
export interface PeriodTotals {
  periodStartMs: number;
  sealed: boolean;
  totals: { meter: string; segment: string; quantity: string; amount: string; events: number }[];
  /** Outbox rows not yet accepted by the queue (any period). */
  outboxRows: number;
}

/**
 * Marks a period sealed (idempotent: the first seal time stays) and stops open time-weighted
 * series whose last sample lies before the period's end, so no later sample accrues into it.
 */
export function sealPeriod(
  sql: Sql,
  periodStartMs: number,
  periodEndMs: number,
  nowMs: number,
): void {
  sql.exec(
    `INSERT INTO periods (start_ms, end_ms, sealed_ms) VALUES (?, ?, ?)
     ON CONFLICT (start_ms) DO UPDATE SET sealed_ms = coalesce(periods.sealed_ms, excluded.sealed_ms)`,
    periodStartMs,
    periodEndMs,
    nowMs,
  );
  sql.exec("UPDATE series SET open = 0 WHERE open = 1 AND last_ms < ?", periodEndMs);
}

/** Reads one period's totals per meter and segment. */
export function readPeriodTotals(sql: Sql, periodStartMs: number): PeriodTotals {
  const sealed = sql
    .exec<{ sealed_ms: number | null }>(
      "SELECT sealed_ms FROM periods WHERE start_ms = ?",
      periodStartMs,
    )
    .toArray()[0];
  const totals = sql
    .exec<{ meter: string; segment: string; quantity: string; amount: string; events: number }>(
      "SELECT meter, segment, quantity, amount, events FROM totals WHERE period_start = ? ORDER BY meter, segment",
      periodStartMs,
    )
    .toArray()
    .map((row) => ({ ...row }));
  const outboxRows = sql.exec<{ n: number }>("SELECT count(*) AS n FROM outbox").one().n;
  return { periodStartMs, sealed: sealed?.sealed_ms != null, totals, outboxRows };
}

/**
 * Closes time-weighted series silent for longer than their meter's heartbeat timeout, at their
 * last sample (nothing accrues for the silence). Returns when the next open series would time
 * out, or null when none is open.
 */
export function closeSilentSeries(sql: Sql, ctx: MeterContext, nowMs: number): number | null {
  let nextDueMs: number | null = null;
  const open = sql
    .exec<{ meter: string; series: string; last_ms: number }>(
      "SELECT meter, series, last_ms FROM series WHERE open = 1",
    )
    .toArray();
  for (const row of open) {
    const heartbeatMs = (ctx.meters.get(row.meter)?.heartbeatTimeoutSeconds ?? 0) * 1000;
    const dueMs = row.last_ms + heartbeatMs;
    if (dueMs <= nowMs) {
      sql.exec(
        "UPDATE series SET open = 0 WHERE meter = ? AND series = ? AND last_ms = ?",
        row.meter,
        row.series,
        row.last_ms,
      );
    } else {
      nextDueMs = nextDueMs === null ? dueMs + 1 : Math.min(nextDueMs, dueMs + 1);
    }
  }
  return nextDueMs;
}

/** How long sealed periods' totals are kept after their end, for late drift checks. */
const SEALED_RETENTION_MS = 400 * 86_400_000;

/**
 * Keeps storage bounded: dedup entries and minute buckets older than the late-arrival window
 * (plus a day of margin) go, as do closed series past the window and sealed periods past
 * retention. Events that old are refused anyway, so forgetting their ids cannot double count.
 */
export function pruneExpired(sql: Sql, nowMs: number, lateArrivalWindowMs: number): void {
  const horizonMs = nowMs - lateArrivalWindowMs - 86_400_000;
  sql.exec("DELETE FROM seen_events WHERE time_ms < ?", horizonMs);
  sql.exec("DELETE FROM minute_buckets WHERE minute_ms < ?", horizonMs);
  sql.exec("DELETE FROM series WHERE open = 0 AND last_ms < ?", horizonMs);
  const expired = sql
    .exec<{ start_ms: number }>(
      "SELECT start_ms FROM periods WHERE sealed_ms IS NOT NULL AND end_ms < ?",
      nowMs - SEALED_RETENTION_MS,
    )
    .toArray();
  for (const { start_ms } of expired) {
    for (const table of ["totals", "unique_values", "dimension_totals", "spend"]) {
      sql.exec(`DELETE FROM ${table} WHERE period_start = ?`, start_ms);
    }
    sql.exec("DELETE FROM periods WHERE start_ms = ?", start_ms);
  }
  const openPeriods = sql
    .exec<{ start_ms: number }>(
      "SELECT start_ms FROM periods WHERE sealed_ms IS NULL AND end_ms < ?",
      horizonMs,
    )
    .toArray();
  for (const { start_ms } of openPeriods) {
    sql.exec("DELETE FROM unique_values WHERE period_start = ?", start_ms);
  }
}
