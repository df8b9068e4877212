export {
  type CivilDate,
  daysInMonth,
  formatIsoDate,
  isLeapYear,
  parseIsoDate,
} from "./civil-date.ts";
export {
  assertIntervalSpec,
  type FixedDaysInterval,
  type IntervalSpec,
  MAX_DAY_COUNT,
  MAX_WEEK_COUNT,
  MONTH_COUNTS,
  type MonthlyInterval,
  parseIntervalSpec,
  type SpecParseResult,
  type YearlyInterval,
} from "./interval-spec.ts";
export {
  overlapMs,
  overlapSeconds,
  type Period,
  type PeriodSegment,
  periodKey,
  periodSeconds,
  secondsBetween,
} from "./period.ts";
export { MAX_PERIODS_PER_CALL, PeriodCalendar } from "./period-calendar.ts";
export {
  nextPeriod,
  periodContaining,
  periodsBetween,
  previousPeriod,
  splitAtBoundaries,
} from "./periods.ts";
export {
  instantToLocal,
  isValidTimeZone,
  type LocalDateTime,
  localToInstant,
  MAX_SUPPORTED_MS,
  MIN_SUPPORTED_MS,
  timeZoneErrors,
  zoneOffsetMs,
} from "./zone.ts";
