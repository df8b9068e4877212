/**
 * Proleptic Gregorian calendar arithmetic on plain dates, with no time zone involved.
 * A "day number" counts days since 1970-01-01 (negative before it), so consecutive dates are
 * consecutive integers and calendar distances are subtractions.
 */

/** A calendar date: `month` is 1..12 and `day` 1..31, as written on a wall calendar. */
export interface CivilDate {
  year: number;
  month: number;
  day: number;
}

export const MS_PER_SECOND = 1000;
export const MS_PER_DAY = 86_400_000;

/** Days from 0000-03-01 to 1970-01-01, so that eras of 400 years start on a March 1st. */
const DAYS_TO_EPOCH_FROM_MARCH_0000 = 719_468;
const DAYS_PER_400_YEARS = 146_097;

/** Integer division rounding towards minus infinity, so negatives land in the right bucket. */
export function floorDiv(dividend: number, divisor: number): number {
  return Math.floor(dividend / divisor);
}

/** Remainder with the sign of the divisor: `floorMod(-1, 7)` is 6, unlike `%`. */
export function floorMod(dividend: number, divisor: number): number {
  return dividend - divisor * Math.floor(dividend / divisor);
}

/** Whether `year` has a February 29th under Gregorian rules (every 4th, not 100th, every 400th). */
export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

/** Number of days (28..31) in `month` (1..12) of `year`. */
export function daysInMonth(year: number, month: number): number {
  if (month === 2 && isLeapYear(year)) {
    return 29;
  }
  return DAYS_IN_MONTH[month - 1] ?? Number.NaN;
}

/**
 * Day number of a date: days since 1970-01-01. Counting years from March makes February the
 * last month of the counted year, so the leap day never shifts the months after it.
 */
export function dayNumberOf(date: CivilDate): number {
  const marchYear = date.month <= 2 ? date.year - 1 : date.year;
  const era = floorDiv(marchYear, 400);
  const yearOfEra = marchYear - era * 400;
  const monthFromMarch = (date.month + 9) % 12;
  const dayOfYear = floorDiv(153 * monthFromMarch + 2, 5) + date.day - 1;
  const dayOfEra = yearOfEra * 365 + floorDiv(yearOfEra, 4) - floorDiv(yearOfEra, 100) + dayOfYear;
  return era * DAYS_PER_400_YEARS + dayOfEra - DAYS_TO_EPOCH_FROM_MARCH_0000;
}

/** The date of a day number (days since 1970-01-01); the inverse of `dayNumberOf`. */
export function civilDateOf(dayNumber: number): CivilDate {
  const shifted = dayNumber + DAYS_TO_EPOCH_FROM_MARCH_0000;
  const era = floorDiv(shifted, DAYS_PER_400_YEARS);
  const dayOfEra = shifted - era * DAYS_PER_400_YEARS;
  const yearOfEra = floorDiv(
    dayOfEra - floorDiv(dayOfEra, 1460) + floorDiv(dayOfEra, 36_524) - floorDiv(dayOfEra, 146_096),
    365,
  );
  const dayOfYear =
    dayOfEra - (365 * yearOfEra + floorDiv(yearOfEra, 4) - floorDiv(yearOfEra, 100));
  const monthFromMarch = floorDiv(5 * dayOfYear + 2, 153);
  const day = dayOfYear - floorDiv(153 * monthFromMarch + 2, 5) + 1;
  const month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  return { year, month, day };
}

/**
 * Parses a strict `YYYY-MM-DD` string (four-digit year 0001..9999, a real calendar date).
 * Returns undefined for anything else, including `2023-02-29` and `2024-1-5`.
 */
export function parseIsoDate(text: string): CivilDate | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (match === null) {
    return undefined;
  }
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    return undefined;
  }
  return { year, month, day };
}

/** Formats a date as `YYYY-MM-DD` (years 0..9999). */
export function formatIsoDate(date: CivilDate): string {
  const pad = (value: number, width: number) => String(value).padStart(width, "0");
  return `${pad(date.year, 4)}-${pad(date.month, 2)}-${pad(date.day, 2)}`;
}
