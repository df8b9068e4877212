import type { Queryable } from "../adapters/postgres.ts";
import { Decimal } from "../money/decimal.ts";
import type { SegmentUsage } from "./lines.ts";

/** One (meter, segment) where the ledger does not hold what the sealed meter counted yet. */
export interface PipelineGap {
  meter: string;
  segment: string;
  meterTotals: { quantity: string; amount: string; events: number };
  ledgerTotals: { quantity: string; amount: string; events: number };
}

const key = (row: { meter: string; segment: string }) => `${row.meter}\u0000${row.segment}`;

function canonical(row: SegmentUsage | undefined) {
  return {
    quantity: Decimal.from(row?.quantity ?? "0").toString(),
    amount: Decimal.from(row?.amount ?? "0").toString(),
    events: row?.events ?? 0,
  };
}

/**
 * Compares a sealed period's totals in the account meter with the ledger's rollups, per meter
 * and pricing segment: quantity and amount by decimal value, and event counts. Returns the
 * (meter, segment) pairs that differ, sorted; empty means the pipeline has delivered the whole
 * period and the invoice may be built from the ledger. A pair missing on one side counts as zero
 * there. Pure.
 */
export function pipelineGaps(
  meterTotals: readonly SegmentUsage[],
  ledger: readonly SegmentUsage[],
): PipelineGap[] {
  const fromMeter = new Map(meterTotals.map((row) => [key(row), row]));
  const fromLedger = new Map(ledger.map((row) => [key(row), row]));
  const gaps: PipelineGap[] = [];
  for (const k of [...new Set([...fromMeter.keys(), ...fromLedger.keys()])].sort()) {
    const a = canonical(fromMeter.get(k));
    const b = canonical(fromLedger.get(k));
    if (a.quantity !== b.quantity || a.amount !== b.amount || a.events !== b.events) {
      const [meter, segment] = k.split("\u0000") as [string, string];
      gaps.push({ meter, segment, meterTotals: a, ledgerTotals: b });
    }
  }
  return gaps;
}

/**
 * The ledger's totals for one account and period per meter and pricing segment (summed over
 * local days), as exact decimal text. The invoice is built from these, never from the meter.
 */
export async function readPeriodUsage(
  db: Queryable,
  accountId: string,
  periodStartMs: number,
): Promise<SegmentUsage[]> {
  const { rows } = await db.query<{
    meter: string;
    segment: string;
    quantity: string;
    amount: string;
    events: string;
  }>(
    `select meter, segment, sum(quantity)::text as quantity, sum(amount)::text as amount,
            sum(event_count)::text as events
       from usage_rollups where account_id = $1 and period_start = $2
      group by meter, segment order by meter, segment`,
    [accountId, new Date(periodStartMs).toISOString()],
  );
  return rows.map((row) => ({
    meter: row.meter,
    segment: row.segment,
    quantity: Decimal.from(row.quantity).toString(),
    amount: Decimal.from(row.amount).toString(),
    events: Number(row.events),
  }));
}
