/**
 * The QStash sandbox's five-field cron matcher (UTC): when each expression next fires, and which
 * expressions it refuses. Table-driven; times are ISO strings for readability.
 */
import { describe, expect, it } from "vitest";
import {
  CronSyntaxError,
  cronMatches,
  nextCronTimeMs,
  parseCron,
} from "../../../local-stack/qstash/cron.ts";

function nextAfter(expression: string, afterIso: string): string {
  return new Date(nextCronTimeMs(parseCron(expression), Date.parse(afterIso))).toISOString();
}

describe("nextCronTimeMs", () => {
  // 2030-01-01 is a Tuesday.
  it.each([
    [
      "every five minutes, strictly after a boundary",
      "*/5 * * * *",
      "2030-01-01T00:00:00Z",
      "2030-01-01T00:05:00.000Z",
    ],
    [
      "top of the hour, from mid-minute",
      "0 * * * *",
      "2030-01-01T00:00:30Z",
      "2030-01-01T01:00:00.000Z",
    ],
    [
      "daily at 03:15, from 03:15 itself",
      "15 3 * * *",
      "2030-01-01T03:15:00Z",
      "2030-01-02T03:15:00.000Z",
    ],
    ["leap day only", "0 0 29 2 *", "2030-01-01T00:00:00Z", "2032-02-29T00:00:00.000Z"],
    [
      "day-of-month OR day-of-week when both are restricted",
      "0 0 1,15 * MON",
      "2030-01-01T00:00:00Z",
      "2030-01-07T00:00:00.000Z",
    ],
    [
      "weekdays skip the weekend",
      "30 9 * * 1-5",
      "2030-01-04T10:00:00Z",
      "2030-01-07T09:30:00.000Z",
    ],
    [
      "month names, any case",
      "0 12 * JAN,jul *",
      "2030-02-01T00:00:00Z",
      "2030-07-01T12:00:00.000Z",
    ],
    ["7 is Sunday", "0 0 * * 7", "2030-01-01T00:00:00Z", "2030-01-06T00:00:00.000Z"],
    ["@hourly macro", "@hourly", "2030-01-01T00:59:59Z", "2030-01-01T01:00:00.000Z"],
    [
      "explicit UTC zone prefix",
      "CRON_TZ=UTC 0 6 * * *",
      "2030-01-01T00:00:00Z",
      "2030-01-01T06:00:00.000Z",
    ],
    [
      "start/step runs to the end of the range",
      "5/20 * * * *",
      "2030-01-01T00:26:00Z",
      "2030-01-01T00:45:00.000Z",
    ],
    ["range/step", "0-10/5 * * * *", "2030-01-01T00:10:00Z", "2030-01-01T01:00:00.000Z"],
    [
      "the 31st skips short months",
      "0 0 31 * *",
      "2030-02-01T00:00:00Z",
      "2030-03-31T00:00:00.000Z",
    ],
  ])("%s: %s after %s is %s", (_name, expression, afterIso, expected) => {
    expect(nextAfter(expression, afterIso)).toBe(expected);
  });

  it("gives up on an expression that never fires", () => {
    expect(() => nextAfter("0 0 30 2 *", "2030-01-01T00:00:00Z")).toThrow(CronSyntaxError);
  });
});

describe("parseCron", () => {
  it.each([
    ["61 * * * *", /minute: 61 is outside 0-59/],
    ["* * * *", /expected 5 fields/],
    ["* * 0 * *", /day-of-month: 0 is outside 1-31/],
    ["*/0 * * * *", /step "0"/],
    ["5-1 * * * *", /runs backwards/],
    ["a * * * *", /not a number/],
    ["CRON_TZ=Europe/Paris 0 * * * *", /only UTC/],
  ])("refuses %s", (expression, message) => {
    expect(() => parseCron(expression)).toThrow(message);
  });
});

describe("cronMatches", () => {
  it.each([
    ["*/15 9-17 * * 1-5", "2030-01-02T09:45:10Z", true],
    ["*/15 9-17 * * 1-5", "2030-01-05T09:45:00Z", false],
    ["0 0 1 1 *", "2030-01-01T00:00:59Z", true],
    ["0 0 1 1 *", "2030-01-01T00:01:00Z", false],
  ])("%s at %s is %s", (expression, atIso, expected) => {
    expect(cronMatches(parseCron(expression), Date.parse(atIso))).toBe(expected);
  });
});
