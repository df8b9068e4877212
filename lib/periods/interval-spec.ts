import type { FieldError } from "../errors/index.ts";
import { AppError } from "../errors/index.ts";
import { daysInMonth, parseIsoDate } from "./civil-date.ts";

/**
 * Every `count` months, starting at local midnight of `anchorDay`. An anchor past the end of a
 * month (29..31) clamps to its last day and returns in longer months. `anchorMonth` (1..12,
 * default 1) picks which months start a period when `count` > 1: count 3 with anchorMonth 2
 * starts periods in Feb, May, Aug and Nov.
 */
export interface MonthlyInterval {
  unit: "month";
  count: number;
  anchorDay: number;
  anchorMonth?: number;
}

/**
 * Every year at local midnight of `anchorMonth`/`anchorDay`; a Feb 29 anchor falls on Feb 28 in
 * common years and returns to Feb 29 in leap years.
 */
export interface YearlyInterval {
  unit: "year";
  anchorMonth: number;
  anchorDay: number;
}

/**
 * Every `count` local calendar days (or weeks of 7 days), at local midnight, aligned so that one
 * period starts on `anchorDate` (`YYYY-MM-DD`, any date, past or future: it only sets the phase).
 * A day is 23, 24 or 25 hours (23.5 or 24.5 in Australia/Lord_Howe) depending on DST.
 */
export interface FixedDaysInterval {
  unit: "day" | "week";
  count: number;
  anchorDate: string;
}

/** A billing interval as stored on an account or plan: plain JSON, see `parseIntervalSpec`. */
export type IntervalSpec = MonthlyInterval | YearlyInterval | FixedDaysInterval;

/** Month counts that divide a year, so the months that start periods repeat every year. */
export const MONTH_COUNTS: readonly number[] = [1, 2, 3, 4, 6, 12];
export const MAX_DAY_COUNT = 366;
export const MAX_WEEK_COUNT = 53;

const ALLOWED_KEYS: Record<IntervalSpec["unit"], readonly string[]> = {
  month: ["unit", "count", "anchorDay", "anchorMonth"],
  year: ["unit", "anchorMonth", "anchorDay"],
  day: ["unit", "count", "anchorDate"],
  week: ["unit", "count", "anchorDate"],
};

export type SpecParseResult =
  | { ok: true; spec: IntervalSpec }
  | { ok: false; errors: FieldError[] };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Validates untrusted JSON as an IntervalSpec. Returns the spec (a fresh object holding only the
 * known keys) or every problem as field errors under `pointer` (a JSON pointer prefix such as
 * `/billingInterval`). Unknown keys are errors, so a typo like `anchor_day` is not ignored.
 */
export function parseIntervalSpec(input: unknown, pointer = ""): SpecParseResult {
  if (!isRecord(input)) {
    return fail(pointer, "invalid_type", "must be an object with a `unit`");
  }
  const unit = input.unit;
  if (unit !== "month" && unit !== "year" && unit !== "day" && unit !== "week") {
    return fail(`${pointer}/unit`, "invalid_value", 'must be "month", "year", "day" or "week"');
  }
  const errors: FieldError[] = [];
  for (const key of Object.keys(input)) {
    if (!ALLOWED_KEYS[unit].includes(key)) {
      errors.push({
        field: `${pointer}/${key}`,
        code: "unrecognized_key",
        detail: `is not a field of a "${unit}" interval; allowed: ${ALLOWED_KEYS[unit].join(", ")}`,
      });
    }
  }
  const integer = (key: string, min: number, max: number, required = true) => {
    const value = input[key];
    if (value === undefined) {
      if (required) {
        errors.push({ field: `${pointer}/${key}`, code: "required", detail: "is required" });
      }
      return undefined;
    }
    if (typeof value !== "number" || !Number.isInteger(value)) {
      errors.push({
        field: `${pointer}/${key}`,
        code: "invalid_type",
        detail: "must be an integer",
      });
      return undefined;
    }
    if (value < min || value > max) {
      errors.push({
        field: `${pointer}/${key}`,
        code: "out_of_range",
        detail: `must be from ${min} to ${max}`,
      });
      return undefined;
    }
    return value;
  };

  let spec: IntervalSpec | undefined;
  if (unit === "month") {
    const count = integer("count", 1, 12);
    if (count !== undefined && !MONTH_COUNTS.includes(count)) {
      errors.push({
        field: `${pointer}/count`,
        code: "invalid_value",
        detail: `must divide a year: one of ${MONTH_COUNTS.join(", ")}`,
      });
    }
    const anchorDay = integer("anchorDay", 1, 31);
    const anchorMonth = integer("anchorMonth", 1, 12, false);
    if (count !== undefined && anchorDay !== undefined) {
      spec = { unit, count, anchorDay, ...(anchorMonth === undefined ? {} : { anchorMonth }) };
    }
  } else if (unit === "year") {
    const anchorMonth = integer("anchorMonth", 1, 12);
    // Checked against a leap year: Feb 29 is a valid yearly anchor, Feb 30 and Apr 31 are not.
    const anchorDay = integer(
      "anchorDay",
      1,
      anchorMonth === undefined ? 31 : daysInMonth(2000, anchorMonth),
    );
    if (anchorMonth !== undefined && anchorDay !== undefined) {
      spec = { unit, anchorMonth, anchorDay };
    }
  } else {
    const count = integer("count", 1, unit === "day" ? MAX_DAY_COUNT : MAX_WEEK_COUNT);
    const anchorDate = input.anchorDate;
    if (anchorDate === undefined) {
      errors.push({ field: `${pointer}/anchorDate`, code: "required", detail: "is required" });
    } else if (typeof anchorDate !== "string" || parseIsoDate(anchorDate) === undefined) {
      errors.push({
        field: `${pointer}/anchorDate`,
        code: "invalid_date",
        detail: "must be a calendar date written YYYY-MM-DD, e.g. 2024-01-31",
      });
    } else if (count !== undefined) {
      spec = { unit, count, anchorDate };
    }
  }
  if (errors.length > 0 || spec === undefined) {
    return { ok: false, errors };
  }
  return { ok: true, spec };
}

/** Like `parseIntervalSpec`, but throws VALIDATION_FAILED carrying the field errors. */
export function assertIntervalSpec(input: unknown, pointer = ""): IntervalSpec {
  const result = parseIntervalSpec(input, pointer);
  if (!result.ok) {
    throw new AppError("VALIDATION_FAILED", "Invalid billing interval", {
      fieldErrors: result.errors,
    });
  }
  return result.spec;
}

function fail(field: string, code: string, detail: string): SpecParseResult {
  return { ok: false, errors: [{ field, code, detail }] };
}
