import type { FieldError } from "../errors/index.ts";
import { AppError } from "../errors/index.ts";
import { type CivilDate, dayNumberOf, daysInMonth, floorDiv, MS_PER_DAY } from "./civil-date.ts";

/**
 * Wall-clock time in an IANA zone. `month` is 1..12, `hour` 0..23; `millisecond` defaults to 0
 * when given to `localToInstant` and is always present in what `instantToLocal` returns.
 */
export interface LocalDateTime extends CivilDate {
  hour: number;
  minute: number;
  second: number;
  millisecond?: number;
}

/**
 * Instants this module accepts from callers: [1800-01-01T00:00Z, 9000-01-01T00:00Z). Wide enough
 * for any billing date, narrow enough that every year stays four digits in the Common Era, where
 * Intl's output is unambiguous. Internal arithmetic may step a little beyond it.
 */
export const MIN_SUPPORTED_MS = dayNumberOf({ year: 1800, month: 1, day: 1 }) * MS_PER_DAY;
export const MAX_SUPPORTED_MS = dayNumberOf({ year: 9000, month: 1, day: 1 }) * MS_PER_DAY;

const MAX_ZONE_NAME_LENGTH = 64;
/** IANA names are letters, digits and `_+-/`; this also turns away UTC offsets such as `+05:30`. */
const ZONE_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_+\-/]*$/;

/**
 * One formatter per zone name for the life of the isolate: building one costs ~50 µs, using it
 * ~3 µs. Only names Intl accepted get here; the cap only guards against a flood of spellings.
 */
const FORMATTERS_BY_ZONE = new Map<string, Intl.DateTimeFormat>();
const MAX_CACHED_FORMATTERS = 1024;

function formatterFor(zone: string): Intl.DateTimeFormat | undefined {
  const cached = FORMATTERS_BY_ZONE.get(zone);
  if (cached !== undefined) {
    return cached;
  }
  if (zone.length > MAX_ZONE_NAME_LENGTH || !ZONE_NAME_PATTERN.test(zone)) {
    return undefined;
  }
  let formatter: Intl.DateTimeFormat;
  try {
    // Gregorian calendar and Latin digits pinned, 24-hour clock so midnight is 0, not 24.
    formatter = new Intl.DateTimeFormat("en-US-u-ca-gregory-nu-latn", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
  } catch {
    return undefined;
  }
  if (FORMATTERS_BY_ZONE.size >= MAX_CACHED_FORMATTERS) {
    FORMATTERS_BY_ZONE.clear();
  }
  FORMATTERS_BY_ZONE.set(zone, formatter);
  return formatter;
}

/**
 * Whether `zone` is an IANA time zone name this runtime knows (`Europe/London`, `UTC`,
 * `Etc/GMT+5`). Case-insensitive like IANA itself; rejects UTC offsets (`+05:30`) and
 * abbreviations the runtime does not know. Never throws.
 */
export function isValidTimeZone(zone: unknown): boolean {
  return typeof zone === "string" && formatterFor(zone) !== undefined;
}

/** Field errors for a time zone name at `field` (a JSON pointer); empty when valid. */
export function timeZoneErrors(zone: unknown, field: string): FieldError[] {
  if (typeof zone !== "string") {
    return [{ field, code: "invalid_type", detail: "must be an IANA time zone name (a string)" }];
  }
  if (!isValidTimeZone(zone)) {
    return [
      {
        field,
        code: "invalid_time_zone",
        detail: `${JSON.stringify(zone.slice(0, MAX_ZONE_NAME_LENGTH))} is not an IANA zone name`,
      },
    ];
  }
  return [];
}

function requireFormatter(zone: string): Intl.DateTimeFormat {
  const formatter = formatterFor(zone);
  if (formatter === undefined) {
    throw new AppError("VALIDATION_FAILED", `Unknown time zone ${JSON.stringify(zone)}`, {
      fieldErrors: timeZoneErrors(zone, "/timeZone"),
      context: { zone },
    });
  }
  return formatter;
}

/** Throws VALIDATION_FAILED unless `ms` is an integer instant in the supported range. */
export function assertSupportedInstant(ms: number, field: string): void {
  if (!Number.isInteger(ms) || ms < MIN_SUPPORTED_MS || ms >= MAX_SUPPORTED_MS) {
    throw new AppError("VALIDATION_FAILED", `Instant out of range at ${field}`, {
      fieldErrors: [
        {
          field,
          code: "out_of_range",
          detail: "must be integer epoch milliseconds between 1800-01-01 and 9000-01-01 UTC",
        },
      ],
      context: { ms },
    });
  }
}

/** Milliseconds since the epoch of a wall time read as if it were UTC. */
function wallAsUtcMs(local: LocalDateTime): number {
  const seconds = local.hour * 3600 + local.minute * 60 + local.second;
  return dayNumberOf(local) * MS_PER_DAY + seconds * 1000 + (local.millisecond ?? 0);
}

function wallOf(formatter: Intl.DateTimeFormat, ms: number): Required<LocalDateTime> {
  const wall = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0, millisecond: 0 };
  for (const part of formatter.formatToParts(ms)) {
    switch (part.type) {
      case "year":
        wall.year = Number(part.value);
        break;
      case "month":
        wall.month = Number(part.value);
        break;
      case "day":
        wall.day = Number(part.value);
        break;
      case "hour":
        wall.hour = Number(part.value);
        break;
      case "minute":
        wall.minute = Number(part.value);
        break;
      case "second":
        wall.second = Number(part.value);
        break;
      default:
        break;
    }
  }
  // Intl drops milliseconds; zone offsets are whole seconds, so they carry over unchanged.
  wall.millisecond = ms - floorDiv(ms, 1000) * 1000;
  return wall;
}

/** UTC offset in ms (local minus UTC) of `zone` at instant `ms`; the zone must be valid. */
function offsetWith(formatter: Intl.DateTimeFormat, ms: number): number {
  return wallAsUtcMs(wallOf(formatter, ms)) - ms;
}

/**
 * Wall-clock time in `zone` at the instant `ms` (UTC epoch milliseconds).
 * Throws VALIDATION_FAILED for an unknown zone or an instant outside the supported range.
 */
export function instantToLocal(zone: string, ms: number): Required<LocalDateTime> {
  const formatter = requireFormatter(zone);
  assertSupportedInstant(ms, "/atMs");
  return wallOf(formatter, ms);
}

/**
 * Offset of `zone` from UTC at instant `ms`, in milliseconds (east positive: Asia/Kolkata is
 * +19_800_000). Throws VALIDATION_FAILED for an unknown zone or an out-of-range instant.
 */
export function zoneOffsetMs(zone: string, ms: number): number {
  const formatter = requireFormatter(zone);
  assertSupportedInstant(ms, "/atMs");
  return offsetWith(formatter, ms);
}

function localErrors(local: LocalDateTime): FieldError[] {
  const errors: FieldError[] = [];
  const check = (name: keyof LocalDateTime, min: number, max: number) => {
    const value = local[name];
    if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
      errors.push({
        field: `/${name}`,
        code: "out_of_range",
        detail: `must be an integer from ${min} to ${max}`,
      });
    }
  };
  check("year", 1800, 8999);
  check("month", 1, 12);
  if (errors.length === 0) {
    check("day", 1, daysInMonth(local.year, local.month));
  }
  check("hour", 0, 23);
  check("minute", 0, 59);
  check("second", 0, 59);
  if (local.millisecond !== undefined) {
    check("millisecond", 0, 999);
  }
  return errors;
}

/**
 * The instant (UTC epoch ms) at which the wall clock in `zone` shows `local`.
 *
 * Wall times are not one-to-one with instants, so two rules apply:
 * - in a gap (clocks jump forward, e.g. 02:30 on a spring-forward night, or midnight in
 *   America/Santiago on the first Sunday of September) the answer is the first instant after
 *   the gap, i.e. the transition itself: 02:30 in New York on 2024-03-10 gives 03:00 EDT;
 * - in an overlap (clocks fall back, the wall time happens twice) the answer is the earlier
 *   of the two instants.
 * Throws VALIDATION_FAILED for an unknown zone or out-of-range fields, and INTERNAL if the zone
 * changed offset twice within a day of `local` (no tzdb zone does in the supported range).
 */
export function localToInstant(zone: string, local: LocalDateTime): number {
  const formatter = requireFormatter(zone);
  const errors = localErrors(local);
  if (errors.length > 0) {
    throw new AppError("VALIDATION_FAILED", "Invalid local date-time", {
      fieldErrors: errors,
      context: { zone, local },
    });
  }
  return wallToInstant(formatter, zone, wallAsUtcMs(local));
}

/**
 * Resolves a wall time (as if UTC) to an instant. The offsets a day either side bracket every
 * transition that can affect it; each candidate is kept only if the zone really shows `wallMs`
 * at it.
 */
function wallToInstant(formatter: Intl.DateTimeFormat, zone: string, wallMs: number): number {
  const offsetBefore = offsetWith(formatter, wallMs - MS_PER_DAY);
  const offsetAfter = offsetWith(formatter, wallMs + MS_PER_DAY);
  const earlier = wallMs - Math.max(offsetBefore, offsetAfter);
  const later = wallMs - Math.min(offsetBefore, offsetAfter);
  if (wallMs - offsetWith(formatter, earlier) === earlier) {
    return earlier;
  }
  if (later !== earlier && wallMs - offsetWith(formatter, later) === later) {
    return later;
  }
  if (offsetBefore < offsetAfter) {
    return transitionInGap(formatter, zone, earlier, later);
  }
  throw new AppError("INTERNAL", `Cannot resolve a wall time in ${zone}`, {
    context: { zone, wallMs, offsetBefore, offsetAfter },
  });
}

/**
 * The transition instant of a gap, somewhere in (lowMs, highMs]: the offset at `lowMs` is the
 * one before the jump and the one at `highMs` the one after. When the gap starts exactly at the
 * wall time asked for (billing midnights in zones that spring forward at midnight) the answer is
 * `highMs` itself, checked with two lookups; otherwise a binary search over whole seconds
 * (tzdb transitions fall on whole seconds) finds it in about 20.
 */
function transitionInGap(
  formatter: Intl.DateTimeFormat,
  zone: string,
  lowMs: number,
  highMs: number,
): number {
  const offsetLow = offsetWith(formatter, lowMs);
  if (offsetWith(formatter, highMs) === offsetLow) {
    throw new AppError("INTERNAL", `No transition found in a gap of ${zone}`, {
      context: { zone, lowMs, highMs },
    });
  }
  if (offsetWith(formatter, highMs - 1) === offsetLow) {
    return highMs;
  }
  let low = floorDiv(lowMs, 1000);
  let high = Math.ceil(highMs / 1000);
  while (high - low > 1) {
    const middle = low + Math.floor((high - low) / 2);
    if (offsetWith(formatter, middle * 1000) === offsetLow) {
      low = middle;
    } else {
      high = middle;
    }
  }
  return high * 1000;
}

/** The instant of local midnight starting `dayNumber` (days since 1970-01-01) in a valid zone. */
export function midnightInstant(zone: string, dayNumber: number): number {
  return wallToInstant(requireFormatter(zone), zone, dayNumber * MS_PER_DAY);
}

/** The local calendar day number (days since 1970-01-01) of instant `ms` in a valid zone. */
export function localDayNumber(zone: string, ms: number): number {
  const wall = wallOf(requireFormatter(zone), ms);
  return dayNumberOf(wall);
}
