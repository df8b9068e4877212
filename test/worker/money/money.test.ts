import { describe, expect, it } from "vitest";
import { dec } from "../../../lib/money/decimal.ts";
import {
  INVOICE_LINE_ROUNDING_MODE,
  roundInvoiceLine,
} from "../../../lib/money/invoice-rounding.ts";
import {
  addMoney,
  formatMoney,
  fromMinorUnits,
  minorToJson,
  money,
  moneyToJson,
  subtractMoney,
  toMinorUnits,
} from "../../../lib/money/money.ts";

describe("minor units", () => {
  it.each([
    ["30.5", "USD", "HALF_UP", 3050n],
    ["30.505", "USD", "HALF_UP", 3051n],
    ["30.505", "USD", "HALF_EVEN", 3050n],
    ["30.509", "USD", "DOWN", 3050n],
    ["-30.505", "USD", "HALF_UP", -3051n],
    ["1234.5", "JPY", "HALF_UP", 1235n],
    ["1234.5", "JPY", "HALF_EVEN", 1234n],
    ["1.2345", "KWD", "HALF_UP", 1235n],
    ["1.23456", "CLF", "FLOOR", 12345n],
    ["7", "USD", "HALF_UP", 700n],
  ] as const)("%s %s with %s is %s minor units", (amount, currency, mode, minor) => {
    expect(toMinorUnits(dec(amount), currency, mode)).toBe(minor);
  });

  it.each([
    [3050n, "USD", "30.5"],
    [1235n, "JPY", "1235"],
    [-1n, "KWD", "-0.001"],
    [12345n, "CLF", "1.2345"],
  ])("%s minor units of %s are %s", (minor, currency, amount) => {
    expect(fromMinorUnits(minor, currency).toString()).toBe(amount);
  });
});

describe("formatting for people", () => {
  it.each([
    ["30.5", "USD", "USD 30.50"],
    ["1234.5", "JPY", "JPY 1,235"],
    ["-1234567.891", "USD", "USD -1,234,567.89"],
    ["1000000", "KWD", "KWD 1,000,000.000"],
    ["0", "EUR", "EUR 0.00"],
    ["-0.001", "USD", "USD 0.00"],
    ["999.995", "USD", "USD 1,000.00"],
  ])("shows %s %s as %s", (amount, currency, shown) => {
    expect(formatMoney(dec(amount), currency)).toBe(shown);
  });
});

describe("Money values", () => {
  it("adds and subtracts within one currency", () => {
    const total = addMoney(money("30.5", "USD"), money("0.000463", "USD"));
    expect(moneyToJson(total)).toEqual({ amount: "30.500463", currency: "USD" });
    expect(moneyToJson(subtractMoney(total, money("0.5", "USD")))).toEqual({
      amount: "30.000463",
      currency: "USD",
    });
  });

  it("refuses to mix currencies", () => {
    expect(() => addMoney(money("1", "USD"), money("1", "EUR"))).toThrow(
      "Cannot combine USD with EUR",
    );
  });

  it("serialises minor units as JSON integers and refuses unsafe ones", () => {
    expect(JSON.stringify(minorToJson(3050n, "USD"))).toBe('{"amountMinor":3050,"currency":"USD"}');
    expect(() => minorToJson(2n ** 53n, "USD")).toThrow(RangeError);
  });
});

describe("invoice line rounding", () => {
  it("rounds half away from zero by default", () => {
    expect(INVOICE_LINE_ROUNDING_MODE).toBe("HALF_UP");
    const line = roundInvoiceLine(dec("30.505000000001"), "USD");
    expect(line.amountMinor).toBe(3051n);
    expect(line.amount.toString()).toBe("30.51");
    expect(line.roundingAdjustment.toString()).toBe("0.004999999999");
  });

  it.each([
    ["2.675", "USD", 268n, "0.005"],
    ["-2.675", "USD", -268n, "-0.005"],
    ["0.0049", "USD", 0n, "-0.0049"],
    ["1234.5", "JPY", 1235n, "0.5"],
    ["0.0005", "KWD", 1n, "0.0005"],
  ])("rounds %s %s to %s minor units (adjustment %s)", (amount, currency, minor, adjustment) => {
    const line = roundInvoiceLine(dec(amount), currency);
    expect(line.amountMinor).toBe(minor);
    expect(line.roundingAdjustment.toString()).toBe(adjustment);
    expect(line.unrounded.add(line.roundingAdjustment).eq(line.amount)).toBe(true);
  });

  it("takes another mode when a caller must", () => {
    expect(roundInvoiceLine(dec("2.665"), "USD", "HALF_EVEN").amountMinor).toBe(266n);
  });
});
