import type { IntervalSpec } from "./interval-spec.ts";
import type { Period, PeriodSegment } from "./period.ts";
import { PeriodCalendar } from "./period-calendar.ts";

/*
 * One-off lookups. Each call validates the spec and zone and resolves boundaries from scratch
 * (a few Intl calls, ~10-20 µs); code that looks up many instants for one account should hold
 * a PeriodCalendar instead. All throw VALIDATION_FAILED with field errors for an invalid spec
 * (under `/interval`), zone (`/timeZone`) or instant (`/atMs`, `/fromMs`, `/toMs`).
 */

/**
 * The period of `spec` in `zone` with `startMs <= atMs < endMs`; an instant exactly on a
 * boundary belongs to the later period.
 */
export function periodContaining(spec: IntervalSpec, zone: string, atMs: number): Period {
  return new PeriodCalendar(spec, zone).containing(atMs);
}

/** The period right after `period` (which must be a period of `spec` in `zone`). */
export function nextPeriod(spec: IntervalSpec, zone: string, period: Period): Period {
  return new PeriodCalendar(spec, zone).next(period);
}

/** The period right before `period` (which must be a period of `spec` in `zone`). */
export function previousPeriod(spec: IntervalSpec, zone: string, period: Period): Period {
  return new PeriodCalendar(spec, zone).previous(period);
}

/** Every period meeting `[fromMs, toMs)`, in order; empty when `toMs <= fromMs`. */
export function periodsBetween(
  spec: IntervalSpec,
  zone: string,
  fromMs: number,
  toMs: number,
): Period[] {
  return new PeriodCalendar(spec, zone).between(fromMs, toMs);
}

/**
 * `[fromMs, toMs)` split exactly at the period boundaries of `spec` in `zone`, so a level can be
 * integrated per period as `level × secondsBetween(segment.fromMs, segment.toMs)`.
 */
export function splitAtBoundaries(
  spec: IntervalSpec,
  zone: string,
  fromMs: number,
  toMs: number,
): PeriodSegment[] {
  return new PeriodCalendar(spec, zone).split(fromMs, toMs);
}
