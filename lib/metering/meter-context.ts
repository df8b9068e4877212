import type { AccountConfig } from "../catalogue/account-config.ts";
import type { MeterDefinition } from "../catalogue/meter.ts";
import type { Decimal } from "../money/decimal.ts";

/** A half-open span of time `[startMs, endMs)`. */
export interface Span {
  startMs: number;
  endMs: number;
}

/** A local calendar day in the account's zone, with its key `YYYY-MM-DD`. */
export interface DaySpan extends Span {
  key: string;
}

/** A price compiled once for the hot path. */
export interface CompiledPrice {
  /** True for take-rate prices, rated per event rather than on the period total. */
  readonly perEvent: boolean;
  /** rate(after) − rate(before), exact; may be negative. */
  rateIncrement(before: Decimal, after: Decimal): Decimal;
  /** The fee for one event of `value` (per-event prices only). */
  ratePerEvent(value: Decimal): Decimal;
}

/**
 * A pricing segment: the stretch of time one plan version prices, or the unpriced stretch
 * before the account's first plan. `id` is the plan version id or "unpriced".
 */
export interface Segment {
  id: string;
  planId: string | null;
  fromMs: number;
  /** Exclusive end, or null when open-ended. */
  toMs: number | null;
  currency: string;
  priceFor(meterKey: string): CompiledPrice | null;
}

/**
 * The account configuration compiled for ingestion: meter lookups, calendars and pricing
 * segments with compiled prices. Built once per configuration revision and kept in memory.
 */
export interface MeterContext {
  config: AccountConfig;
  meters: ReadonlyMap<string, MeterDefinition>;
  periodContaining(ms: number): Span;
  dayContaining(ms: number): DaySpan;
  segmentAt(ms: number): Segment;
  lateArrivalWindowMs: number;
}

export const UNPRICED_SEGMENT = "unpriced";
