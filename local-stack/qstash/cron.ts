/**
 * A small five-field cron matcher (minute hour day-of-month month day-of-week), evaluated in UTC,
 * for the QStash sandbox's schedules. Supports `*`, numbers, ranges `a-b`, steps `*\/n` `a-b/n`
 * `a/n`, lists, month and weekday names, `7` as Sunday, the `@hourly`-style macros and a leading
 * `CRON_TZ=UTC`. Day-of-month and day-of-week follow classic cron: when both are restricted
 * (neither starts with `*`), a day matches if either does.
 */

export interface CronSpec {
  source: string;
  minutes: ReadonlySet<number>;
  hours: ReadonlySet<number>;
  daysOfMonth: ReadonlySet<number>;
  months: ReadonlySet<number>;
  /** 0 = Sunday. */
  daysOfWeek: ReadonlySet<number>;
  dayOfMonthRestricted: boolean;
  dayOfWeekRestricted: boolean;
}

/** Thrown for an expression this matcher cannot read; the message says which part is wrong. */
export class CronSyntaxError extends Error {
  override name = "CronSyntaxError";
}

const MACROS: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

const MONTH_NAMES = [
  "JAN",
  "FEB",
  "MAR",
  "APR",
  "MAY",
  "JUN",
  "JUL",
  "AUG",
  "SEP",
  "OCT",
  "NOV",
  "DEC",
];
const DAY_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

interface FieldRule {
  name: string;
  min: number;
  max: number;
  names?: string[];
  /** Offset of names[0] (months start at 1). */
  namesStart?: number;
}

const FIELDS: FieldRule[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day-of-month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: MONTH_NAMES, namesStart: 1 },
  { name: "day-of-week", min: 0, max: 7, names: DAY_NAMES, namesStart: 0 },
];

function parseValue(text: string, rule: FieldRule): number {
  const upper = text.toUpperCase();
  const named = rule.names?.indexOf(upper) ?? -1;
  if (named >= 0) {
    return named + (rule.namesStart ?? 0);
  }
  if (!/^\d+$/.test(text)) {
    throw new CronSyntaxError(`${rule.name}: "${text}" is not a number`);
  }
  const value = Number(text);
  if (value < rule.min || value > rule.max) {
    throw new CronSyntaxError(`${rule.name}: ${value} is outside ${rule.min}-${rule.max}`);
  }
  return value;
}

function parseField(text: string, rule: FieldRule): Set<number> {
  const values = new Set<number>();
  for (const part of text.split(",")) {
    const [rangeText = "", stepText, extra] = part.split("/");
    if (extra !== undefined || rangeText === "") {
      throw new CronSyntaxError(`${rule.name}: cannot read "${part}"`);
    }
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) < 1) {
        throw new CronSyntaxError(`${rule.name}: step "${stepText}" must be a positive integer`);
      }
      step = Number(stepText);
    }
    let low: number;
    let high: number;
    if (rangeText === "*") {
      low = rule.min;
      high = rule.max;
    } else if (rangeText.includes("-")) {
      const [lowText = "", highText = ""] = rangeText.split("-");
      low = parseValue(lowText, rule);
      high = parseValue(highText, rule);
      if (low > high) {
        throw new CronSyntaxError(`${rule.name}: range "${rangeText}" runs backwards`);
      }
    } else {
      low = parseValue(rangeText, rule);
      // "a/n" means "from a to the end in steps of n"; a bare "a" is just a.
      high = stepText === undefined ? low : rule.max;
    }
    for (let value = low; value <= high; value += step) {
      values.add(value);
    }
  }
  return values;
}

/** Parses a cron expression; throws `CronSyntaxError` naming the offending field. */
export function parseCron(expression: string): CronSpec {
  let text = expression.trim();
  const zone = /^(?:CRON_TZ|TZ)=(\S+)\s+/.exec(text);
  if (zone) {
    if (zone[1] !== "UTC" && zone[1] !== "Etc/UTC") {
      throw new CronSyntaxError(`only UTC schedules are supported locally, not ${zone[1]}`);
    }
    text = text.slice(zone[0].length);
  }
  text = MACROS[text.toLowerCase()] ?? text;
  const parts = text.split(/\s+/);
  if (parts.length !== 5) {
    throw new CronSyntaxError(`expected 5 fields, got ${parts.length}: "${expression}"`);
  }
  const [minutes, hours, daysOfMonth, months, daysOfWeek] = parts.map((part, index) =>
    parseField(part, FIELDS[index] as FieldRule),
  ) as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  if (daysOfWeek.delete(7)) {
    daysOfWeek.add(0);
  }
  return {
    source: expression,
    minutes,
    hours,
    daysOfMonth,
    months,
    daysOfWeek,
    dayOfMonthRestricted: !(parts[2] ?? "").startsWith("*"),
    dayOfWeekRestricted: !(parts[4] ?? "").startsWith("*"),
  };
}

function dayMatches(spec: CronSpec, date: Date): boolean {
  const byMonthDay = spec.daysOfMonth.has(date.getUTCDate());
  const byWeekDay = spec.daysOfWeek.has(date.getUTCDay());
  if (spec.dayOfMonthRestricted && spec.dayOfWeekRestricted) {
    return byMonthDay || byWeekDay;
  }
  return byMonthDay && byWeekDay;
}

/** True when the minute containing `timeMs` (UTC) is one the expression fires on. */
export function cronMatches(spec: CronSpec, timeMs: number): boolean {
  const date = new Date(timeMs);
  return (
    spec.minutes.has(date.getUTCMinutes()) &&
    spec.hours.has(date.getUTCHours()) &&
    spec.months.has(date.getUTCMonth() + 1) &&
    dayMatches(spec, date)
  );
}

/** How far ahead to look before declaring an expression impossible (e.g. "0 0 30 2 *"). */
const SEARCH_YEARS = 8;

/**
 * The first minute strictly after `afterMs` (epoch ms) on which the expression fires, as epoch ms
 * at the start of that minute. Throws `CronSyntaxError` if it never fires within eight years.
 */
export function nextCronTimeMs(spec: CronSpec, afterMs: number): number {
  let t = Math.floor(afterMs / 60_000) * 60_000 + 60_000;
  const lastYear = new Date(t).getUTCFullYear() + SEARCH_YEARS;
  for (;;) {
    const date = new Date(t);
    const year = date.getUTCFullYear();
    if (year > lastYear) {
      throw new CronSyntaxError(`"${spec.source}" never fires`);
    }
    const month = date.getUTCMonth();
    const day = date.getUTCDate();
    const hour = date.getUTCHours();
    // Skip whole months, days and hours at a time so rare expressions stay cheap.
    if (!spec.months.has(month + 1)) {
      t = Date.UTC(year, month + 1, 1);
    } else if (!dayMatches(spec, date)) {
      t = Date.UTC(year, month, day + 1);
    } else if (!spec.hours.has(hour)) {
      t = Date.UTC(year, month, day, hour + 1);
    } else if (!spec.minutes.has(date.getUTCMinutes())) {
      t += 60_000;
    } else {
      return t;
    }
  }
}
