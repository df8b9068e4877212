import { describe, expect, it } from "vitest";
import { AppError } from "../../../lib/errors/index.ts";
import {
  instantToLocal,
  isValidTimeZone,
  type LocalDateTime,
  localToInstant,
  zoneOffsetMs,
} from "../../../lib/periods/index.ts";

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

function wall(text: string): LocalDateTime {
  const match = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d)(?::(\d\d))?(?:\.(\d{3}))?$/.exec(text);
  if (match === null) {
    throw new Error(`bad wall time in test table: ${text}`);
  }
  const [, year, month, day, hour, minute, second, millisecond] = match.map(Number);
  return {
    year: year as number,
    month: month as number,
    day: day as number,
    hour: hour as number,
    minute: minute as number,
    second: Number.isNaN(second) ? 0 : (second as number),
    millisecond: Number.isNaN(millisecond) ? 0 : (millisecond as number),
  };
}

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

describe("localToInstant", () => {
  it.each([
    // Ordinary wall times
    ["UTC", "2024-02-29 00:00", "2024-02-29T00:00:00.000Z"],
    ["America/New_York", "2024-01-15 09:30", "2024-01-15T14:30:00.000Z"],
    ["America/New_York", "2024-06-01 12:00:00.250", "2024-06-01T16:00:00.250Z"],
    ["Europe/London", "2024-07-01 00:00", "2024-06-30T23:00:00.000Z"],
    ["Asia/Kolkata", "2024-01-01 00:00", "2023-12-31T18:30:00.000Z"],
    ["Pacific/Chatham", "2024-01-01 00:00", "2023-12-31T10:15:00.000Z"],
    ["Pacific/Chatham", "2024-07-01 00:00", "2024-06-30T11:15:00.000Z"],
    ["Pacific/Kiritimati", "2024-01-01 00:00", "2023-12-31T10:00:00.000Z"],
    ["Australia/Lord_Howe", "2024-07-01 00:00", "2024-06-30T13:30:00.000Z"],
    // Just before and at the spring-forward jump
    ["America/New_York", "2024-03-10 01:59:59", "2024-03-10T06:59:59.000Z"],
    ["America/New_York", "2024-03-10 03:00", "2024-03-10T07:00:00.000Z"],
  ])("%s %s is %s", (zone, local, expected) => {
    expect(iso(localToInstant(zone, wall(local)))).toBe(expected);
  });

  it.each([
    ["America/New_York", "2024-03-10 02:00", "2024-03-10T07:00:00.000Z"],
    ["America/New_York", "2024-03-10 02:30", "2024-03-10T07:00:00.000Z"],
    ["America/New_York", "2024-03-10 02:59:59.999", "2024-03-10T07:00:00.000Z"],
    ["Europe/London", "2024-03-31 01:30", "2024-03-31T01:00:00.000Z"],
    ["Australia/Lord_Howe", "2024-10-06 02:15", "2024-10-05T15:30:00.000Z"],
    ["America/Santiago", "2024-09-08 00:00", "2024-09-08T04:00:00.000Z"],
    ["America/Santiago", "2024-09-08 00:30", "2024-09-08T04:00:00.000Z"],
    ["America/Havana", "2024-03-10 00:00", "2024-03-10T05:00:00.000Z"],
    ["Pacific/Chatham", "2024-09-29 03:00", "2024-09-28T14:00:00.000Z"],
    // Samoa skipped 2011-12-30 entirely when it moved across the date line.
    ["Pacific/Apia", "2011-12-30 12:00", "2011-12-30T10:00:00.000Z"],
  ])(
    "a wall time in a gap (%s %s) resolves to the first instant after it: %s",
    (zone, local, expected) => {
      expect(iso(localToInstant(zone, wall(local)))).toBe(expected);
    },
  );

  it.each([
    ["America/New_York", "2024-11-03 01:30", "2024-11-03T05:30:00.000Z"],
    ["Europe/London", "2024-10-27 01:30", "2024-10-27T00:30:00.000Z"],
    ["Australia/Lord_Howe", "2024-04-07 01:45", "2024-04-06T14:45:00.000Z"],
    ["America/Santiago", "2024-04-06 23:30", "2024-04-07T02:30:00.000Z"],
    ["America/Havana", "2024-11-03 00:00", "2024-11-03T04:00:00.000Z"],
    ["America/Havana", "2024-11-03 00:30", "2024-11-03T04:30:00.000Z"],
    ["Pacific/Chatham", "2024-04-07 03:00", "2024-04-06T13:15:00.000Z"],
  ])(
    "an ambiguous wall time (%s %s) resolves to the earlier instant: %s",
    (zone, local, expected) => {
      expect(iso(localToInstant(zone, wall(local)))).toBe(expected);
    },
  );

  it("rejects impossible calendar fields with one field error each", () => {
    const error = thrown(() =>
      localToInstant("UTC", { year: 2023, month: 2, day: 29, hour: 24, minute: 60, second: 0 }),
    );
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(error.fieldErrors.map((e) => [e.field, e.code])).toEqual([
      ["/day", "out_of_range"],
      ["/hour", "out_of_range"],
      ["/minute", "out_of_range"],
    ]);
  });

  it("rejects an unknown zone under /timeZone", () => {
    const error = thrown(() =>
      localToInstant("Mars/Olympus_Mons", {
        year: 2024,
        month: 1,
        day: 1,
        hour: 0,
        minute: 0,
        second: 0,
      }),
    );
    expect(error.fieldErrors).toEqual([
      {
        field: "/timeZone",
        code: "invalid_time_zone",
        detail: '"Mars/Olympus_Mons" is not an IANA zone name',
      },
    ]);
  });
});

describe("instantToLocal", () => {
  it.each([
    ["America/Santiago", "2024-09-08T03:59:59.999Z", "2024-09-07 23:59:59.999"],
    ["America/Santiago", "2024-09-08T04:00:00.000Z", "2024-09-08 01:00:00.000"],
    ["America/Havana", "2024-11-03T04:30:00.000Z", "2024-11-03 00:30:00.000"],
    ["America/Havana", "2024-11-03T05:30:00.000Z", "2024-11-03 00:30:00.000"],
    ["Pacific/Chatham", "2024-01-01T00:00:00.000Z", "2024-01-01 13:45:00.000"],
    ["Pacific/Kiritimati", "2024-01-01T00:00:00.000Z", "2024-01-01 14:00:00.000"],
    ["Asia/Kolkata", "1970-01-01T00:00:00.000Z", "1970-01-01 05:30:00.000"],
    ["Australia/Lord_Howe", "2024-04-06T15:00:00.000Z", "2024-04-07 01:30:00.000"],
    ["UTC", "1969-12-31T23:59:59.999Z", "1969-12-31 23:59:59.999"],
  ])("%s at %s shows %s", (zone, instant, expected) => {
    expect(instantToLocal(zone, at(instant))).toEqual(wall(expected));
  });

  it("rejects instants that are not integers in 1800..9000", () => {
    for (const bad of [
      1.5,
      Number.NaN,
      at("1799-12-31T23:59:59.999Z"),
      at("9000-01-01T00:00:00Z"),
    ]) {
      const error = thrown(() => instantToLocal("UTC", bad));
      expect(error.fieldErrors.map((e) => [e.field, e.code])).toEqual([["/atMs", "out_of_range"]]);
    }
  });
});

describe("zoneOffsetMs", () => {
  it.each([
    ["Asia/Kolkata", "2024-01-01T00:00:00Z", 19_800_000],
    ["Pacific/Chatham", "2024-01-01T00:00:00Z", 49_500_000],
    ["Pacific/Chatham", "2024-07-01T00:00:00Z", 45_900_000],
    ["Pacific/Kiritimati", "2024-01-01T00:00:00Z", 50_400_000],
    ["Australia/Lord_Howe", "2024-01-01T00:00:00Z", 39_600_000],
    ["Australia/Lord_Howe", "2024-07-01T00:00:00Z", 37_800_000],
    ["America/New_York", "2024-01-01T00:00:00Z", -18_000_000],
    ["America/New_York", "2024-07-01T00:00:00Z", -14_400_000],
    ["UTC", "2024-07-01T00:00:00Z", 0],
  ])("%s at %s is %i ms east of UTC", (zone, instant, expected) => {
    expect(zoneOffsetMs(zone, at(instant))).toBe(expected);
  });
});

describe("isValidTimeZone", () => {
  it.each([
    "America/New_York",
    "Europe/London",
    "Asia/Kolkata",
    "Asia/Calcutta",
    "UTC",
    "Etc/GMT+5",
    "america/new_york",
  ])("accepts %s", (zone) => {
    expect(isValidTimeZone(zone)).toBe(true);
  });

  it.each([
    "",
    "Mars/Olympus_Mons",
    "+05:30",
    "-0800",
    "America/New York",
    "Europe/London ",
    "A".repeat(100),
    42,
    undefined,
    null,
  ])("rejects %j", (zone) => {
    expect(isValidTimeZone(zone)).toBe(false);
  });
});
