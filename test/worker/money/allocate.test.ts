import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { allocateAmount, allocateMoney, allocateUnits } from "../../../lib/money/allocate.ts";
import { dec } from "../../../lib/money/decimal.ts";

describe("allocateUnits (largest remainder)", () => {
  it.each([
    [100n, ["1", "1", "1"], [34n, 33n, 33n]],
    [-100n, ["1", "1", "1"], [-34n, -33n, -33n]],
    [5n, ["1", "1", "1", "1", "1", "1"], [1n, 1n, 1n, 1n, 1n, 0n]],
    [10n, ["0.5", "0.25", "0.25"], [5n, 3n, 2n]],
    [1000n, ["0", "3", "7"], [0n, 300n, 700n]],
    [1n, ["1", "0", "0"], [1n, 0n, 0n]],
    [7n, ["2", "5"], [2n, 5n]],
    [3n, ["0.333", "0.333", "0.334"], [1n, 1n, 1n]],
    [2n, ["0.333", "0.333", "0.334"], [1n, 0n, 1n]],
  ])("splits %s by %j into %s", (total, weights, parts) => {
    expect(allocateUnits(total, weights)).toEqual(parts);
  });

  it("rejects weights that cannot split anything", () => {
    expect(() => allocateUnits(10n, [])).toThrow(RangeError);
    expect(() => allocateUnits(10n, ["0", "0"])).toThrow(RangeError);
    expect(() => allocateUnits(10n, ["1", "-1"])).toThrow(RangeError);
  });

  it("parts add up to the whole and stay within one unit of the exact share", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }),
        fc.array(
          fc.record({ coefficient: fc.bigInt({ min: 0n, max: 10n ** 9n }), scale: fc.nat(6) }),
          { minLength: 1, maxLength: 12 },
        ),
        (total, rawWeights) => {
          const weights = rawWeights.map(({ coefficient, scale }) =>
            dec(coefficient).movePoint(-scale),
          );
          const weightSum = weights.reduce((sum, weight) => sum.add(weight), dec("0"));
          fc.pre(weightSum.isPositive());
          const parts = allocateUnits(total, weights);
          const sum = parts.reduce((a, b) => a + b, 0n);
          if (sum !== total) {
            return false;
          }
          return parts.every((part, i) => {
            // |part − total × w / W| < 1  ⇔  |part × W − total × w| < W
            const weight = weights[i] ?? dec("0");
            const gap = dec(part).mul(weightSum).sub(dec(total).mul(weight)).abs();
            return gap.lt(weightSum) && (!weight.isZero() || part === 0n);
          });
        },
      ),
    );
  });
});

describe("allocateAmount and allocateMoney", () => {
  it("splits a decimal amount at a given scale", () => {
    expect(allocateAmount(dec("10"), ["1", "1", "1"], 2).map(String)).toEqual([
      "3.34",
      "3.33",
      "3.33",
    ]);
  });

  it("splits money in whole minor units of its currency", () => {
    expect(allocateMoney(dec("100"), "JPY", ["1", "1", "1"]).map(String)).toEqual([
      "34",
      "33",
      "33",
    ]);
    expect(allocateMoney(dec("0.010"), "KWD", ["1", "2"]).map(String)).toEqual(["0.003", "0.007"]);
  });

  it("refuses an amount more precise than the unit: round first", () => {
    expect(() => allocateMoney(dec("10.005"), "USD", ["1", "1"])).toThrow(RangeError);
  });
});
