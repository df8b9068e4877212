import { describe, expect, it } from "vitest";
import { dec } from "../../../lib/money/decimal.ts";
import { roundInvoiceLine } from "../../../lib/money/invoice-rounding.ts";
import { planVersionAt, validatePlan } from "../../../lib/pricing/plan.ts";
import { prorate } from "../../../lib/pricing/prorate.ts";
import { isQuantityPrice, rateTotal } from "../../../lib/pricing/rate.ts";
import { GRADUATED_API } from "./fixtures.ts";

const PLAN = {
  key: "pro",
  name: "Pro",
  versions: [
    {
      currency: "USD",
      baseFee: "20.00",
      effectiveFrom: "2026-01-01T00:00:00Z",
      prices: { tokens_in: GRADUATED_API },
    },
    {
      currency: "USD",
      effectiveFrom: "2026-07-01T02:00:00.5+02:00",
      prices: {
        tokens_in: { model: "per_unit", unitPrice: "0.001" },
        card_payments: { model: "percentage", ratePercent: "2.9", minPerEvent: "0.30" },
      },
    },
  ],
};

describe("validatePlan", () => {
  it("compiles every version and its prices", () => {
    const result = validatePlan(PLAN);
    expect(result.ok).toBe(true);
    if (!result.ok) {
      return;
    }
    const [first, second] = result.value.versions;
    expect(first?.currency.code).toBe("USD");
    expect(first?.baseFee.toString()).toBe("20");
    expect(first?.effectiveFrom).toBe("2026-01-01T00:00:00.000Z");
    expect(second?.baseFee.toString()).toBe("0");
    expect(second?.effectiveFrom).toBe("2026-07-01T00:00:00.500Z");
    expect([...(second?.prices.keys() ?? [])]).toEqual(["tokens_in", "card_payments"]);
    const tokens = first?.prices.get("tokens_in");
    expect(tokens && isQuantityPrice(tokens) && rateTotal(tokens, dec("25000")).toString()).toBe(
      "30.5",
    );
  });

  it("accepts a plan with only a base fee", () => {
    const result = validatePlan({
      key: "flat",
      name: "Flat",
      versions: [
        {
          currency: "JPY",
          baseFee: "1000",
          effectiveFrom: "2026-01-01T09:00:00+09:00",
          prices: {},
        },
      ],
    });
    expect(result.ok && result.value.versions[0]?.effectiveFromMs).toBe(Date.UTC(2026, 0, 1));
  });
});

describe("planVersionAt", () => {
  const result = validatePlan(PLAN);
  const plan = result.ok ? result.value : undefined;

  it.each([
    ["before the first version", "2025-12-31T23:59:59.999Z", undefined],
    ["at the first version's instant", "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z"],
    ["just before the second", "2026-07-01T00:00:00.499Z", "2026-01-01T00:00:00.000Z"],
    ["at the second", "2026-07-01T00:00:00.500Z", "2026-07-01T00:00:00.500Z"],
  ])("%s (%s) picks %s", (_what, at, effectiveFrom) => {
    expect(plan && planVersionAt(plan, Date.parse(at))?.effectiveFrom).toBe(effectiveFrom);
  });
});

describe("prorate", () => {
  const MONTH_SECONDS = 30 * 86_400;

  it.each([
    ["20", 15 * 86_400, MONTH_SECONDS, "10"],
    ["20", MONTH_SECONDS, MONTH_SECONDS, "20"],
    ["20", 0, MONTH_SECONDS, "0"],
    ["10", 1, 3, "3.333333333333333333"],
    ["20", 1, 3, "6.666666666666666666"],
    ["-20", 1, 3, "-6.666666666666666666"],
    ["0.0000000000000000003", 1, 3, "0.0000000000000000001"],
    ["0.000000000000000001", 1, 2, "0"],
  ])("%s for %i of %i seconds is %s", (amount, used, period, share) => {
    expect(prorate(dec(amount), used, period).toString()).toBe(share);
  });

  it("accepts bigint seconds", () => {
    expect(prorate(dec("31"), 1n, 31n).toString()).toBe("1");
  });

  it("rounds to the same cents as the exact fraction (no double rounding)", () => {
    // Exactly 0.004999999999999999999666…: below the half cent, so 0 cents.
    const amount = dec("0.014999999999999999999");
    const share = prorate(amount, 1, 3);
    expect(share.toString()).toBe("0.004999999999999999999");
    expect(roundInvoiceLine(share, "USD").amountMinor).toBe(0n);
    // Rounding to nearest at the same scale would have crossed the half cent: 1 cent.
    const nearest = amount.div(dec("3"), 21, "HALF_UP");
    expect(roundInvoiceLine(nearest, "USD").amountMinor).toBe(1n);
    // An exact half cent stays one and rounds up.
    expect(roundInvoiceLine(prorate(dec("0.01"), 1, 2), "USD").amountMinor).toBe(1n);
  });

  it.each([
    [-1, 10],
    [11, 10],
    [1, 0],
    [1.5, 10],
  ])("rejects %s used of %s seconds", (used, period) => {
    expect(() => prorate(dec("1"), used, period)).toThrow(RangeError);
  });
});
