import { describe, expect, it } from "vitest";
import type { PricingWindow } from "../../../lib/catalogue/account-config.ts";
import { prorateBaseFees } from "../../../lib/catalogue/proration.ts";
import type { IntervalSpec } from "../../../lib/periods/interval-spec.ts";
import { periodContaining } from "../../../lib/periods/periods.ts";

const MONTHLY: IntervalSpec = { unit: "month", count: 1, anchorDay: 1 };
const DAILY: IntervalSpec = { unit: "day", count: 1, anchorDate: "2024-01-01" };
const NEW_YORK = "America/New_York";

function ms(iso: string): number {
  return Date.parse(iso);
}

function window(
  planId: string,
  version: number,
  baseFee: string,
  from: string,
  to: string | null,
): PricingWindow {
  return {
    fromMs: ms(from),
    toMs: to === null ? null : ms(to),
    planId,
    planVersionId: `${planId}-v${version}`,
    version,
    currency: "USD",
    baseFee,
    prices: {},
  };
}

interface Case {
  name: string;
  interval: IntervalSpec;
  zone: string;
  /** Any instant inside the period. */
  at: string;
  windows: PricingWindow[];
  periodSeconds: number;
  /** Per line: the version id, seconds in effect, exact amount (18 digits, truncated). */
  lines: [string, number, string][];
  /** Each line rounded half-up to 12 decimals, as the brief's exactness check. */
  lines12: string[];
  total: string;
}

// Expected figures were computed independently with exact rational arithmetic.
const CASES: Case[] = [
  {
    name: "March 2024 in New York (spring forward on the 10th), new version at local midnight of the 15th",
    interval: MONTHLY,
    zone: NEW_YORK,
    at: "2024-03-12T12:00:00Z",
    windows: [
      window("pro", 1, "100", "2024-01-01T05:00:00Z", "2024-03-15T04:00:00Z"),
      window("pro", 2, "130", "2024-03-15T04:00:00Z", null),
    ],
    // 31 days less the hour skipped on March 10.
    periodSeconds: 2_674_800,
    lines: [
      // Mar 1 00:00 EST (05:00Z) to Mar 15 00:00 EDT (04:00Z): 14 days less one hour.
      ["pro-v1", 1_206_000, "45.087483176312247644"],
      ["pro-v2", 1_468_800, "71.386271870794078061"],
    ],
    lines12: ["45.087483176312", "71.386271870794"],
    total: "116.473755047106325705",
  },
  {
    name: "November 2024 in New York (fall back on the 3rd), plan switch at local midnight of the 4th",
    interval: MONTHLY,
    zone: NEW_YORK,
    at: "2024-11-20T00:00:00Z",
    windows: [
      window("starter", 1, "49.99", "2024-06-01T04:00:00Z", "2024-11-04T05:00:00Z"),
      window("lite", 1, "19.99", "2024-11-04T05:00:00Z", null),
    ],
    // 30 days plus the hour repeated on November 3.
    periodSeconds: 2_595_600,
    lines: [
      ["starter-v1", 262_800, "5.061400832177531206"],
      ["lite-v1", 2_332_800, "17.966047156726768377"],
    ],
    lines12: ["5.061400832178", "17.966047156727"],
    total: "23.027447988904299583",
  },
  {
    name: "the 23-hour day of 2024-03-10 in New York, daily periods, version change at 12:00 EDT",
    interval: DAILY,
    zone: NEW_YORK,
    at: "2024-03-10T12:00:00Z",
    windows: [
      window("daily", 1, "24", "2024-01-01T05:00:00Z", "2024-03-10T16:00:00Z"),
      window("daily", 2, "48", "2024-03-10T16:00:00Z", null),
    ],
    periodSeconds: 82_800,
    lines: [
      // 00:00 EST (05:00Z) to 12:00 EDT (16:00Z) is 11 elapsed hours, not 12.
      ["daily-v1", 39_600, "11.478260869565217391"],
      ["daily-v2", 43_200, "25.043478260869565217"],
    ],
    lines12: ["11.478260869565", "25.043478260870"],
    total: "36.521739130434782608",
  },
  {
    name: "an account whose first plan starts mid-period owes only its share",
    interval: MONTHLY,
    zone: NEW_YORK,
    at: "2024-03-25T00:00:00Z",
    windows: [window("pro", 1, "100", "2024-03-20T04:00:00Z", null)],
    periodSeconds: 2_674_800,
    lines: [["pro-v1", 1_036_800, "38.761776581426648721"]],
    lines12: ["38.761776581427"],
    total: "38.761776581426648721",
  },
  {
    name: "one version for the whole period owes exactly its base fee",
    interval: MONTHLY,
    zone: "Europe/London",
    at: "2024-03-31T12:00:00Z",
    windows: [window("pro", 3, "20.50", "2024-01-01T00:00:00Z", null)],
    // London springs forward on March 31: 31 days less one hour.
    periodSeconds: 2_674_800,
    lines: [["pro-v3", 2_674_800, "20.5"]],
    lines12: ["20.500000000000"],
    total: "20.5",
  },
  {
    name: "versions outside the period owe nothing",
    interval: MONTHLY,
    zone: "UTC",
    at: "2024-02-10T00:00:00Z",
    windows: [
      window("old", 1, "10", "2023-01-01T00:00:00Z", "2024-02-01T00:00:00Z"),
      window("new", 1, "10", "2024-03-01T00:00:00Z", null),
    ],
    periodSeconds: 29 * 86_400,
    lines: [],
    lines12: [],
    total: "0",
  },
];

describe("prorateBaseFees", () => {
  it.each(CASES)("$name", (c) => {
    const period = periodContaining(c.interval, c.zone, ms(c.at));
    const result = prorateBaseFees(period, c.windows);
    expect(result.periodSeconds).toBe(c.periodSeconds);
    expect(
      result.lines.map((line) => [line.planVersionId, line.seconds, line.amount.toString()]),
    ).toEqual(c.lines);
    expect(result.lines.map((line) => line.amount.toFixed(12, "HALF_UP"))).toEqual(c.lines12);
    expect(result.total.toString()).toBe(c.total);
    const covered = result.lines.reduce((sum, line) => sum + line.seconds, 0);
    expect(covered).toBeLessThanOrEqual(c.periodSeconds);
  });

  it("splits the period at each boundary so the parts tile it", () => {
    const period = periodContaining(MONTHLY, NEW_YORK, ms("2024-03-12T12:00:00Z"));
    const [first, second] = prorateBaseFees(period, CASES[0]?.windows ?? []).lines;
    expect(first?.fromMs).toBe(period.startMs);
    expect(first?.toMs).toBe(second?.fromMs);
    expect(second?.toMs).toBe(period.endMs);
  });

  it("refuses an empty period", () => {
    expect(() => prorateBaseFees({ startMs: 5, endMs: 5 }, [])).toThrow(RangeError);
  });
});
