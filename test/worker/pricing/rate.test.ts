import { describe, expect, it } from "vitest";
import { dec } from "../../../lib/money/decimal.ts";
import { commitmentTopUp } from "../../../lib/pricing/commitment.ts";
import {
  rateEvent,
  rateEvents,
  rateIncrement,
  ratePerEvent,
  rateTotal,
} from "../../../lib/pricing/rate.ts";
import type {
  PercentagePriceInput,
  PriceInput,
  QuantityPrice,
} from "../../../lib/pricing/types.ts";
import { GRADUATED_API, percentagePrice, quantityPrice, VOLUME_WITH_FEE } from "./fixtures.ts";

type QuantityInput = Exclude<PriceInput, PercentagePriceInput>;

const PACKAGE_OF_1000: QuantityInput = {
  model: "package",
  packageSize: "1000",
  packagePrice: "0.50",
};
const FLAT_FEE_GRADUATED: QuantityInput = {
  model: "graduated",
  tiers: [
    { upTo: "10", unitPrice: "0", flatFee: "10" },
    { upTo: null, unitPrice: "1", flatFee: "5" },
  ],
};
const PICO_PRICE: QuantityInput = { model: "per_unit", unitPrice: "0.000000000001" };
const WITH_ALLOWANCE: QuantityInput = {
  model: "per_unit",
  unitPrice: "0.01",
  includedQuantity: "1000",
};
const GRADUATED_WITH_ALLOWANCE: QuantityInput = { ...GRADUATED_API, includedQuantity: "500" };

describe("rateTotal worked examples", () => {
  it.each([
    // The brief's examples.
    ["graduated 0.002/0.0015/0.001", GRADUATED_API, "25000", "30.5"],
    ["package of 1,000 @ 0.50", PACKAGE_OF_1000, "2001", "1.5"],
    ["volume with a tier-2 flat fee", VOLUME_WITH_FEE, "150", "140"],
    // Exact tier boundaries: upTo is inclusive.
    ["graduated at the first bound", GRADUATED_API, "1000", "2"],
    [
      "graduated just past the first bound",
      GRADUATED_API,
      "1000.000000000001",
      "2.0000000000000015",
    ],
    ["graduated at the second bound", GRADUATED_API, "10000", "15.5"],
    ["graduated one unit into tier 3", GRADUATED_API, "10001", "15.501"],
    ["graduated one unit", GRADUATED_API, "1", "0.002"],
    ["volume at its bound", VOLUME_WITH_FEE, "100", "100"],
    ["volume just past its bound", VOLUME_WITH_FEE, "100.5", "95.45"],
    ["volume one unit past its bound", VOLUME_WITH_FEE, "101", "95.9"],
    ["package exactly full", PACKAGE_OF_1000, "2000", "1"],
    ["package, a fraction of one started", PACKAGE_OF_1000, "0.5", "0.5"],
    // Zero: no usage, no charge, not even a flat fee.
    ["graduated on zero", GRADUATED_API, "0", "0"],
    ["volume on zero", VOLUME_WITH_FEE, "0", "0"],
    ["package on zero", PACKAGE_OF_1000, "0", "0"],
    ["flat fees on zero", FLAT_FEE_GRADUATED, "0", "0"],
    // Flat fees: charged once the quantity enters their tier.
    ["flat fee of tier 1 on the first unit", FLAT_FEE_GRADUATED, "1", "10"],
    ["flat fee of tier 1 at its bound", FLAT_FEE_GRADUATED, "10", "10"],
    ["both flat fees past the bound", FLAT_FEE_GRADUATED, "11", "16"],
    // Included quantity.
    ["allowance not exhausted", WITH_ALLOWANCE, "999", "0"],
    ["allowance exactly used", WITH_ALLOWANCE, "1000", "0"],
    ["allowance exceeded", WITH_ALLOWANCE, "1500", "5"],
    ["graduated after a 500 allowance", GRADUATED_WITH_ALLOWANCE, "25000", "30"],
    // 12 fractional digits and huge quantities, exactly.
    ["a pico-priced unit", PICO_PRICE, "1", "0.000000000001"],
    ["10^15 pico-priced units", PICO_PRICE, "1000000000000000", "1000"],
    [
      "graduated on 10^30 units",
      GRADUATED_API,
      "1000000000000000000000000000000",
      "1000000000000000000000000005.5",
    ],
    // Negative totals (after corrections) bill nothing.
    ["per_unit on a negative total", PICO_PRICE, "-5", "0"],
    ["graduated on a negative total", GRADUATED_API, "-5", "0"],
  ] as [string, QuantityInput, string, string][])(
    "%s: on %s → %s",
    (_name, input, quantity, amount) => {
      expect(rateTotal(quantityPrice(input), dec(quantity)).toString()).toBe(amount);
    },
  );

  it("refuses percentage prices, which are rated per event", () => {
    const price = percentagePrice({ model: "percentage", ratePercent: "2.9" });
    expect(() => rateTotal(price as unknown as QuantityPrice, dec("1"))).toThrow(
      "A percentage price is rated per event (ratePerEvent), not by total quantity",
    );
  });
});

describe("rateIncrement", () => {
  it.each([
    ["volume crossing into the cheaper tier is negative", VOLUME_WITH_FEE, "100", "101", "-4.1"],
    ["volume crossing back is positive", VOLUME_WITH_FEE, "101", "100", "4.1"],
    ["volume inside one tier", VOLUME_WITH_FEE, "120", "130", "9"],
    ["graduated across a bound", GRADUATED_API, "900", "1100", "0.35"],
    ["graduated across every bound", GRADUATED_API, "0", "25000", "30.5"],
    ["graduated correction downwards", GRADUATED_API, "25000", "24000", "-1"],
    ["per_unit correction downwards", { model: "per_unit", unitPrice: "0.5" }, "10", "4", "-3"],
    ["package starting a new package", PACKAGE_OF_1000, "1999", "2001", "0.5"],
    ["package inside a started package", PACKAGE_OF_1000, "1001", "1999", "0"],
    ["allowance crossed", WITH_ALLOWANCE, "900", "1100", "1"],
    ["inside the allowance", WITH_ALLOWANCE, "100", "900", "0"],
    ["flat fee entering tier 2", FLAT_FEE_GRADUATED, "10", "10.5", "5.5"],
    ["no change", GRADUATED_API, "1234", "1234", "0"],
  ] as [string, QuantityInput, string, string, string][])(
    "%s: %s → %s is %s",
    (_name, input, before, after, marginal) => {
      const price = quantityPrice(input);
      const increment = rateIncrement(price, dec(before), dec(after));
      expect(increment.toString()).toBe(marginal);
      const difference = rateTotal(price, dec(after)).sub(rateTotal(price, dec(before)));
      expect(increment.eq(difference)).toBe(true);
    },
  );
});

describe("percentage prices", () => {
  const card = percentagePrice({ model: "percentage", ratePercent: "2.9", minPerEvent: "0.30" });

  it.each([
    ["5.00", "0.3"],
    ["100.00", "2.9"],
    ["10.35", "0.30015"],
    ["0", "0"],
    ["-100.00", "-2.9"],
    ["-5.00", "-0.3"],
  ])("2.9 %% with a 0.30 minimum takes %s → %s", (value, fee) => {
    expect(ratePerEvent(card, dec(value)).toString()).toBe(fee);
  });

  it("adds the fixed part before applying the maximum", () => {
    const capped = percentagePrice({
      model: "percentage",
      ratePercent: "2.9",
      fixedPerEvent: "0.30",
      maxPerEvent: "5",
    });
    expect(ratePerEvent(capped, dec("100")).toString()).toBe("3.2");
    expect(ratePerEvent(capped, dec("1000")).toString()).toBe("5");
  });

  it("rates a period as the sum of its events", () => {
    const values = ["5.00", "100.00", "10.35", "-5.00"].map((value) => dec(value));
    expect(rateEvents(card, values).toString()).toBe("3.20015");
  });
});

describe("rateEvent (what the meter calls)", () => {
  it("uses the event's fee for percentage prices", () => {
    const card = percentagePrice({ model: "percentage", ratePercent: "2.9", minPerEvent: "0.30" });
    expect(rateEvent(card, dec("123456"), dec("5")).toString()).toBe("0.3");
  });

  it("uses the marginal on the running total for quantity prices", () => {
    const volume = quantityPrice(VOLUME_WITH_FEE);
    expect(rateEvent(volume, dec("100"), dec("1")).toString()).toBe("-4.1");
  });
});

describe("commitmentTopUp", () => {
  it.each([
    ["30.5", "50", "19.5"],
    ["60", "50", "0"],
    ["50", "50", "0"],
    ["0", "0.000000000001", "0.000000000001"],
  ])("rated %s against a minimum of %s tops up %s", (rated, minimum, topUp) => {
    expect(commitmentTopUp(dec(rated), dec(minimum)).toString()).toBe(topUp);
  });

  it("adds nothing without a minimum", () => {
    expect(commitmentTopUp(dec("0"), null).toString()).toBe("0");
  });

  it("is not part of real-time rating", () => {
    const price = quantityPrice({ model: "per_unit", unitPrice: "1", minimumCharge: "100" });
    expect(price.minimumCharge?.toString()).toBe("100");
    expect(rateTotal(price, dec("3")).toString()).toBe("3");
  });
});
