import { describe, expect, it } from "vitest";
import { computeTaxes, parseTaxRates } from "../../../lib/billing/tax.ts";
import { AppError } from "../../../lib/errors/index.ts";

const big = (values: number[]) => values.map((v) => BigInt(v));

describe("invoice taxes", () => {
  it.each([
    {
      name: "one rate, residue to the largest remainders",
      // Exact 8.875 % taxes: 8.875, 8.875, 8.875 → Σ 26.625 → 27; floors 8+8+8, residue 3.
      lines: [100, 100, 100],
      rates: [{ name: "NY", percent: "8.875" }],
      lineTax: [9, 9, 9],
      rateTax: [27],
    },
    {
      name: "ties go to the earlier line",
      // 10 % of 5, 5, 5 → 0.5 each, Σ 1.5 → 2: the first two lines take the units.
      lines: [5, 5, 5],
      rates: [{ name: "VAT", percent: "10" }],
      lineTax: [1, 1, 0],
      rateTax: [2],
    },
    {
      name: "the invoice rounds once, not per line",
      // 0.4 each would round to 0 per line (0 total); the invoice's exact 1.2 rounds to 1.
      lines: [4, 4, 4],
      rates: [{ name: "VAT", percent: "10" }],
      lineTax: [1, 0, 0],
      rateTax: [1],
    },
    {
      name: "two rates apply to the lines, not to each other",
      lines: [1999, 1, 0],
      rates: [
        { name: "State", percent: "6.25" },
        { name: "City", percent: "2.5" },
      ],
      // State: 124.9375 + 0.0625 = 125 exactly → 125 + 0; City: 49.975 + 0.025 = 50 → 50 + 0.
      lineTax: [175, 0, 0],
      rateTax: [125, 50],
    },
    {
      name: "no rates, no tax",
      lines: [1234, 5],
      rates: [],
      lineTax: [0, 0],
      rateTax: [],
    },
  ])("$name", ({ lines, rates, lineTax, rateTax }) => {
    const tax = computeTaxes(big(lines), rates);
    expect(tax.lineTaxMinor).toEqual(big(lineTax));
    expect(tax.rates.map((r) => r.taxMinor)).toEqual(big(rateTax));
    const sum = tax.lineTaxMinor.reduce((a, b) => a + b, 0n);
    expect(sum).toBe(tax.totalMinor);
  });

  it("keeps every line within one minor unit of its exact tax and sums exactly", () => {
    const lines = big([333, 333, 334, 1, 99_999, 7, 12_345]);
    const tax = computeTaxes(lines, [{ name: "VAT", percent: "19.6" }]);
    const exactTotal = lines.reduce((a, b) => a + b, 0n) * 196n;
    // round_half_up(Σ exact) with exact = amount × 19.6 / 100 = amount × 196 / 1000.
    expect(tax.totalMinor).toBe((exactTotal + 500n) / 1000n);
    tax.lineTaxMinor.forEach((part, i) => {
      const exactTimes1000 = (lines[i] as bigint) * 196n;
      expect(part * 1000n - exactTimes1000 < 1000n).toBe(true);
      expect(exactTimes1000 - part * 1000n < 1000n).toBe(true);
    });
  });

  it("validates rates and reports every problem", () => {
    expect(parseTaxRates([{ name: " VAT ", percent: "20" }])).toEqual([
      { name: "VAT", percent: "20" },
    ]);
    let error: unknown;
    try {
      parseTaxRates([
        { name: "", percent: "5" },
        { name: "A", percent: "101" },
        { name: "A", percent: "1.23456" },
        { name: "B", percent: 5 },
      ]);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).fieldErrors.map((e) => [e.field, e.code])).toEqual([
      ["/0/name", "invalid_value"],
      ["/1/percent", "invalid_value"],
      ["/2/name", "duplicate"],
      ["/2/percent", "invalid_value"],
      ["/3/percent", "invalid_value"],
    ]);
  });
});
