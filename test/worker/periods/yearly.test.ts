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
const FEB_29: IntervalSpec = { unit: "year", anchorMonth: 2, anchorDay: 29 };

describe("yearly periods anchored on February 29", () => {
  it("start on Feb 28 in common years and return to Feb 29 in leap years", () => {
    const periods = periodsBetween(
      FEB_29,
      "UTC",
      at("2023-03-01T00:00:00Z"),
      at("2028-03-01T00:00:00Z"),
    );
    expect(periods.map(span)).toEqual([
      ["2023-02-28T00:00:00.000Z", "2024-02-29T00:00:00.000Z"],
      ["2024-02-29T00:00:00.000Z", "2025-02-28T00:00:00.000Z"],
      ["2025-02-28T00:00:00.000Z", "2026-02-28T00:00:00.000Z"],
      ["2026-02-28T00:00:00.000Z", "2027-02-28T00:00:00.000Z"],
      ["2027-02-28T00:00:00.000Z", "2028-02-29T00:00:00.000Z"],
      ["2028-02-29T00:00:00.000Z", "2029-02-28T00:00:00.000Z"],
    ]);
    expect(periods.map(periodSeconds)).toEqual(
      [366, 365, 365, 365, 366, 365].map((d) => d * DAY_S),
    );
  });

  it("the leap day itself opens the leap-year period; the instant before is in the old one", () => {
    const leapDay = at("2024-02-29T00:00:00Z");
    expect(span(periodContaining(FEB_29, "UTC", leapDay))[0]).toBe("2024-02-29T00:00:00.000Z");
    expect(span(periodContaining(FEB_29, "UTC", leapDay - 1))[0]).toBe("2023-02-28T00:00:00.000Z");
  });

  it("follows local midnight in the account's zone", () => {
    expect(span(periodContaining(FEB_29, "Asia/Kolkata", at("2024-02-28T18:30:00Z")))).toEqual([
      "2024-02-28T18:30:00.000Z",
      "2025-02-27T18:30:00.000Z",
    ]);
    expect(span(periodContaining(FEB_29, "Asia/Kolkata", at("2024-02-28T18:29:59.999Z")))).toEqual([
      "2023-02-27T18:30:00.000Z",
      "2024-02-28T18:30:00.000Z",
    ]);
  });
});

describe("yearly periods on other anchors", () => {
  it.each([
    [1, 1, "UTC", "2024-06-01T00:00:00Z", "2024-01-01T00:00:00.000Z", "2025-01-01T00:00:00.000Z"],
    [
      4,
      1,
      "America/New_York",
      "2024-06-01T00:00:00Z",
      "2024-04-01T04:00:00.000Z",
      "2025-04-01T04:00:00.000Z",
    ],
    [
      12,
      31,
      "Pacific/Kiritimati",
      "2024-12-30T10:00:00Z",
      "2024-12-30T10:00:00.000Z",
      "2025-12-30T10:00:00.000Z",
    ],
    [
      12,
      31,
      "Pacific/Kiritimati",
      "2024-12-30T09:59:59.999Z",
      "2023-12-30T10:00:00.000Z",
      "2024-12-30T10:00:00.000Z",
    ],
  ])(
    "month %i day %i in %s: %s lies in [%s, %s)",
    (anchorMonth, anchorDay, zone, instant, start, end) => {
      const period = periodContaining({ unit: "year", anchorMonth, anchorDay }, zone, at(instant));
      expect(span(period)).toEqual([start, end]);
    },
  );
});
