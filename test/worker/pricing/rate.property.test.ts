import fc from "fast-check";
import { describe, it } from "vitest";
import { Decimal, dec } from "../../../lib/money/decimal.ts";
import { explainTotal } from "../../../lib/pricing/explain.ts";
import {
  rateEvent,
  rateEvents,
  rateIncrement,
  ratePerEvent,
  rateTotal,
} from "../../../lib/pricing/rate.ts";
import type { PercentagePriceInput, PriceInput, TierInput } from "../../../lib/pricing/types.ts";
import { percentagePrice, quantityPrice } from "./fixtures.ts";

type QuantityInput = Exclude<PriceInput, PercentagePriceInput>;

/** A decimal string with a coefficient in [min, max] and up to `maxScale` fractional digits. */
function decimalText(min: bigint, max: bigint, maxScale: number): fc.Arbitrary<string> {
  return fc
    .record({ coefficient: fc.bigInt({ min, max }), scale: fc.integer({ min: 0, max: maxScale }) })
    .map(({ coefficient, scale }) => Decimal.fromParts(coefficient, scale).toString());
}

const unitPriceArb = decimalText(0n, 10n ** 9n, 12);
const feeArb = fc.option(decimalText(0n, 10n ** 4n, 2), { nil: undefined });
const includedArb = fc.option(decimalText(0n, 10n ** 5n, 2), { nil: undefined });

const tiersArb: fc.Arbitrary<TierInput[]> = fc
  .array(
    fc.record({ width: decimalText(1n, 10n ** 6n, 3), unitPrice: unitPriceArb, flatFee: feeArb }),
    { minLength: 1, maxLength: 5 },
  )
  .map((raw) => {
    let bound = Decimal.ZERO;
    return raw.map(({ width, unitPrice, flatFee }, index) => {
      bound = bound.add(dec(width));
      const tier: TierInput = {
        upTo: index === raw.length - 1 ? null : bound.toString(),
        unitPrice,
      };
      if (flatFee !== undefined) {
        tier.flatFee = flatFee;
      }
      return tier;
    });
  });

function withIncluded<T extends QuantityInput>(input: T, included: string | undefined): T {
  return included === undefined ? input : { ...input, includedQuantity: included };
}

const quantityPriceArb: fc.Arbitrary<QuantityInput> = fc.oneof(
  fc
    .record({ unitPrice: unitPriceArb, included: includedArb })
    .map(({ unitPrice, included }) => withIncluded({ model: "per_unit", unitPrice }, included)),
  fc
    .record({
      packageSize: decimalText(1n, 10n ** 5n, 2),
      packagePrice: unitPriceArb,
      included: includedArb,
    })
    .map(({ packageSize, packagePrice, included }) =>
      withIncluded({ model: "package", packageSize, packagePrice }, included),
    ),
  fc
    .record({ tiers: tiersArb, included: includedArb })
    .map(({ tiers, included }) => withIncluded({ model: "graduated", tiers }, included)),
  fc
    .record({ tiers: tiersArb, included: includedArb })
    .map(({ tiers, included }) => withIncluded({ model: "volume", tiers }, included)),
);

const positiveIncrementArb = decimalText(1n, 10n ** 7n, 4).map(dec);
const anyIncrementArb = decimalText(-(10n ** 7n), 10n ** 7n, 4).map(dec);

/**
 * An independent oracle, written straight from the definitions in docs/pricing.md and reading
 * the JSON input, not the compiled price: no precomputed tier amounts, no shortcuts.
 */
function referenceTotal(input: QuantityInput, quantity: Decimal): Decimal {
  const billable = quantity.sub(dec(input.includedQuantity ?? "0"));
  if (!billable.isPositive()) {
    return Decimal.ZERO;
  }
  switch (input.model) {
    case "per_unit":
      return billable.mul(dec(input.unitPrice));
    case "package": {
      const size = dec(input.packageSize);
      const full = billable.div(size, 0, "DOWN");
      const packages = full.mul(size).eq(billable) ? full : full.add(Decimal.ONE);
      return packages.mul(dec(input.packagePrice));
    }
    case "graduated": {
      let amount = Decimal.ZERO;
      let lower = Decimal.ZERO;
      for (const tier of input.tiers) {
        if (billable.gt(lower)) {
          const top = tier.upTo === null ? billable : billable.min(dec(tier.upTo));
          amount = amount
            .add(top.sub(lower).mul(dec(tier.unitPrice)))
            .add(dec(tier.flatFee ?? "0"));
        }
        lower = tier.upTo === null ? lower : dec(tier.upTo);
      }
      return amount;
    }
    case "volume": {
      const tier = input.tiers.find((t) => t.upTo === null || billable.lte(dec(t.upTo)));
      if (tier === undefined) {
        throw new Error("the last tier is open, so a tier always matches");
      }
      return billable.mul(dec(tier.unitPrice)).add(dec(tier.flatFee ?? "0"));
    }
  }
}

describe("quantity rating properties", () => {
  it("rateTotal agrees with the reference definition, for any total", () => {
    fc.assert(
      fc.property(quantityPriceArb, anyIncrementArb, (input, quantity) => {
        return rateTotal(quantityPrice(input), quantity).eq(referenceTotal(input, quantity));
      }),
      { numRuns: 500 },
    );
  });

  it("positive increments: the marginals sum exactly to rateTotal of the final total", () => {
    fc.assert(
      fc.property(
        quantityPriceArb,
        fc.array(positiveIncrementArb, { maxLength: 40 }),
        (input, increments) => {
          const price = quantityPrice(input);
          let total = Decimal.ZERO;
          let billed = Decimal.ZERO;
          for (const increment of increments) {
            const after = total.add(increment);
            const marginal = rateIncrement(price, total, after);
            // Every model but volume is monotone: more usage never costs less.
            if (input.model !== "volume" && marginal.isNegative()) {
              return false;
            }
            billed = billed.add(marginal);
            total = after;
          }
          return billed.eq(rateTotal(price, total));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("increments of either sign (corrections): the marginals still sum exactly", () => {
    fc.assert(
      fc.property(
        quantityPriceArb,
        fc.array(anyIncrementArb, { maxLength: 40 }),
        (input, increments) => {
          const price = quantityPrice(input);
          let total = Decimal.ZERO;
          let billed = Decimal.ZERO;
          for (const increment of increments) {
            billed = billed.add(rateEvent(price, total, increment));
            total = total.add(increment);
          }
          return billed.eq(rateTotal(price, total));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("rateIncrement is exactly the difference of the two totals, in both directions", () => {
    fc.assert(
      fc.property(quantityPriceArb, anyIncrementArb, anyIncrementArb, (input, a, b) => {
        const price = quantityPrice(input);
        const difference = rateTotal(price, b).sub(rateTotal(price, a));
        return (
          rateIncrement(price, a, b).eq(difference) &&
          rateIncrement(price, b, a).eq(difference.neg())
        );
      }),
      { numRuns: 500 },
    );
  });

  it("the explanation's lines add up to rateTotal exactly", () => {
    fc.assert(
      fc.property(quantityPriceArb, anyIncrementArb, (input, quantity) => {
        const price = quantityPrice(input);
        const lines = explainTotal(price, quantity);
        const sum = Decimal.sum(lines.map((line) => line.amount));
        const covered = Decimal.sum(lines.map((line) => line.quantity));
        return sum.eq(rateTotal(price, quantity)) && covered.eq(quantity.max(Decimal.ZERO));
      }),
      { numRuns: 500 },
    );
  });
});

const percentageArb: fc.Arbitrary<PercentagePriceInput> = fc
  .record({
    ratePercent: decimalText(0n, 100n * 10n ** 6n, 6),
    fixedPerEvent: feeArb,
    bounds: fc.option(fc.tuple(decimalText(0n, 10n ** 4n, 2), decimalText(0n, 10n ** 4n, 2)), {
      nil: undefined,
    }),
  })
  .filter(({ ratePercent }) => dec(ratePercent).lte(dec("100")))
  .map(({ ratePercent, fixedPerEvent, bounds }) => {
    const input: PercentagePriceInput = { model: "percentage", ratePercent };
    if (fixedPerEvent !== undefined) {
      input.fixedPerEvent = fixedPerEvent;
    }
    if (bounds !== undefined) {
      const [low, high] = dec(bounds[0]).lte(dec(bounds[1])) ? bounds : [bounds[1], bounds[0]];
      input.minPerEvent = low;
      input.maxPerEvent = high;
    }
    return input;
  });

describe("percentage rating properties", () => {
  it("each fee lies within [min, max], and a refund reverses its charge exactly", () => {
    fc.assert(
      fc.property(percentageArb, positiveIncrementArb, (input, value) => {
        const price = percentagePrice(input);
        const fee = ratePerEvent(price, value);
        const aboveMin = price.minPerEvent === null || fee.gte(price.minPerEvent);
        const belowMax = price.maxPerEvent === null || fee.lte(price.maxPerEvent);
        return aboveMin && belowMax && ratePerEvent(price, value.neg()).eq(fee.neg());
      }),
      { numRuns: 300 },
    );
  });

  it("the period amount is the sum of what each event was rated in real time", () => {
    fc.assert(
      fc.property(percentageArb, fc.array(anyIncrementArb, { maxLength: 40 }), (input, values) => {
        const price = percentagePrice(input);
        let total = Decimal.ZERO;
        let billed = Decimal.ZERO;
        for (const value of values) {
          billed = billed.add(rateEvent(price, total, value));
          total = total.add(value);
        }
        return billed.eq(rateEvents(price, values));
      }),
      { numRuns: 200 },
    );
  });
});
