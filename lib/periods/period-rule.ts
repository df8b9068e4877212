import { AppError } from "../errors/index.ts";
import { civilDateOf, dayNumberOf, daysInMonth, floorDiv, parseIsoDate } from "./civil-date.ts";
import type { IntervalSpec } from "./interval-spec.ts";

/**
 * The calendar half of a billing interval, free of time zones: periods are numbered by an
 * integer index, and each starts on a local calendar day (a day number, days since 1970-01-01).
 * Start days strictly increase with the index. Zones only enter when a start day's local
 * midnight is turned into an instant.
 */
export interface PeriodRule {
  /** Local day number on which period `index` starts. */
  startDayOf(index: number): number;
  /** Index of the period whose local start day is the last one on or before `dayNumber`. */
  indexOfDay(dayNumber: number): number;
  /** Most local calendar days one period can span (31 per month, 366 per year). */
  maxLengthDays: number;
}

/** Compiles a validated spec into its rule; month-based rules clamp anchors to short months. */
export function ruleFor(spec: IntervalSpec): PeriodRule {
  switch (spec.unit) {
    case "month":
      return monthRule(spec.count, spec.anchorMonth ?? 1, spec.anchorDay);
    case "year":
      return monthRule(12, spec.anchorMonth, spec.anchorDay);
    case "day":
      return fixedDaysRule(spec.count, spec.anchorDate);
    case "week":
      return fixedDaysRule(spec.count * 7, spec.anchorDate);
  }
}

/**
 * Periods of `count` months. Months are numbered `year * 12 + (month - 1)`; period `index`
 * starts in month number `index * count + (anchorMonth - 1)`, on `anchorDay` clamped to that
 * month's length. Clamping never moves a start into another month, so starts stay ordered.
 */
function monthRule(count: number, anchorMonth: number, anchorDay: number): PeriodRule {
  const phase = anchorMonth - 1;
  const startDayOf = (index: number): number => {
    const monthNumber = index * count + phase;
    const year = floorDiv(monthNumber, 12);
    const month = monthNumber - year * 12 + 1;
    return dayNumberOf({ year, month, day: Math.min(anchorDay, daysInMonth(year, month)) });
  };
  return {
    startDayOf,
    maxLengthDays: count === 12 ? 366 : count * 31,
    indexOfDay(dayNumber) {
      const date = civilDateOf(dayNumber);
      const index = floorDiv(date.year * 12 + date.month - 1 - phase, count);
      // In a period's first month, days before the (clamped) anchor belong to the one before.
      return startDayOf(index) > dayNumber ? index - 1 : index;
    },
  };
}

/** Periods of `lengthDays` local days, period 0 starting on `anchorDate`. */
function fixedDaysRule(lengthDays: number, anchorDate: string): PeriodRule {
  const anchor = parseIsoDate(anchorDate);
  if (anchor === undefined) {
    throw new AppError("INTERNAL", "Interval spec reached ruleFor without validation", {
      context: { anchorDate },
    });
  }
  const anchorDay = dayNumberOf(anchor);
  return {
    startDayOf: (index) => anchorDay + index * lengthDays,
    maxLengthDays: lengthDays,
    indexOfDay: (dayNumber) => floorDiv(dayNumber - anchorDay, lengthDays),
  };
}
