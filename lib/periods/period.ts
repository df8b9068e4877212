import { MS_PER_SECOND } from "./civil-date.ts";

/**
 * One billing period: the half-open range `[startMs, endMs)` of UTC epoch milliseconds. Both
 * ends are whole seconds (local midnights or DST transitions), so its length in seconds is an
 * integer. Periods handed out by this module are frozen and may be shared.
 */
export interface Period {
  readonly startMs: number;
  readonly endMs: number;
}

/** A piece of a time range lying inside exactly one period: `[fromMs, toMs)` within `period`. */
export interface PeriodSegment {
  readonly fromMs: number;
  readonly toMs: number;
  readonly period: Period;
}

/**
 * A stable name for a period: its start instant in ISO-8601 UTC with milliseconds, as
 * `Date.prototype.toISOString` writes it, e.g. `2024-03-01T05:00:00.000Z`. Unique among the
 * periods of one calendar (one interval spec and zone), which never share a start; it does not
 * encode the spec or zone, so store it beside the account, never alone. Sorts chronologically.
 */
export function periodKey(period: Period): string {
  return new Date(period.startMs).toISOString();
}

/**
 * Exact length of a period in seconds: 86_400 for most days, 82_800 or 90_000 on DST days in
 * most zones, 2_674_800 for March 2024 in America/New_York. An integer for every period this
 * module computes.
 */
export function periodSeconds(period: Period): number {
  return (period.endMs - period.startMs) / MS_PER_SECOND;
}

/**
 * Elapsed seconds from `fromMs` to `toMs` (negative if reversed). Instants are physical time,
 * so DST never enters: 02:00 to 04:00 local on a spring-forward night is 3600 s. Exact
 * (an integer) when both instants are whole seconds; otherwise `(toMs - fromMs) / 1000` in
 * binary floating point, so integrate in milliseconds when sub-second instants matter.
 */
export function secondsBetween(fromMs: number, toMs: number): number {
  return (toMs - fromMs) / MS_PER_SECOND;
}

/** Milliseconds of `[fromMs, toMs)` that fall inside `period`; 0 when they do not meet. */
export function overlapMs(period: Period, fromMs: number, toMs: number): number {
  const start = Math.max(period.startMs, fromMs);
  const end = Math.min(period.endMs, toMs);
  return end > start ? end - start : 0;
}

/**
 * Seconds of `[fromMs, toMs)` inside `period`, e.g. the part of a plan that was active in this
 * period. Proration takes it over `periodSeconds(period)`, the period's exact length (a month
 * with a DST change is 3600 s shorter or longer); hand both integers to the money code rather
 * than dividing them as floats. Exact for whole-second inputs (see `secondsBetween`); 0 when
 * the ranges do not meet.
 */
export function overlapSeconds(period: Period, fromMs: number, toMs: number): number {
  return overlapMs(period, fromMs, toMs) / MS_PER_SECOND;
}
