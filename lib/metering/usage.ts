import type { MeterDefinition } from "../catalogue/meter.ts";
import { Decimal } from "../money/decimal.ts";
import type { MeterContext } from "./meter-context.ts";
import type { Sql } from "./sql.ts";

/** Minute buckets returned at most per meter (one day). */
export const MAX_BUCKETS = 1440;

export interface UsageQuery {
  /** Any instant inside the wanted period; defaults to now. */
  atMs?: number;
  /** Restrict to these meter keys. */
  meters?: string[];
  /** A groupBy property of the meters to break quantities down by. */
  breakdownBy?: string;
  /** Minute buckets window `[fromMs, toMs)`; defaults to the 60 minutes before now. */
  bucketsFromMs?: number;
  bucketsToMs?: number;
}

export interface MeterUsage {
  key: string;
  name: string;
  unit: string;
  aggregation: string;
  quantity: string;
  amount: string;
  events: number;
  segments: { segment: string; quantity: string; amount: string; events: number }[];
  breakdown?: { value: string; quantity: string; events: number }[];
  buckets: { minuteMs: number; quantity: string; events: number }[];
}

export interface UsageReport {
  accountId: string;
  currency: string;
  timeZone: string;
  period: { startMs: number; endMs: number; sealed: boolean };
  meters: MeterUsage[];
  /** Rated amount of the period across meters (full precision, before invoice rounding). */
  amount: string;
}

interface TotalRow {
  meter: string;
  segment: string;
  quantity: string;
  amount: string;
  events: number;
  latest_ms: number | null;
  [key: string]: string | number | null;
}

function combineSegments(meter: MeterDefinition, rows: TotalRow[]): Decimal {
  if (rows.length === 0) {
    return Decimal.ZERO;
  }
  if (meter.aggregation === "max") {
    return rows.map((r) => Decimal.from(r.quantity)).reduce((a, b) => a.max(b));
  }
  if (meter.aggregation === "latest") {
    const newest = rows.reduce((a, b) => ((b.latest_ms ?? 0) > (a.latest_ms ?? 0) ? b : a));
    return Decimal.from(newest.quantity);
  }
  return Decimal.sum(rows.map((r) => Decimal.from(r.quantity)));
}

/**
 * Reads one period's usage straight from the meter's storage: exact at the moment of the call
 * because every accepted event is already in the totals (one transaction per batch).
 */
export function readUsage(
  sql: Sql,
  ctx: MeterContext,
  query: UsageQuery,
  nowMs: number,
): UsageReport {
  const period = ctx.periodContaining(query.atMs ?? nowMs);
  const sealedRow = sql
    .exec<{ sealed_ms: number | null }>(
      "SELECT sealed_ms FROM periods WHERE start_ms = ?",
      period.startMs,
    )
    .toArray()[0];
  const toMs = Math.min(query.bucketsToMs ?? Math.min(nowMs + 60_000, period.endMs), period.endMs);
  const fromMs = Math.max(
    query.bucketsFromMs ?? toMs - 60 * 60_000,
    period.startMs,
    toMs - MAX_BUCKETS * 60_000,
  );

  const totals = sql
    .exec<TotalRow>(
      "SELECT meter, segment, quantity, amount, events, latest_ms FROM totals WHERE period_start = ? ORDER BY meter, segment",
      period.startMs,
    )
    .toArray();
  const byMeter = new Map<string, TotalRow[]>();
  for (const row of totals) {
    const list = byMeter.get(row.meter) ?? [];
    list.push(row);
    byMeter.set(row.meter, list);
  }

  const wanted = query.meters ? new Set(query.meters) : null;
  const meters: MeterUsage[] = [];
  let periodAmount = Decimal.ZERO;
  for (const meter of ctx.meters.values()) {
    if (wanted && !wanted.has(meter.key)) {
      continue;
    }
    const rows = byMeter.get(meter.key) ?? [];
    if (!wanted && rows.length === 0) {
      continue;
    }
    const amount = Decimal.sum(rows.map((r) => Decimal.from(r.amount)));
    periodAmount = periodAmount.add(amount);
    const usage: MeterUsage = {
      key: meter.key,
      name: meter.name,
      unit: meter.unit,
      aggregation: meter.aggregation,
      quantity: combineSegments(meter, rows).toString(),
      amount: amount.toString(),
      events: rows.reduce((n, r) => n + r.events, 0),
      segments: rows.map((r) => ({
        segment: r.segment,
        quantity: r.quantity,
        amount: r.amount,
        events: r.events,
      })),
      buckets: sql
        .exec<{ minute_ms: number; quantity: string; events: number }>(
          "SELECT minute_ms, quantity, events FROM minute_buckets WHERE meter = ? AND minute_ms >= ? AND minute_ms < ? ORDER BY minute_ms",
          meter.key,
          fromMs,
          toMs,
        )
        .toArray()
        .map((b) => ({ minuteMs: b.minute_ms, quantity: b.quantity, events: b.events })),
    };
    if (query.breakdownBy !== undefined && meter.groupBy.includes(query.breakdownBy)) {
      usage.breakdown = sql
        .exec<{ dim_value: string; quantity: string; events: number }>(
          "SELECT dim_value, quantity, events FROM dimension_totals WHERE meter = ? AND period_start = ? AND dimension = ? ORDER BY dim_value",
          meter.key,
          period.startMs,
          query.breakdownBy,
        )
        .toArray()
        .map((d) => ({ value: d.dim_value, quantity: d.quantity, events: d.events }));
    }
    meters.push(usage);
  }

  return {
    accountId: ctx.config.accountId,
    currency: ctx.config.currency,
    timeZone: ctx.config.timeZone,
    period: { startMs: period.startMs, endMs: period.endMs, sealed: sealedRow?.sealed_ms != null },
    meters,
    amount: periodAmount.toString(),
  };
}
