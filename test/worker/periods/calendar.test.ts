import { describe, expect, it } from "vitest";
import {
  type IntervalSpec,
  nextPeriod,
  overlapMs,
  overlapSeconds,
  type Period,
  PeriodCalendar,
  periodContaining,
  periodKey,
  periodSeconds,
  previousPeriod,
  secondsBetween,
  splitAtBoundaries,
} from "../../../lib/periods/index.ts";

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();
const span = (period: Period) => [iso(period.startMs), iso(period.endMs)];

const MONTHLY: IntervalSpec = { unit: "month", count: 1, anchorDay: 1 };
const DAILY: IntervalSpec = { unit: "day", count: 1, anchorDate: "2024-01-01" };

describe("boundaries", () => {
  it.each([
    [MONTHLY, "America/New_York", "2024-03-01T05:00:00Z"],
    [MONTHLY, "Europe/London", "2024-03-31T23:00:00Z"],
    [DAILY, "America/Santiago", "2024-09-08T04:00:00Z"],
    [DAILY, "America/Havana", "2024-11-03T04:00:00Z"],
    [DAILY, "Australia/Lord_Howe", "2024-04-07T13:30:00Z"],
    [{ unit: "year", anchorMonth: 2, anchorDay: 29 }, "Pacific/Chatham", "2024-02-28T10:15:00Z"],
  ] as const)("%j in %s: the instant %s opens the later period", (spec, zone, boundary) => {
    const boundaryMs = at(boundary);
    const later = periodContaining(spec, zone, boundaryMs);
    const earlier = periodContaining(spec, zone, boundaryMs - 1);
    expect(later.startMs).toBe(boundaryMs);
    expect(earlier.endMs).toBe(boundaryMs);
    expect(nextPeriod(spec, zone, earlier)).toEqual(later);
    expect(previousPeriod(spec, zone, later)).toEqual(earlier);
  });

  it("next and previous walk a year of New York months and return to the start", () => {
    const calendar = new PeriodCalendar(MONTHLY, "America/New_York");
    const first = calendar.containing(at("2024-01-15T00:00:00Z"));
    const months = [first];
    for (let i = 0; i < 12; i += 1) {
      months.push(calendar.next(months[months.length - 1] as Period));
    }
    expect(months.map((p) => iso(p.startMs))).toEqual([
      "2024-01-01T05:00:00.000Z",
      "2024-02-01T05:00:00.000Z",
      "2024-03-01T05:00:00.000Z",
      "2024-04-01T04:00:00.000Z",
      "2024-05-01T04:00:00.000Z",
      "2024-06-01T04:00:00.000Z",
      "2024-07-01T04:00:00.000Z",
      "2024-08-01T04:00:00.000Z",
      "2024-09-01T04:00:00.000Z",
      "2024-10-01T04:00:00.000Z",
      "2024-11-01T04:00:00.000Z",
      "2024-12-01T05:00:00.000Z",
      "2025-01-01T05:00:00.000Z",
    ]);
    let back = months[12] as Period;
    for (let i = 0; i < 12; i += 1) {
      back = calendar.previous(back);
    }
    expect(back).toEqual(first);
    expect(calendar.next(calendar.previous(first))).toEqual(first);
    expect(calendar.previous(calendar.next(first))).toEqual(first);
  });

  it("a fresh calendar answers next/previous for a period it did not compute", () => {
    const period = { startMs: at("2024-03-10T05:00:00Z"), endMs: at("2024-03-11T04:00:00Z") };
    const calendar = new PeriodCalendar(DAILY, "America/New_York");
    expect(span(calendar.next(period))).toEqual([
      "2024-03-11T04:00:00.000Z",
      "2024-03-12T04:00:00.000Z",
    ]);
    expect(span(calendar.previous(period))).toEqual([
      "2024-03-09T05:00:00.000Z",
      "2024-03-10T05:00:00.000Z",
    ]);
  });
});

describe("PeriodCalendar caching", () => {
  it("returns the same frozen period object for instants in the same period", () => {
    const calendar = new PeriodCalendar(MONTHLY, "Europe/London");
    const a = calendar.containing(at("2024-03-02T00:00:00Z"));
    const b = calendar.containing(at("2024-03-30T00:00:00Z"));
    expect(b).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
  });

  it("keeps recent periods, so late events from the previous period are also cheap", () => {
    const calendar = new PeriodCalendar(DAILY, "UTC");
    const monday = calendar.containing(at("2024-01-01T12:00:00Z"));
    const tuesday = calendar.containing(at("2024-01-02T12:00:00Z"));
    expect(calendar.containing(at("2024-01-01T23:59:59.999Z"))).toBe(monday);
    expect(calendar.containing(at("2024-01-02T00:00:00Z"))).toBe(tuesday);
    expect(calendar.next(monday)).toBe(tuesday);
  });

  it("agrees with uncached lookups over a month of hourly instants in Santiago", () => {
    const calendar = new PeriodCalendar(DAILY, "America/Santiago");
    const from = at("2024-08-25T00:00:00Z");
    for (let hour = 0; hour < 31 * 24; hour += 1) {
      const atMs = from + hour * 3_600_000;
      expect(calendar.containing(atMs)).toEqual(periodContaining(DAILY, "America/Santiago", atMs));
    }
  });
});

describe("periodKey and periodSeconds", () => {
  it("names a period by its start instant in ISO-8601 UTC", () => {
    const march = periodContaining(MONTHLY, "America/New_York", at("2024-03-15T00:00:00Z"));
    expect(periodKey(march)).toBe("2024-03-01T05:00:00.000Z");
    expect(periodSeconds(march)).toBe(2_674_800);
  });
});

describe("splitAtBoundaries", () => {
  it("cuts a range at local midnights, with the 23-hour day exact", () => {
    // 2024-03-09 12:00 EST to 2024-03-11 06:00 EDT.
    const segments = splitAtBoundaries(
      DAILY,
      "America/New_York",
      at("2024-03-09T17:00:00Z"),
      at("2024-03-11T10:00:00Z"),
    );
    expect(
      segments.map((s) => [iso(s.fromMs), iso(s.toMs), secondsBetween(s.fromMs, s.toMs)]),
    ).toEqual([
      ["2024-03-09T17:00:00.000Z", "2024-03-10T05:00:00.000Z", 43_200],
      ["2024-03-10T05:00:00.000Z", "2024-03-11T04:00:00.000Z", 82_800],
      ["2024-03-11T04:00:00.000Z", "2024-03-11T10:00:00.000Z", 21_600],
    ]);
    expect(segments.map((s) => iso(s.period.startMs))).toEqual([
      "2024-03-09T05:00:00.000Z",
      "2024-03-10T05:00:00.000Z",
      "2024-03-11T04:00:00.000Z",
    ]);
  });

  it("lets a time-weighted meter integrate a level per period", () => {
    // Three GB stored from 2024-10-26 12:00 BST to 2024-10-28 12:00 GMT, billed per London day.
    const levelGb = 3;
    const segments = splitAtBoundaries(
      DAILY,
      "Europe/London",
      at("2024-10-26T11:00:00Z"),
      at("2024-10-28T12:00:00Z"),
    );
    expect(
      segments.map((s) => [periodKey(s.period), levelGb * secondsBetween(s.fromMs, s.toMs)]),
    ).toEqual([
      ["2024-10-25T23:00:00.000Z", 3 * 43_200],
      ["2024-10-26T23:00:00.000Z", 3 * 90_000],
      ["2024-10-28T00:00:00.000Z", 3 * 43_200],
    ]);
  });

  it("returns one segment for a range inside one period, and none for an empty range", () => {
    const from = at("2024-03-05T00:00:00Z");
    expect(
      splitAtBoundaries(MONTHLY, "UTC", from, from + 1000).map((s) => s.toMs - s.fromMs),
    ).toEqual([1000]);
    expect(splitAtBoundaries(MONTHLY, "UTC", from, from)).toEqual([]);
    expect(splitAtBoundaries(MONTHLY, "UTC", from, from - 1)).toEqual([]);
  });
});

describe("overlapSeconds for proration", () => {
  const march = { startMs: at("2024-03-01T05:00:00Z"), endMs: at("2024-04-01T04:00:00Z") };
  const change = at("2024-03-20T16:00:00Z"); // 12:00 EDT, after the spring-forward change

  it("splits a New York March with a plan change into exact seconds that add up", () => {
    const before = overlapSeconds(march, at("2024-02-10T00:00:00Z"), change);
    const after = overlapSeconds(march, change, at("2024-05-01T00:00:00Z"));
    expect([before, after]).toEqual([1_681_200, 993_600]);
    expect(before + after).toBe(periodSeconds(march));
  });

  it("is zero for ranges that do not meet the period and clips ranges that stick out", () => {
    expect(overlapSeconds(march, at("2024-01-01T00:00:00Z"), march.startMs)).toBe(0);
    expect(overlapSeconds(march, march.endMs, at("2024-05-01T00:00:00Z"))).toBe(0);
    expect(overlapSeconds(march, march.endMs - 1000, march.endMs + 1000)).toBe(1);
    expect(overlapMs(march, march.startMs - 5, march.startMs + 5)).toBe(5);
  });
});
