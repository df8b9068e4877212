import { describe, expect, it } from "vitest";
import { dec } from "../../../lib/money/decimal.ts";
import { explainTotal, type RatingLine } from "../../../lib/pricing/explain.ts";
import { GRADUATED_API, quantityPrice, VOLUME_WITH_FEE } from "./fixtures.ts";

/** Lines with decimals as strings, as an invoice would serialise them. */
function plain(lines: RatingLine[]): unknown {
  return JSON.parse(JSON.stringify(lines));
}

describe("explainTotal", () => {
  it("shows one line per graduated tier entered", () => {
    expect(plain(explainTotal(quantityPrice(GRADUATED_API), dec("25000")))).toEqual([
      {
        kind: "tier",
        tierIndex: 0,
        quantity: "1000",
        packages: null,
        unitPrice: "0.002",
        flatFee: "0",
        amount: "2",
      },
      {
        kind: "tier",
        tierIndex: 1,
        quantity: "9000",
        packages: null,
        unitPrice: "0.0015",
        flatFee: "0",
        amount: "13.5",
      },
      {
        kind: "tier",
        tierIndex: 2,
        quantity: "15000",
        packages: null,
        unitPrice: "0.001",
        flatFee: "0",
        amount: "15",
      },
    ]);
  });

  it("stops at the tier the total ends in", () => {
    const lines = explainTotal(quantityPrice(GRADUATED_API), dec("1000"));
    expect(lines.map((line) => [line.tierIndex, line.quantity.toString()])).toEqual([[0, "1000"]]);
  });

  it("shows the single volume tier the total landed in, with its flat fee", () => {
    expect(plain(explainTotal(quantityPrice(VOLUME_WITH_FEE), dec("150")))).toEqual([
      {
        kind: "tier",
        tierIndex: 1,
        quantity: "150",
        packages: null,
        unitPrice: "0.9",
        flatFee: "5",
        amount: "140",
      },
    ]);
  });

  it("shows started packages", () => {
    const price = quantityPrice({ model: "package", packageSize: "1000", packagePrice: "0.50" });
    expect(plain(explainTotal(price, dec("2001")))).toEqual([
      {
        kind: "package",
        tierIndex: null,
        quantity: "2001",
        packages: "3",
        unitPrice: "0.5",
        flatFee: "0",
        amount: "1.5",
      },
    ]);
  });

  it("shows the allowance used before the priced quantity", () => {
    const price = quantityPrice({ model: "per_unit", unitPrice: "0.01", includedQuantity: "1000" });
    expect(plain(explainTotal(price, dec("1500")))).toEqual([
      {
        kind: "included",
        tierIndex: null,
        quantity: "1000",
        packages: null,
        unitPrice: "0",
        flatFee: "0",
        amount: "0",
      },
      {
        kind: "unit",
        tierIndex: null,
        quantity: "500",
        packages: null,
        unitPrice: "0.01",
        flatFee: "0",
        amount: "5",
      },
    ]);
    expect(plain(explainTotal(price, dec("400")))).toEqual([
      {
        kind: "included",
        tierIndex: null,
        quantity: "400",
        packages: null,
        unitPrice: "0",
        flatFee: "0",
        amount: "0",
      },
    ]);
  });

  it("has nothing to show for zero or negative totals", () => {
    expect(explainTotal(quantityPrice(GRADUATED_API), dec("0"))).toEqual([]);
    expect(explainTotal(quantityPrice(VOLUME_WITH_FEE), dec("-3"))).toEqual([]);
  });
});
