import type { FieldError } from "../errors/index.ts";
import { AppError } from "../errors/index.ts";
import { MS_PER_DAY } from "./civil-date.ts";
import { type IntervalSpec, parseIntervalSpec } from "./interval-spec.ts";
import type { Period, PeriodSegment } from "./period.ts";
import { type PeriodRule, ruleFor } from "./period-rule.ts";
import {
  assertSupportedInstant,
  localDayNumber,
  MAX_SUPPORTED_MS,
  midnightInstant,
  timeZoneErrors,
} from "./zone.ts";

/** Recently returned periods kept for instant lookups; late events usually hit the last two. */
const RECENT_PERIODS = 4;
/** Period start instants kept per calendar; cleared wholesale when full (a rare, cheap refill). */
const MAX_CACHED_BOUNDARIES = 256;
/** Upper bound on periods returned by one `between` call: 270 years of days. */
export const MAX_PERIODS_PER_CALL = 100_000;

interface Entry {
  index: number;
  period: Period;
}

/**
 * The billing periods of one interval spec in one IANA zone, with the boundaries it has
 * computed kept in memory. The account meter keeps one per account: looking up an instant in
 * the same period as the previous lookup costs two comparisons; a new period costs one Intl
 * call plus the boundary resolutions it has not seen (about 3 Intl calls each).
 *
 * Every method follows the half-open rule: an instant exactly at a boundary belongs to the later
 * period. Not safe to share across accounts with different specs or zones, by construction.
 */
export class PeriodCalendar {
  readonly spec: IntervalSpec;
  readonly zone: string;
  readonly #rule: PeriodRule;
  readonly #startByIndex = new Map<number, number>();
  #recent: Entry[] = [];
  #last: Entry | undefined;

  /**
   * Validates `spec` (untrusted JSON is fine) and `zone`; throws VALIDATION_FAILED with field
   * errors under `/interval` and `/timeZone`.
   */
  constructor(spec: unknown, zone: string) {
    const parsed = parseIntervalSpec(spec, "/interval");
    const errors: FieldError[] = parsed.ok ? [] : [...parsed.errors];
    errors.push(...timeZoneErrors(zone, "/timeZone"));
    if (!parsed.ok || errors.length > 0) {
      throw new AppError("VALIDATION_FAILED", "Invalid billing calendar", {
        fieldErrors: errors,
        context: { zone },
      });
    }
    this.spec = parsed.spec;
    this.zone = zone;
    this.#rule = ruleFor(parsed.spec);
  }

  /**
   * The period with `startMs <= atMs < endMs`. Throws VALIDATION_FAILED if `atMs` is not an
   * integer instant between 1800 and 9000.
   */
  containing(atMs: number): Period {
    const last = this.#last;
    if (last !== undefined && atMs >= last.period.startMs && atMs < last.period.endMs) {
      return last.period;
    }
    for (const entry of this.#recent) {
      if (atMs >= entry.period.startMs && atMs < entry.period.endMs) {
        this.#last = entry;
        return entry.period;
      }
    }
    assertSupportedInstant(atMs, "/atMs");
    return this.#locate(atMs, this.#rule.indexOfDay(localDayNumber(this.zone, atMs))).period;
  }

  /** The period starting at `period.endMs`; `period` must come from this calendar. */
  next(period: Period): Period {
    const known = this.#entryStartingAt(period.startMs);
    if (known !== undefined) {
      return this.#locate(period.endMs, known.index + 1).period;
    }
    return this.containing(period.endMs);
  }

  /** The period ending at `period.startMs`; `period` must come from this calendar. */
  previous(period: Period): Period {
    const known = this.#entryStartingAt(period.startMs);
    if (known !== undefined) {
      return this.#locate(period.startMs - 1, known.index - 1).period;
    }
    return this.containing(period.startMs - 1);
  }

  /**
   * Every period meeting `[fromMs, toMs)`, in order; the first contains `fromMs`, the last
   * contains `toMs - 1`. Empty when `toMs <= fromMs`. Throws VALIDATION_FAILED for instants
   * out of range or ranges spanning more than MAX_PERIODS_PER_CALL periods.
   */
  between(fromMs: number, toMs: number): Period[] {
    if (!this.#checkRange(fromMs, toMs)) {
      return [];
    }
    const periods = [this.containing(fromMs)];
    let current = periods[0] as Period;
    while (current.endMs < toMs) {
      if (periods.length >= MAX_PERIODS_PER_CALL) {
        throw tooManyPeriods(fromMs, toMs);
      }
      current = this.next(current);
      periods.push(current);
    }
    return periods;
  }

  /**
   * `[fromMs, toMs)` cut exactly at period boundaries: consecutive segments, each inside one
   * period, that together cover the range with no gap or overlap. Empty when `toMs <= fromMs`.
   * Same failure modes as `between`.
   */
  split(fromMs: number, toMs: number): PeriodSegment[] {
    if (!this.#checkRange(fromMs, toMs)) {
      return [];
    }
    const segments: PeriodSegment[] = [];
    let period = this.containing(fromMs);
    let cursor = fromMs;
    for (;;) {
      const segmentEnd = Math.min(period.endMs, toMs);
      segments.push(Object.freeze({ fromMs: cursor, toMs: segmentEnd, period }));
      if (segmentEnd >= toMs) {
        return segments;
      }
      if (segments.length >= MAX_PERIODS_PER_CALL) {
        throw tooManyPeriods(fromMs, toMs);
      }
      cursor = segmentEnd;
      period = this.next(period);
    }
  }

  #checkRange(fromMs: number, toMs: number): boolean {
    assertSupportedInstant(fromMs, "/fromMs");
    // `toMs` is exclusive, so the end of the supported range itself is allowed.
    if (toMs !== MAX_SUPPORTED_MS) {
      assertSupportedInstant(toMs, "/toMs");
    }
    // Fail before computing anything when even the longest periods could not cover the range.
    // A day of slack per period absorbs DST changes (at most a few hours per period).
    const longestPeriodMs = (this.#rule.maxLengthDays + 1) * MS_PER_DAY;
    if ((toMs - fromMs) / longestPeriodMs > MAX_PERIODS_PER_CALL) {
      throw tooManyPeriods(fromMs, toMs);
    }
    return toMs > fromMs;
  }

  #entryStartingAt(startMs: number): Entry | undefined {
    if (this.#last?.period.startMs === startMs) {
      return this.#last;
    }
    return this.#recent.find((entry) => entry.period.startMs === startMs);
  }

  /**
   * Finds the period containing `atMs`, starting from a guessed index and stepping over
   * neighbours (the guess from the local date is off by one only when a DST change moves a
   * boundary across midnight, and an empty period arises only if a zone skips a whole day,
   * as Pacific/Apia did on 2011-12-30).
   */
  #locate(atMs: number, guess: number): Entry {
    let index = guess;
    let start = this.#startOf(index);
    while (atMs < start) {
      index -= 1;
      start = this.#startOf(index);
    }
    let end = this.#startOf(index + 1);
    while (atMs >= end) {
      index += 1;
      start = end;
      end = this.#startOf(index + 1);
    }
    return this.#remember(index, start, end);
  }

  #remember(index: number, startMs: number, endMs: number): Entry {
    let entry = this.#recent.find((candidate) => candidate.index === index);
    if (entry === undefined) {
      entry = { index, period: Object.freeze({ startMs, endMs }) };
      this.#recent.unshift(entry);
      if (this.#recent.length > RECENT_PERIODS) {
        this.#recent.pop();
      }
    }
    this.#last = entry;
    return entry;
  }

  /** Start instant of period `index`: local midnight of its start day, resolved once. */
  #startOf(index: number): number {
    const cached = this.#startByIndex.get(index);
    if (cached !== undefined) {
      return cached;
    }
    const startMs = midnightInstant(this.zone, this.#rule.startDayOf(index));
    if (this.#startByIndex.size >= MAX_CACHED_BOUNDARIES) {
      this.#startByIndex.clear();
    }
    this.#startByIndex.set(index, startMs);
    return startMs;
  }
}

function tooManyPeriods(fromMs: number, toMs: number): AppError {
  return new AppError("VALIDATION_FAILED", "Range spans too many periods", {
    fieldErrors: [
      {
        field: "/toMs",
        code: "too_big",
        detail: `the range may span at most ${MAX_PERIODS_PER_CALL} periods`,
      },
    ],
    context: { fromMs, toMs },
  });
}
