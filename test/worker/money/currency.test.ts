import { describe, expect, it } from "vitest";
import { AppError } from "../../../lib/errors/index.ts";
import {
  checkCurrencyCode,
  findCurrency,
  getCurrency,
  listCurrencies,
} from "../../../lib/money/currency.ts";

describe("ISO 4217 currency table", () => {
  it.each([
    ["JPY", 0],
    ["KRW", 0],
    ["CLP", 0],
    ["XOF", 0],
    ["USD", 2],
    ["EUR", 2],
    ["GBP", 2],
    ["XCG", 2],
    ["ZWG", 2],
    ["KWD", 3],
    ["BHD", 3],
    ["TND", 3],
    ["CLF", 4],
    ["UYW", 4],
  ])("knows %s has %i minor-unit digits", (code, exponent) => {
    expect(getCurrency(code)).toMatchObject({ code, exponent });
  });

  it("lists every active currency with a minor unit, ordered by code and without duplicates", () => {
    const codes = listCurrencies().map((currency) => currency.code);
    expect(codes).toHaveLength(165);
    expect([...codes].sort()).toEqual(codes);
    expect(new Set(codes).size).toBe(codes.length);
    const exponents = new Set(listCurrencies().map((currency) => currency.exponent));
    expect([...exponents].sort()).toEqual([0, 2, 3, 4]);
  });

  it("leaves out units without a minor unit (metals, SDR, test and no-currency codes)", () => {
    for (const code of ["XAU", "XAG", "XDR", "XTS", "XXX", "XBA"]) {
      expect(findCurrency(code)).toBeUndefined();
    }
  });

  it("throws a VALIDATION_FAILED error naming the field for unknown codes", () => {
    expect(() => getCurrency("ABC")).toThrow(AppError);
    try {
      getCurrency("ABC");
    } catch (error) {
      const appError = error as AppError;
      expect(appError.code).toBe("VALIDATION_FAILED");
      expect(appError.fieldErrors).toEqual([
        {
          field: "/currency",
          code: "UNKNOWN_CURRENCY",
          detail: "ABC is not an active ISO 4217 currency with a minor unit",
        },
      ]);
    }
  });

  it.each([
    ["usd", "Currency codes are upper case: write USD, not usd"],
    ["HRK", "HRK has been withdrawn from ISO 4217; use EUR"],
    ["ZWL", "ZWL has been withdrawn from ISO 4217; use ZWG"],
    ["DOLLARS", '"DOLLARS" is not a three-letter ISO 4217 code such as USD'],
    [42, "A currency must be a three-letter ISO 4217 code such as USD"],
  ])("explains why %j is not accepted", (code, detail) => {
    expect(checkCurrencyCode(code, "/versions/0/currency")).toEqual({
      field: "/versions/0/currency",
      code: "UNKNOWN_CURRENCY",
      detail,
    });
  });

  it("accepts active codes without a field error", () => {
    expect(checkCurrencyCode("EUR", "/currency")).toBeNull();
  });
});
