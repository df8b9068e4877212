import type { MeterContext } from "./meter-context.ts";

/** One piece of a time-weighted accrual that lies inside one period, day, segment and minute. */
export interface AccrualPiece {
  fromMs: number;
  toMs: number;
  periodStartMs: number;
  periodEndMs: number;
  dayKey: string;
  segmentId: string;
  minuteMs: number;
}

const MINUTE_MS = 60_000;

/**
 * Splits `[fromMs, toMs)` exactly at every billing-period, local-day, pricing-segment and minute
 * boundary, so each piece can be attributed to one ledger row and one chart bucket.
 */
export function splitAccrual(ctx: MeterContext, fromMs: number, toMs: number): AccrualPiece[] {
  const pieces: AccrualPiece[] = [];
  let cursor = fromMs;
  while (cursor < toMs) {
    const period = ctx.periodContaining(cursor);
    const day = ctx.dayContaining(cursor);
    const segment = ctx.segmentAt(cursor);
    const minuteMs = cursor - (((cursor % MINUTE_MS) + MINUTE_MS) % MINUTE_MS);
    let end = Math.min(toMs, period.endMs, day.endMs, minuteMs + MINUTE_MS);
    if (segment.toMs !== null) {
      end = Math.min(end, segment.toMs);
    }
    pieces.push({
      fromMs: cursor,
      toMs: end,
      periodStartMs: period.startMs,
      periodEndMs: period.endMs,
      dayKey: day.key,
      segmentId: segment.id,
      minuteMs,
    });
    cursor = end;
  }
  return pieces;
}
