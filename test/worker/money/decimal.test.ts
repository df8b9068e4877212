import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AppError } from "../../../lib/errors/index.ts";
import { checkDecimalLimits, Decimal, dec } from "../../../lib/money/decimal.ts";
import { ROUNDING_MODES, type RoundingMode } from "../../../lib/money/rounding.ts";
import { decimalArb } from "./arbitraries.ts";

describe("Decimal.parse", () => {
  it.each([
    ["12", "12", 12n, 0],
    ["-0.000463", "-0.000463", -463n, 6],
    ["007.50", "7.5", 750n, 2],
    ["0", "0", 0n, 0],
    ["-0", "0", 0n, 0],
    ["-0.000", "0", 0n, 3],
    [
      "123456789012345678901234567890.123456789012345678",
      "123456789012345678901234567890.123456789012345678",
      123456789012345678901234567890123456789012345678n,
      18,
    ],
  ])("reads %j as %s exactly", (text, canonical, coefficient, scale) => {
    const result = Decimal.parse(text);
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.value.toString()).toBe(canonical);
      expect(result.value.coefficient).toBe(coefficient);
      expect(result.value.scale).toBe(scale);
    }
  });

  it.each([
    ["", "EMPTY"],
    ["1e-3", "EXPONENT_NOT_ALLOWED"],
    ["2.5E+7", "EXPONENT_NOT_ALLOWED"],
    [".5", "MALFORMED"],
    ["5.", "MALFORMED"],
    ["+5", "MALFORMED"],
    [" 5", "MALFORMED"],
    ["1,000", "MALFORMED"],
    ["1_000", "MALFORMED"],
    ["0x10", "MALFORMED"],
    ["NaN", "MALFORMED"],
    ["Infinity", "MALFORMED"],
    ["--1", "MALFORMED"],
    ["١٢", "MALFORMED"],
    ["9".repeat(257), "TOO_LONG"],
  ])("rejects %j with %s", (text, reason) => {
    const result = Decimal.parse(text);
    expect(result).toMatchObject({ ok: false, reason });
  });
});

describe("Decimal.fromNumber", () => {
  it.each([
    [0.1, "0.1"],
    [-0, "0"],
    [1e21, "1000000000000000000000"],
    [-1.5e-7, "-0.00000015"],
    [123.456, "123.456"],
    [Number.MAX_SAFE_INTEGER, "9007199254740991"],
    [5e-324, `0.${"0".repeat(323)}5`],
  ])("reads %s through its shortest round-trip string as %s", (value, expected) => {
    const result = Decimal.fromNumber(value);
    expect(result.ok && result.value.toString()).toBe(expected);
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])(
    "rejects %s as NOT_FINITE",
    (value) => {
      expect(Decimal.fromNumber(value)).toMatchObject({ ok: false, reason: "NOT_FINITE" });
    },
  );

  it("gives back the same double for every finite number", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (value) => {
        const result = Decimal.fromNumber(value);
        return result.ok && Number(result.value.toString()) === (Object.is(value, -0) ? 0 : value);
      }),
    );
  });
});

describe("Decimal.from", () => {
  it("accepts strings, bigints, numbers and Decimals", () => {
    expect(Decimal.from("1.25").toString()).toBe("1.25");
    expect(Decimal.from(10n ** 40n).toString()).toBe(`1${"0".repeat(40)}`);
    expect(Decimal.from(0.3).toString()).toBe("0.3");
    const same = dec("2");
    expect(Decimal.from(same)).toBe(same);
  });

  it("throws a VALIDATION_FAILED AppError for garbage", () => {
    expect(() => Decimal.from("12abc")).toThrow(AppError);
    try {
      Decimal.from(Number.NaN);
    } catch (error) {
      expect((error as AppError).code).toBe("VALIDATION_FAILED");
      expect((error as AppError).context).toEqual({ reason: "NOT_FINITE" });
    }
  });

  it("reports non-decimal types through tryFrom", () => {
    expect(Decimal.tryFrom({})).toMatchObject({ ok: false, reason: "NOT_A_DECIMAL" });
    expect(Decimal.tryFrom(null)).toMatchObject({ ok: false, reason: "NOT_A_DECIMAL" });
  });
});

describe("Decimal arithmetic", () => {
  it.each([
    ["0.1", "0.2", "0.3", "-0.1", "0.02"],
    ["1", "-1", "0", "2", "-1"],
    ["12.345", "0.000000000001", "12.345000000001", "12.344999999999", "0.000000000012345"],
    ["-0.000463", "1000", "999.999537", "-1000.000463", "-0.463"],
    [
      "99999999999999999999",
      "1",
      "100000000000000000000",
      "99999999999999999998",
      "99999999999999999999",
    ],
  ])("%s and %s: sum %s, difference %s, product %s", (a, b, sum, difference, product) => {
    expect(dec(a).add(dec(b)).toString()).toBe(sum);
    expect(dec(a).sub(dec(b)).toString()).toBe(difference);
    expect(dec(a).mul(dec(b)).toString()).toBe(product);
  });

  it("negates, takes absolute values and compares by value, not representation", () => {
    expect(dec("1.50").eq(dec("1.5"))).toBe(true);
    expect(dec("1.50").cmp(dec("1.5"))).toBe(0);
    expect(dec("-2").cmp(dec("1.999"))).toBe(-1);
    expect(dec("0.10").gt(dec("0.09"))).toBe(true);
    expect(dec("3").lt(dec("3.0000001"))).toBe(true);
    expect(dec("3").lte(dec("3.000"))).toBe(true);
    expect(dec("3").gte(dec("3.001"))).toBe(false);
    expect(dec("-4.2").neg().toString()).toBe("4.2");
    expect(dec("-4.2").abs().toString()).toBe("4.2");
    expect(dec("4.2").abs().toString()).toBe("4.2");
    expect(dec("1.5").min(dec("1.25")).toString()).toBe("1.25");
    expect(dec("1.5").max(dec("1.25")).toString()).toBe("1.5");
    expect(dec("0.000").isZero()).toBe(true);
    expect(dec("-0.1").isNegative()).toBe(true);
    expect(dec("0.1").isPositive()).toBe(true);
    expect([dec("-3").sign(), dec("0").sign(), dec("3").sign()]).toEqual([-1, 0, 1]);
    expect(Decimal.sum([dec("0.1"), dec("0.2"), dec("-0.3")]).isZero()).toBe(true);
  });

  it("moves the decimal point exactly", () => {
    expect(dec("2.9").movePoint(-2).toString()).toBe("0.029");
    expect(dec("2.9").movePoint(3).toString()).toBe("2900");
    expect(dec("0.0125").movePoint(2).toString()).toBe("1.25");
  });

  it("divides to a given scale and rounds only there", () => {
    expect(dec("1").div(dec("3"), 5, "HALF_UP").toString()).toBe("0.33333");
    expect(dec("2").div(dec("3"), 5, "HALF_UP").toString()).toBe("0.66667");
    expect(dec("2").div(dec("3"), 5, "DOWN").toString()).toBe("0.66666");
    expect(dec("-2").div(dec("3"), 0, "FLOOR").toString()).toBe("-1");
    expect(dec("-2").div(dec("3"), 0, "CEILING").toString()).toBe("0");
    expect(dec("10").div(dec("-4"), 0, "HALF_EVEN").toString()).toBe("-2");
    expect(dec("10").div(dec("-4"), 0, "HALF_UP").toString()).toBe("-3");
    expect(dec("0.000463").div(dec("0.1"), 18, "HALF_EVEN").toString()).toBe("0.00463");
    expect(() => dec("1").div(dec("0.00"), 2, "HALF_UP")).toThrow(RangeError);
  });
});

describe("Decimal rounding", () => {
  // Each value rounded to an integer in every mode, the classic table of rounding modes.
  const table: [string, Record<RoundingMode, string>][] = [
    ["5.5", { UP: "6", DOWN: "5", CEILING: "6", FLOOR: "5", HALF_UP: "6", HALF_EVEN: "6" }],
    ["2.5", { UP: "3", DOWN: "2", CEILING: "3", FLOOR: "2", HALF_UP: "3", HALF_EVEN: "2" }],
    ["1.6", { UP: "2", DOWN: "1", CEILING: "2", FLOOR: "1", HALF_UP: "2", HALF_EVEN: "2" }],
    ["1.1", { UP: "2", DOWN: "1", CEILING: "2", FLOOR: "1", HALF_UP: "1", HALF_EVEN: "1" }],
    ["1.0", { UP: "1", DOWN: "1", CEILING: "1", FLOOR: "1", HALF_UP: "1", HALF_EVEN: "1" }],
    ["-1.0", { UP: "-1", DOWN: "-1", CEILING: "-1", FLOOR: "-1", HALF_UP: "-1", HALF_EVEN: "-1" }],
    ["-1.1", { UP: "-2", DOWN: "-1", CEILING: "-1", FLOOR: "-2", HALF_UP: "-1", HALF_EVEN: "-1" }],
    ["-1.6", { UP: "-2", DOWN: "-1", CEILING: "-1", FLOOR: "-2", HALF_UP: "-2", HALF_EVEN: "-2" }],
    ["-2.5", { UP: "-3", DOWN: "-2", CEILING: "-2", FLOOR: "-3", HALF_UP: "-3", HALF_EVEN: "-2" }],
    ["-5.5", { UP: "-6", DOWN: "-5", CEILING: "-5", FLOOR: "-6", HALF_UP: "-6", HALF_EVEN: "-6" }],
  ];
  for (const [value, expected] of table) {
    for (const mode of ROUNDING_MODES) {
      it(`rounds ${value} with ${mode} to ${expected[mode]}`, () => {
        expect(dec(value).round(0, mode).toString()).toBe(expected[mode]);
      });
    }
  }

  it("rounds at any scale and leaves values that already fit untouched", () => {
    expect(dec("30.505").round(2, "HALF_UP").toString()).toBe("30.51");
    expect(dec("30.505").round(2, "HALF_EVEN").toString()).toBe("30.5");
    expect(dec("30.515").round(2, "HALF_EVEN").toString()).toBe("30.52");
    expect(dec("1234.5").round(0, "HALF_UP").toString()).toBe("1235");
    const fits = dec("1.25");
    expect(fits.round(4, "UP")).toBe(fits);
  });

  it("floors and ceils to integers", () => {
    expect(dec("2.000000000001").ceil().toString()).toBe("3");
    expect(dec("2.999").floor().toString()).toBe("2");
    expect(dec("-2.001").floor().toString()).toBe("-3");
    expect(dec("-2.999").ceil().toString()).toBe("-2");
  });

  it("converts integral values to bigint and refuses the rest", () => {
    expect(dec("1200.00").toBigInt()).toBe(1200n);
    expect(dec("-7").toBigInt()).toBe(-7n);
    expect(() => dec("1.5").toBigInt()).toThrow(RangeError);
  });

  it("rejects negative and fractional scales", () => {
    expect(() => dec("1.5").round(-1, "HALF_UP")).toThrow(RangeError);
    expect(() => Decimal.fromParts(1n, 1.5)).toThrow(RangeError);
  });
});

describe("Decimal formatting and limits", () => {
  it.each([
    ["1.500", "1.5"],
    ["0.000463", "0.000463"],
    ["-12.0", "-12"],
    ["1000000000000000000000000", "1000000000000000000000000"],
    ["0.000000000001", "0.000000000001"],
  ])("prints %s canonically as %s", (text, canonical) => {
    expect(dec(text).toString()).toBe(canonical);
    expect(JSON.stringify({ amount: dec(text) })).toBe(`{"amount":"${canonical}"}`);
  });

  it.each([
    ["30.5", 2, "30.50"],
    ["1234.5", 0, "1235"],
    ["-0.000463", 3, "0.000"],
    ["-0.0005", 3, "-0.001"],
    ["7", 4, "7.0000"],
  ])("shows %s with %i digits as %s", (text, scale, shown) => {
    expect(dec(text).toFixed(scale)).toBe(shown);
  });

  it("counts digits of the canonical form", () => {
    expect(dec("-12.3400").integerDigits()).toBe(2);
    expect(dec("-12.3400").fractionalDigits()).toBe(2);
    expect(dec("0.5").integerDigits()).toBe(0);
    expect(dec("100").fractionalDigits()).toBe(0);
    const limits = { maxIntegerDigits: 3, maxFractionalDigits: 2 };
    expect(checkDecimalLimits(dec("999.99"), limits)).toBeNull();
    expect(checkDecimalLimits(dec("999.990000"), limits)).toBeNull();
    expect(checkDecimalLimits(dec("1000"), limits)).toBe("TOO_MANY_INTEGER_DIGITS");
    expect(checkDecimalLimits(dec("0.001"), limits)).toBe("TOO_MANY_FRACTIONAL_DIGITS");
  });
});

describe("Decimal laws (property-based)", () => {
  it("parse ∘ toString is the identity, and toString is canonical", () => {
    fc.assert(
      fc.property(decimalArb(), (value) => {
        const text = value.toString();
        const parsed = Decimal.parse(text);
        return parsed.ok && parsed.value.eq(value) && parsed.value.toString() === text;
      }),
    );
  });

  it("subtraction undoes addition", () => {
    fc.assert(
      fc.property(decimalArb(), decimalArb(), (a, b) => {
        return a.add(b).sub(b).eq(a) && a.sub(b).add(b).eq(a);
      }),
    );
  });

  it("multiplication distributes over addition, and both commute", () => {
    fc.assert(
      fc.property(decimalArb(), decimalArb(), decimalArb(), (a, b, c) => {
        return (
          a.mul(b.add(c)).eq(a.mul(b).add(a.mul(c))) &&
          a.mul(b).eq(b.mul(a)) &&
          a.add(b).eq(b.add(a))
        );
      }),
    );
  });

  it("division brackets the exact quotient: FLOOR ≤ a/b ≤ CEILING, one unit apart at most", () => {
    fc.assert(
      fc.property(
        decimalArb(),
        decimalArb().filter((d) => !d.isZero()),
        fc.integer({ min: 0, max: 20 }),
        (a, b, scale) => {
          const floor = a.div(b, scale, "FLOOR");
          const ceiling = a.div(b, scale, "CEILING");
          const unit = Decimal.fromParts(1n, scale);
          const positive = b.isPositive();
          const low = positive ? floor.mul(b) : ceiling.mul(b);
          const high = positive ? ceiling.mul(b) : floor.mul(b);
          return low.lte(a) && a.lte(high) && ceiling.sub(floor).lte(unit);
        },
      ),
    );
  });

  it("rounding to nearest moves a value by at most half a unit", () => {
    fc.assert(
      fc.property(
        decimalArb(),
        fc.integer({ min: 0, max: 12 }),
        fc.constantFrom<RoundingMode>("HALF_UP", "HALF_EVEN"),
        (value, scale, mode) => {
          const halfUnit = Decimal.fromParts(5n, scale + 1);
          return value.round(scale, mode).sub(value).abs().lte(halfUnit);
        },
      ),
    );
  });
});
