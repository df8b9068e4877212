import { describe, expect, it } from "vitest";
import { AppError } from "../../../lib/errors/index.ts";
import type { IntervalSpec } from "../../../lib/periods/index.ts";
import { PeriodCalendar, parseIntervalSpec, periodContaining } from "../../../lib/periods/index.ts";

function thrown(run: () => unknown): AppError {
  try {
    run();
  } catch (error) {
    if (error instanceof AppError) {
      return error;
    }
    throw error;
  }
  throw new Error("expected an AppError");
}

describe("parseIntervalSpec accepts", () => {
  it.each([
    { unit: "month", count: 1, anchorDay: 1 },
    { unit: "month", count: 3, anchorDay: 31, anchorMonth: 2 },
    { unit: "month", count: 12, anchorDay: 29 },
    { unit: "year", anchorMonth: 2, anchorDay: 29 },
    { unit: "year", anchorMonth: 12, anchorDay: 31 },
    { unit: "day", count: 1, anchorDate: "2024-01-01" },
    { unit: "day", count: 366, anchorDate: "2024-02-29" },
    { unit: "week", count: 53, anchorDate: "1999-12-31" },
  ])("%j", (input) => {
    expect(parseIntervalSpec(input)).toEqual({ ok: true, spec: input });
  });
});

describe("parseIntervalSpec rejects with one field error per problem", () => {
  it.each([
    [null, [["", "invalid_type"]]],
    [[], [["", "invalid_type"]]],
    ["monthly", [["", "invalid_type"]]],
    [{}, [["/unit", "invalid_value"]]],
    [{ unit: "fortnight", count: 1 }, [["/unit", "invalid_value"]]],
    [
      { unit: "month" },
      [
        ["/count", "required"],
        ["/anchorDay", "required"],
      ],
    ],
    [{ unit: "month", count: 5, anchorDay: 1 }, [["/count", "invalid_value"]]],
    [{ unit: "month", count: 0, anchorDay: 1 }, [["/count", "out_of_range"]]],
    [{ unit: "month", count: 1, anchorDay: 32 }, [["/anchorDay", "out_of_range"]]],
    [{ unit: "month", count: 1, anchorDay: 0 }, [["/anchorDay", "out_of_range"]]],
    [
      { unit: "month", count: 1.5, anchorDay: "1" },
      [
        ["/count", "invalid_type"],
        ["/anchorDay", "invalid_type"],
      ],
    ],
    [
      { unit: "month", count: 1, anchorDay: 1, anchorMonth: 13 },
      [["/anchorMonth", "out_of_range"]],
    ],
    [
      { unit: "month", count: 1, anchorDay: 1, anchor_day: 1 },
      [["/anchor_day", "unrecognized_key"]],
    ],
    [
      { unit: "month", count: 1, anchorDay: 1, anchorDate: "2024-01-01" },
      [["/anchorDate", "unrecognized_key"]],
    ],
    [{ unit: "year", anchorMonth: 2, anchorDay: 30 }, [["/anchorDay", "out_of_range"]]],
    [{ unit: "year", anchorMonth: 4, anchorDay: 31 }, [["/anchorDay", "out_of_range"]]],
    [{ unit: "year", anchorMonth: 13, anchorDay: 1 }, [["/anchorMonth", "out_of_range"]]],
    [{ unit: "year", anchorMonth: 1, anchorDay: 1, count: 2 }, [["/count", "unrecognized_key"]]],
    [{ unit: "day", count: 0, anchorDate: "2024-01-01" }, [["/count", "out_of_range"]]],
    [{ unit: "day", count: 367, anchorDate: "2024-01-01" }, [["/count", "out_of_range"]]],
    [{ unit: "day", count: 1 }, [["/anchorDate", "required"]]],
    [{ unit: "day", count: 1, anchorDate: "2023-02-29" }, [["/anchorDate", "invalid_date"]]],
    [
      { unit: "day", count: 1, anchorDate: "2024-01-01T00:00:00Z" },
      [["/anchorDate", "invalid_date"]],
    ],
    [{ unit: "day", count: 1, anchorDate: 20240101 }, [["/anchorDate", "invalid_date"]]],
    [
      { unit: "week", count: 54, anchorDate: "2024-1-1" },
      [
        ["/count", "out_of_range"],
        ["/anchorDate", "invalid_date"],
      ],
    ],
  ])("%j", (input, expected) => {
    const result = parseIntervalSpec(input);
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.errors.map((e) => [e.field, e.code])).toEqual(expected);
  });

  it("prefixes field pointers and explains each problem", () => {
    const result = parseIntervalSpec(
      { unit: "year", anchorMonth: 2, anchorDay: 30 },
      "/plan/interval",
    );
    expect(result).toEqual({
      ok: false,
      errors: [
        { field: "/plan/interval/anchorDay", code: "out_of_range", detail: "must be from 1 to 29" },
      ],
    });
  });
});

describe("lookups reject bad specs, zones and instants with VALIDATION_FAILED", () => {
  const monthly: IntervalSpec = { unit: "month", count: 1, anchorDay: 1 };

  it("reports a bad spec and a bad zone together", () => {
    const error = thrown(
      () => new PeriodCalendar({ unit: "month", count: 7, anchorDay: 1 }, "Europe/Atlantis"),
    );
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(error.fieldErrors.map((e) => [e.field, e.code])).toEqual([
      ["/interval/count", "invalid_value"],
      ["/timeZone", "invalid_time_zone"],
    ]);
  });

  it.each(["", "+05:30", "Mars/Olympus_Mons", "UTC "])("rejects zone %j", (zone) => {
    const error = thrown(() => periodContaining(monthly, zone, 0));
    expect(error.fieldErrors.map((e) => [e.field, e.code])).toEqual([
      ["/timeZone", "invalid_time_zone"],
    ]);
  });

  it("rejects a zone that is not a string", () => {
    const error = thrown(() => new PeriodCalendar(monthly, 7 as unknown as string));
    expect(error.fieldErrors.map((e) => [e.field, e.code])).toEqual([
      ["/timeZone", "invalid_type"],
    ]);
  });

  it.each([
    1.5,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Date.parse("1799-12-31T23:59:59.999Z"),
    Date.parse("9000-01-01T00:00:00.000Z"),
  ])("rejects instant %d", (atMs) => {
    const error = thrown(() => periodContaining(monthly, "UTC", atMs));
    expect(error.fieldErrors.map((e) => [e.field, e.code])).toEqual([["/atMs", "out_of_range"]]);
  });

  it("rejects a range spanning more periods than one call may return", () => {
    const calendar = new PeriodCalendar({ unit: "day", count: 1, anchorDate: "2024-01-01" }, "UTC");
    const error = thrown(() =>
      calendar.between(Date.parse("1800-01-01T00:00:00Z"), Date.parse("8999-01-01T00:00:00Z")),
    );
    expect(error.fieldErrors.map((e) => [e.field, e.code])).toEqual([["/toMs", "too_big"]]);
  });
});
