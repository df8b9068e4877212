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
const DAY_S = 86_400;

/** The day of month each period starts on, Jan..Dec, for the common year 2023 and leap 2024. */
const START_DAYS: Record<number, { 2023: number[]; 2024: number[] }> = {
  1: { 2023: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 2024: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1] },
  15: {
    2023: [15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15],
    2024: [15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15],
  },
  28: {
    2023: [28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28],
    2024: [28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28],
  },
  29: {
    2023: [29, 28, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29],
    2024: [29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29],
  },
  30: {
    2023: [30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
    2024: [30, 29, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
  },
  31: {
    2023: [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31],
    2024: [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31],
  },
};

function expectedStarts(anchorDay: number): string[] {
  const table = START_DAYS[anchorDay];
  if (table === undefined) {
    throw new Error(`no table for ${anchorDay}`);
  }
  const starts: string[] = [];
  for (const year of [2023, 2024] as const) {
    table[year].forEach((day, monthIndex) => {
      const mm = String(monthIndex + 1).padStart(2, "0");
      const dd = String(day).padStart(2, "0");
      starts.push(`${year}-${mm}-${dd}T00:00:00.000Z`);
    });
  }
  return starts;
}

describe("monthly periods in UTC through 2023 (common) and 2024 (leap)", () => {
  it.each([1, 15, 28, 29, 30, 31])("anchor day %i starts on the table's days", (anchorDay) => {
    const spec: IntervalSpec = { unit: "month", count: 1, anchorDay };
    const dd = String(anchorDay).padStart(2, "0");
    // From the first start in January 2023 to just after the last start in December 2024.
    const periods = periodsBetween(
      spec,
      "UTC",
      at(`2023-01-${dd}T00:00:00Z`),
      at(`2024-12-${dd}T00:00:00.001Z`),
    );
    expect(periods.map((p) => new Date(p.startMs).toISOString())).toEqual(
      expectedStarts(anchorDay),
    );
    for (let i = 1; i < periods.length; i += 1) {
      expect(periods[i]?.startMs).toBe(periods[i - 1]?.endMs);
    }
  });

  it.each([
    // [anchor, an instant inside, expected start, expected end, exact days]
    [31, "2023-02-15T12:00:00Z", "2023-01-31", "2023-02-28", 28],
    [31, "2023-03-01T00:00:00Z", "2023-02-28", "2023-03-31", 31],
    [31, "2024-02-15T12:00:00Z", "2024-01-31", "2024-02-29", 29],
    [31, "2024-03-30T23:59:59Z", "2024-02-29", "2024-03-31", 31],
    [31, "2024-04-30T00:00:00Z", "2024-04-30", "2024-05-31", 31],
    [30, "2023-03-01T00:00:00Z", "2023-02-28", "2023-03-30", 30],
    [30, "2024-02-29T00:00:00Z", "2024-02-29", "2024-03-30", 30],
    [29, "2023-02-28T00:00:00Z", "2023-02-28", "2023-03-29", 29],
    [29, "2023-02-27T23:59:59Z", "2023-01-29", "2023-02-28", 30],
    [29, "2024-02-28T23:59:59Z", "2024-01-29", "2024-02-29", 31],
    [28, "2024-02-29T00:00:00Z", "2024-02-28", "2024-03-28", 29],
    [15, "2024-02-20T00:00:00Z", "2024-02-15", "2024-03-15", 29],
    [1, "2024-02-29T23:59:59Z", "2024-02-01", "2024-03-01", 29],
    [1, "2023-12-31T23:59:59Z", "2023-12-01", "2024-01-01", 31],
  ])("anchor %i: %s lies in [%s, %s), %i days", (anchorDay, instant, start, end, days) => {
    const period = periodContaining({ unit: "month", count: 1, anchorDay }, "UTC", at(instant));
    expect(span(period)).toEqual([`${start}T00:00:00.000Z`, `${end}T00:00:00.000Z`]);
    expect(periodSeconds(period)).toBe(days * DAY_S);
  });
});

describe("monthly periods across DST changes have their exact length", () => {
  it.each([
    // Spring forward inside the period: one hour short.
    [
      "America/New_York",
      1,
      "2024-03-15T12:00:00Z",
      "2024-03-01T05:00:00.000Z",
      "2024-04-01T04:00:00.000Z",
      31 * DAY_S - 3600,
    ],
    // Fall back inside the period: one hour long.
    [
      "America/New_York",
      1,
      "2024-11-15T12:00:00Z",
      "2024-11-01T04:00:00.000Z",
      "2024-12-01T05:00:00.000Z",
      30 * DAY_S + 3600,
    ],
    [
      "America/New_York",
      15,
      "2024-03-01T00:00:00Z",
      "2024-02-15T05:00:00.000Z",
      "2024-03-15T04:00:00.000Z",
      29 * DAY_S - 3600,
    ],
    // No change inside: whole days even though both ends are in daylight time.
    [
      "America/New_York",
      15,
      "2024-04-01T00:00:00Z",
      "2024-03-15T04:00:00.000Z",
      "2024-04-15T04:00:00.000Z",
      31 * DAY_S,
    ],
    [
      "Europe/London",
      1,
      "2024-03-15T12:00:00Z",
      "2024-03-01T00:00:00.000Z",
      "2024-03-31T23:00:00.000Z",
      31 * DAY_S - 3600,
    ],
    [
      "Europe/London",
      1,
      "2024-10-15T12:00:00Z",
      "2024-09-30T23:00:00.000Z",
      "2024-11-01T00:00:00.000Z",
      31 * DAY_S + 3600,
    ],
    // Lord Howe shifts by 30 minutes.
    [
      "Australia/Lord_Howe",
      1,
      "2024-04-15T00:00:00Z",
      "2024-03-31T13:00:00.000Z",
      "2024-04-30T13:30:00.000Z",
      30 * DAY_S + 1800,
    ],
    [
      "Australia/Lord_Howe",
      1,
      "2024-10-15T00:00:00Z",
      "2024-09-30T13:30:00.000Z",
      "2024-10-31T13:00:00.000Z",
      31 * DAY_S - 1800,
    ],
    [
      "Pacific/Chatham",
      1,
      "2024-04-15T00:00:00Z",
      "2024-03-31T10:15:00.000Z",
      "2024-04-30T11:15:00.000Z",
      30 * DAY_S + 3600,
    ],
    [
      "Asia/Kolkata",
      1,
      "2024-02-15T00:00:00Z",
      "2024-01-31T18:30:00.000Z",
      "2024-02-29T18:30:00.000Z",
      29 * DAY_S,
    ],
    [
      "Pacific/Kiritimati",
      1,
      "2024-01-15T00:00:00Z",
      "2023-12-31T10:00:00.000Z",
      "2024-01-31T10:00:00.000Z",
      31 * DAY_S,
    ],
    // Santiago springs forward at midnight on 2024-09-08, so a period anchored on the 8th starts
    // at 01:00, the first instant of that local day.
    [
      "America/Santiago",
      8,
      "2024-09-20T00:00:00Z",
      "2024-09-08T04:00:00.000Z",
      "2024-10-08T03:00:00.000Z",
      30 * DAY_S - 3600,
    ],
    [
      "America/Santiago",
      8,
      "2024-09-01T00:00:00Z",
      "2024-08-08T04:00:00.000Z",
      "2024-09-08T04:00:00.000Z",
      31 * DAY_S,
    ],
  ])(
    "%s anchor %i: %s lies in [%s, %s) of %i s",
    (zone, anchorDay, instant, start, end, seconds) => {
      const period = periodContaining({ unit: "month", count: 1, anchorDay }, zone, at(instant));
      expect(span(period)).toEqual([start, end]);
      expect(periodSeconds(period)).toBe(seconds);
    },
  );
});

describe("multi-month periods", () => {
  it.each([
    [{ unit: "month", count: 3, anchorDay: 1 }, "2024-05-10T00:00:00Z", "2024-04-01", "2024-07-01"],
    [
      { unit: "month", count: 3, anchorDay: 1, anchorMonth: 2 },
      "2024-05-10T00:00:00Z",
      "2024-05-01",
      "2024-08-01",
    ],
    [
      { unit: "month", count: 3, anchorDay: 1, anchorMonth: 2 },
      "2024-04-30T23:59:59Z",
      "2024-02-01",
      "2024-05-01",
    ],
    [
      { unit: "month", count: 6, anchorDay: 31, anchorMonth: 8 },
      "2024-01-10T00:00:00Z",
      "2023-08-31",
      "2024-02-29",
    ],
    [
      { unit: "month", count: 6, anchorDay: 31, anchorMonth: 8 },
      "2024-03-01T00:00:00Z",
      "2024-02-29",
      "2024-08-31",
    ],
    [
      { unit: "month", count: 12, anchorDay: 15, anchorMonth: 7 },
      "2024-07-14T00:00:00Z",
      "2023-07-15",
      "2024-07-15",
    ],
    [
      { unit: "month", count: 2, anchorDay: 30 },
      "2023-02-28T00:00:00Z",
      "2023-01-30",
      "2023-03-30",
    ],
  ] as const)("%j: %s lies in [%s, %s)", (spec, instant, start, end) => {
    expect(span(periodContaining(spec, "UTC", at(instant)))).toEqual([
      `${start}T00:00:00.000Z`,
      `${end}T00:00:00.000Z`,
    ]);
  });
});
