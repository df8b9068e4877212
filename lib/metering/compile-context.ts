import type { AccountConfig, PricingWindow } from "../catalogue/account-config.ts";
import type { MeterDefinition } from "../catalogue/meter.ts";
import { Decimal } from "../money/decimal.ts";
import { formatIsoDate, instantToLocal, PeriodCalendar } from "../periods/index.ts";
import { rateIncrement, ratePerEvent } from "../pricing/rate.ts";
import type { Price } from "../pricing/types.ts";
import { compilePrice } from "../pricing/validate.ts";
import type { CompiledPrice, DaySpan, MeterContext, Segment, Span } from "./meter-context.ts";
import { UNPRICED_SEGMENT } from "./meter-context.ts";

/** Local days, for the ledger's day rollups: one-day periods anchored anywhere. */
const DAILY = { unit: "day", count: 1, anchorDate: "2000-01-01" } as const;

function compile(price: Price): CompiledPrice {
  if (price.model === "percentage") {
    return {
      perEvent: true,
      rateIncrement: () => Decimal.ZERO,
      ratePerEvent: (value) => ratePerEvent(price, value),
    };
  }
  return {
    perEvent: false,
    rateIncrement: (before, after) => rateIncrement(price, before, after),
    ratePerEvent: () => Decimal.ZERO,
  };
}

function segmentOf(window: PricingWindow): Segment {
  const prices = new Map<string, CompiledPrice>();
  for (const [meterKey, spec] of Object.entries(window.prices)) {
    prices.set(meterKey, compile(compilePrice(spec)));
  }
  return {
    id: window.planVersionId,
    planId: window.planId,
    fromMs: window.fromMs,
    toMs: window.toMs,
    currency: window.currency,
    priceFor: (meterKey) => prices.get(meterKey) ?? null,
  };
}

/**
 * Compiles an account's configuration for the ingestion hot path: calendars with cached
 * boundaries, meters by key, and pricing segments (one per plan-version window, with the gaps
 * between windows unpriced) with every price compiled once. Throws VALIDATION_FAILED when a
 * stored price or calendar is invalid, which would be a catalogue bug.
 */
export function compileMeterContext(
  config: AccountConfig,
  lateArrivalWindowDays: number,
): MeterContext {
  const periods = new PeriodCalendar(config.billingInterval, config.timeZone);
  const days = new PeriodCalendar(DAILY, config.timeZone);
  const meters = new Map<string, MeterDefinition>(config.meters.map((meter) => [meter.key, meter]));

  const segments: Segment[] = [];
  let cursor = Number.NEGATIVE_INFINITY;
  for (const window of config.pricing) {
    if (window.fromMs > cursor) {
      segments.push({
        id: UNPRICED_SEGMENT,
        planId: null,
        fromMs: cursor,
        toMs: window.fromMs,
        currency: config.currency,
        priceFor: () => null,
      });
    }
    segments.push(segmentOf(window));
    cursor = window.toMs ?? Number.POSITIVE_INFINITY;
  }
  if (cursor !== Number.POSITIVE_INFINITY) {
    segments.push({
      id: UNPRICED_SEGMENT,
      planId: null,
      fromMs: cursor,
      toMs: null,
      currency: config.currency,
      priceFor: () => null,
    });
  }

  let lastSegment = segments[0] as Segment;
  function segmentAt(ms: number): Segment {
    if (ms >= lastSegment.fromMs && (lastSegment.toMs === null || ms < lastSegment.toMs)) {
      return lastSegment;
    }
    for (const segment of segments) {
      if (ms >= segment.fromMs && (segment.toMs === null || ms < segment.toMs)) {
        lastSegment = segment;
        return segment;
      }
    }
    return lastSegment;
  }

  let lastDay: DaySpan | undefined;
  function dayContaining(ms: number): DaySpan {
    if (lastDay && ms >= lastDay.startMs && ms < lastDay.endMs) {
      return lastDay;
    }
    const period = days.containing(ms);
    lastDay = {
      startMs: period.startMs,
      endMs: period.endMs,
      key: formatIsoDate(instantToLocal(config.timeZone, period.startMs)),
    };
    return lastDay;
  }

  return {
    config,
    meters,
    periodContaining: (ms): Span => periods.containing(ms),
    dayContaining,
    segmentAt,
    lateArrivalWindowMs: lateArrivalWindowDays * 86_400_000,
  };
}
