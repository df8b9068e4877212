import { describe, expect, it } from "vitest";
import {
  type IntervalSpec,
  type Period,
  periodContaining,
  periodSeconds,
  periodsBetween,
} from "../../../lib/periods/index.ts";

const at = (iso: string) => Date.parse(iso);
const span = (period: Period) => [
  new Date(period.startMs).toISOString(),
  new Date(period.endMs).toISOString(),
];
const DAILY: IntervalSpec = { unit: "day", count: 1, anchorDate: "2024-01-01" };

describe("daily periods are local calendar days", () => {
  it.each([
    // [zone, instant inside, start, end, seconds]
    ["UTC", "2024-02-29T12:00:00Z", "2024-02-29T00:00:00.000Z", "2024-03-01T00:00:00.000Z", 86_400],
    [
      "America/New_York",
      "2024-03-09T12:00:00Z",
      "2024-03-09T05:00:00.000Z",
      "2024-03-10T05:00:00.000Z",
      86_400,
    ],
    [
      "America/New_York",
      "2024-03-10T12:00:00Z",
      "2024-03-10T05:00:00.000Z",
      "2024-03-11T04:00:00.000Z",
      82_800,
    ],
    [
      "America/New_York",
      "2024-11-03T12:00:00Z",
      "2024-11-03T04:00:00.000Z",
      "2024-11-04T05:00:00.000Z",
      90_000,
    ],
    [
      "Europe/London",
      "2024-03-31T12:00:00Z",
      "2024-03-31T00:00:00.000Z",
      "2024-03-31T23:00:00.000Z",
      82_800,
    ],
    [
      "Europe/London",
      "2024-10-27T12:00:00Z",
      "2024-10-26T23:00:00.000Z",
      "2024-10-28T00:00:00.000Z",
      90_000,
    ],
    // Lord Howe moves its clocks by half an hour.
    [
      "Australia/Lord_Howe",
      "2024-04-07T00:00:00Z",
      "2024-04-06T13:00:00.000Z",
      "2024-04-07T13:30:00.000Z",
      88_200,
    ],
    [
      "Australia/Lord_Howe",
      "2024-10-06T00:00:00Z",
      "2024-10-05T13:30:00.000Z",
      "2024-10-06T13:00:00.000Z",
      84_600,
    ],
    // Santiago springs forward at local midnight: 2024-09-08 starts at 01:00 -03, the first
    // instant of that day, and falls back at midnight: 2024-04-06 ends at 00:00 -04.
    [
      "America/Santiago",
      "2024-09-07T12:00:00Z",
      "2024-09-07T04:00:00.000Z",
      "2024-09-08T04:00:00.000Z",
      86_400,
    ],
    [
      "America/Santiago",
      "2024-09-08T12:00:00Z",
      "2024-09-08T04:00:00.000Z",
      "2024-09-09T03:00:00.000Z",
      82_800,
    ],
    [
      "America/Santiago",
      "2024-04-06T12:00:00Z",
      "2024-04-06T03:00:00.000Z",
      "2024-04-07T04:00:00.000Z",
      90_000,
    ],
    [
      "America/Santiago",
      "2024-04-07T12:00:00Z",
      "2024-04-07T04:00:00.000Z",
      "2024-04-08T04:00:00.000Z",
      86_400,
    ],
    // Havana springs forward at midnight (2024-03-10 starts at 01:00 CDT) and falls back at
    // 01:00 CDT, so midnight of 2024-11-03 happens twice: the day starts at the earlier one.
    [
      "America/Havana",
      "2024-03-09T12:00:00Z",
      "2024-03-09T05:00:00.000Z",
      "2024-03-10T05:00:00.000Z",
      86_400,
    ],
    [
      "America/Havana",
      "2024-03-10T12:00:00Z",
      "2024-03-10T05:00:00.000Z",
      "2024-03-11T04:00:00.000Z",
      82_800,
    ],
    [
      "America/Havana",
      "2024-11-02T12:00:00Z",
      "2024-11-02T04:00:00.000Z",
      "2024-11-03T04:00:00.000Z",
      86_400,
    ],
    [
      "America/Havana",
      "2024-11-03T12:00:00Z",
      "2024-11-03T04:00:00.000Z",
      "2024-11-04T05:00:00.000Z",
      90_000,
    ],
    [
      "America/Havana",
      "2024-11-03T04:30:00Z",
      "2024-11-03T04:00:00.000Z",
      "2024-11-04T05:00:00.000Z",
      90_000,
    ],
    [
      "America/Havana",
      "2024-11-03T05:30:00Z",
      "2024-11-03T04:00:00.000Z",
      "2024-11-04T05:00:00.000Z",
      90_000,
    ],
    [
      "Asia/Kolkata",
      "2024-01-15T12:00:00Z",
      "2024-01-14T18:30:00.000Z",
      "2024-01-15T18:30:00.000Z",
      86_400,
    ],
    [
      "Pacific/Chatham",
      "2024-04-07T00:00:00Z",
      "2024-04-06T10:15:00.000Z",
      "2024-04-07T11:15:00.000Z",
      90_000,
    ],
    [
      "Pacific/Chatham",
      "2024-09-29T00:00:00Z",
      "2024-09-28T11:15:00.000Z",
      "2024-09-29T10:15:00.000Z",
      82_800,
    ],
    [
      "Pacific/Kiritimati",
      "2024-01-01T00:00:00Z",
      "2023-12-31T10:00:00.000Z",
      "2024-01-01T10:00:00.000Z",
      86_400,
    ],
  ])("%s: %s lies in [%s, %s) of %i s", (zone, instant, start, end, seconds) => {
    const period = periodContaining(DAILY, zone, at(instant));
    expect(span(period)).toEqual([start, end]);
    expect(periodSeconds(period)).toBe(seconds);
  });

  it("a local day that never happened (Samoa, 2011-12-30) is skipped, not returned empty", () => {
    const days = periodsBetween(
      DAILY,
      "Pacific/Apia",
      at("2011-12-29T10:00:00Z"),
      at("2011-12-31T10:00:00Z"),
    );
    expect(days.map(span)).toEqual([
      ["2011-12-29T10:00:00.000Z", "2011-12-30T10:00:00.000Z"],
      ["2011-12-30T10:00:00.000Z", "2011-12-31T10:00:00.000Z"],
    ]);
  });

  it("a DST week in New York tiles exactly, with one short day", () => {
    const days = periodsBetween(
      DAILY,
      "America/New_York",
      at("2024-03-08T05:00:00Z"),
      at("2024-03-12T04:00:00Z"),
    );
    expect(days.map(span)).toEqual([
      ["2024-03-08T05:00:00.000Z", "2024-03-09T05:00:00.000Z"],
      ["2024-03-09T05:00:00.000Z", "2024-03-10T05:00:00.000Z"],
      ["2024-03-10T05:00:00.000Z", "2024-03-11T04:00:00.000Z"],
      ["2024-03-11T04:00:00.000Z", "2024-03-12T04:00:00.000Z"],
    ]);
  });
});

describe("N-day and weekly periods", () => {
  it.each([
    // Three local days spanning the spring-forward night: 71 hours.
    [
      { unit: "day", count: 3, anchorDate: "2024-03-09" },
      "America/New_York",
      "2024-03-10T16:00:00Z",
      "2024-03-09T05:00:00.000Z",
      "2024-03-12T04:00:00.000Z",
      255_600,
    ],
    // The anchor only sets the phase: any start of the same cycle, past or future, is equivalent.
    [
      { unit: "day", count: 3, anchorDate: "2024-03-12" },
      "America/New_York",
      "2024-03-10T16:00:00Z",
      "2024-03-09T05:00:00.000Z",
      "2024-03-12T04:00:00.000Z",
      255_600,
    ],
    [
      { unit: "day", count: 3, anchorDate: "2031-01-05" },
      "America/New_York",
      "2024-03-10T16:00:00Z",
      "2024-03-09T05:00:00.000Z",
      "2024-03-12T04:00:00.000Z",
      255_600,
    ],
    [
      { unit: "day", count: 3, anchorDate: "2024-03-10" },
      "America/New_York",
      "2024-03-10T16:00:00Z",
      "2024-03-10T05:00:00.000Z",
      "2024-03-13T04:00:00.000Z",
      255_600,
    ],
    // Feb 29 is 59 days after Jan 1, an odd number, so it is the second day of its pair.
    [
      { unit: "day", count: 2, anchorDate: "2024-01-01" },
      "UTC",
      "2024-02-29T12:00:00Z",
      "2024-02-28T00:00:00.000Z",
      "2024-03-01T00:00:00.000Z",
      172_800,
    ],
    // Weeks starting Monday 2024-01-01; the week of 2024-03-25 loses an hour in London.
    [
      { unit: "week", count: 1, anchorDate: "2024-01-01" },
      "Europe/London",
      "2024-03-31T12:00:00Z",
      "2024-03-25T00:00:00.000Z",
      "2024-03-31T23:00:00.000Z",
      601_200,
    ],
    [
      { unit: "week", count: 2, anchorDate: "2024-01-01" },
      "UTC",
      "2024-01-20T00:00:00Z",
      "2024-01-15T00:00:00.000Z",
      "2024-01-29T00:00:00.000Z",
      1_209_600,
    ],
    [
      { unit: "day", count: 1, anchorDate: "2024-01-01" },
      "UTC",
      "1969-12-31T23:59:59.999Z",
      "1969-12-31T00:00:00.000Z",
      "1970-01-01T00:00:00.000Z",
      86_400,
    ],
  ] as const)(
    "%j in %s: %s lies in [%s, %s) of %i s",
    (spec, zone, instant, start, end, seconds) => {
      const period = periodContaining(spec, zone, at(instant));
      expect(span(period)).toEqual([start, end]);
      expect(periodSeconds(period)).toBe(seconds);
    },
  );
});
