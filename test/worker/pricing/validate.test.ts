import { describe, expect, it } from "vitest";
import { AppError } from "../../../lib/errors/index.ts";
import { PRICING_FIELD_CODES } from "../../../lib/pricing/codes.ts";
import { validatePlan, validatePlanVersion } from "../../../lib/pricing/plan.ts";
import { compilePrice, MAX_TIERS, validatePrice } from "../../../lib/pricing/validate.ts";
import { GRADUATED_API } from "./fixtures.ts";

const BASE = "/prices/tokens_in";

function tiers(...bounds: (string | null)[]) {
  return bounds.map((upTo) => ({ upTo, unitPrice: "1" }));
}

/** [what, price input, expected [field, code] pairs, in report order]. */
const PRICE_CASES: [string, unknown, [string, string][]][] = [
  ["a price that is not an object", "cheap", [["/prices/tokens_in", "INVALID_TYPE"]]],
  ["a missing model", { unitPrice: "1" }, [["/prices/tokens_in/model", "REQUIRED"]]],
  ["an unknown model", { model: "tiered" }, [["/prices/tokens_in/model", "UNKNOWN_MODEL"]]],
  ["a missing unit price", { model: "per_unit" }, [["/prices/tokens_in/unitPrice", "REQUIRED"]]],
  [
    "a number instead of a decimal string",
    { model: "per_unit", unitPrice: 0.002 },
    [["/prices/tokens_in/unitPrice", "INVALID_TYPE"]],
  ],
  [
    "a decimal in exponent form",
    { model: "per_unit", unitPrice: "2e-3" },
    [["/prices/tokens_in/unitPrice", "INVALID_DECIMAL"]],
  ],
  [
    "a typo in a field name",
    { model: "per_unit", unitPrice: "1", unit_price: "1" },
    [["/prices/tokens_in/unit_price", "UNKNOWN_FIELD"]],
  ],
  [
    "a negative unit price",
    { model: "per_unit", unitPrice: "-0.01" },
    [["/prices/tokens_in/unitPrice", "NEGATIVE_NOT_ALLOWED"]],
  ],
  [
    "a 13th fractional digit on a price",
    { model: "per_unit", unitPrice: "0.0000000000001" },
    [["/prices/tokens_in/unitPrice", "PRICE_TOO_PRECISE"]],
  ],
  [
    "a 19th fractional digit on a quantity",
    { model: "per_unit", unitPrice: "1", includedQuantity: "0.0000000000000000001" },
    [["/prices/tokens_in/includedQuantity", "QUANTITY_TOO_PRECISE"]],
  ],
  [
    "a price with 16 integer digits",
    { model: "per_unit", unitPrice: "1000000000000000" },
    [["/prices/tokens_in/unitPrice", "VALUE_TOO_LARGE"]],
  ],
  [
    "a zero package size",
    { model: "package", packageSize: "0", packagePrice: "1" },
    [["/prices/tokens_in/packageSize", "NOT_POSITIVE"]],
  ],
  ["no tiers", { model: "graduated", tiers: [] }, [["/prices/tokens_in/tiers", "NO_TIERS"]]],
  [
    "tiers that are not an array",
    { model: "volume", tiers: { upTo: null, unitPrice: "1" } },
    [["/prices/tokens_in/tiers", "INVALID_TYPE"]],
  ],
  [
    "too many tiers",
    {
      model: "graduated",
      tiers: [...Array.from({ length: MAX_TIERS }, (_, i) => String(i + 1)), null].map((upTo) => ({
        upTo,
        unitPrice: "1",
      })),
    },
    [["/prices/tokens_in/tiers", "TOO_MANY_TIERS"]],
  ],
  [
    "a tier starting above the previous bound",
    {
      model: "graduated",
      tiers: [
        { upTo: "1000", unitPrice: "0.002" },
        { from: "1001", upTo: "10000", unitPrice: "0.0015" },
        { upTo: null, unitPrice: "0.001" },
      ],
    },
    [["/prices/tokens_in/tiers/1/from", "TIER_GAP"]],
  ],
  [
    "a first tier not starting at zero",
    { model: "graduated", tiers: [{ from: "1", upTo: null, unitPrice: "1" }] },
    [["/prices/tokens_in/tiers/0/from", "TIER_GAP"]],
  ],
  [
    "a tier starting below the previous bound",
    {
      model: "volume",
      tiers: [
        { upTo: "100", unitPrice: "1" },
        { from: "99.5", upTo: null, unitPrice: "0.9" },
      ],
    },
    [["/prices/tokens_in/tiers/1/from", "TIER_OVERLAP"]],
  ],
  [
    "bounds that do not increase",
    { model: "graduated", tiers: tiers("100", "200", "200", null) },
    [["/prices/tokens_in/tiers/2/upTo", "TIER_NOT_INCREASING"]],
  ],
  [
    "a first bound of zero",
    { model: "graduated", tiers: tiers("0", null) },
    [["/prices/tokens_in/tiers/0/upTo", "NOT_POSITIVE"]],
  ],
  [
    "a closed last tier",
    { model: "graduated", tiers: tiers("100", "200") },
    [["/prices/tokens_in/tiers/1/upTo", "LAST_TIER_NOT_OPEN"]],
  ],
  [
    "an open tier before the last",
    { model: "volume", tiers: tiers("100", null, null) },
    [["/prices/tokens_in/tiers/1/upTo", "OPEN_TIER_NOT_LAST"]],
  ],
  [
    "a tier without upTo",
    { model: "volume", tiers: [{ unitPrice: "1" }] },
    [["/prices/tokens_in/tiers/0/upTo", "REQUIRED"]],
  ],
  [
    "a tier that is not an object",
    { model: "volume", tiers: [null] },
    [["/prices/tokens_in/tiers/0", "INVALID_TYPE"]],
  ],
  [
    "a rate above 100 %",
    { model: "percentage", ratePercent: "100.01" },
    [["/prices/tokens_in/ratePercent", "PERCENT_OUT_OF_RANGE"]],
  ],
  [
    "a per-event minimum above the maximum",
    { model: "percentage", ratePercent: "2.9", minPerEvent: "1", maxPerEvent: "0.5" },
    [["/prices/tokens_in/maxPerEvent", "MIN_ABOVE_MAX"]],
  ],
  [
    "a free allowance on a percentage price",
    { model: "percentage", ratePercent: "2.9", includedQuantity: "10" },
    [["/prices/tokens_in/includedQuantity", "MODIFIER_NOT_SUPPORTED"]],
  ],
  [
    "several problems at once, all reported",
    {
      model: "graduated",
      includedQuantity: "-1",
      tiers: [
        { upTo: "1000", unitPrice: "0.0000000000001" },
        { from: "999", upTo: "10", unitPrice: "x" },
        { upTo: "5", unitPrice: "1" },
      ],
    },
    [
      ["/prices/tokens_in/includedQuantity", "NEGATIVE_NOT_ALLOWED"],
      ["/prices/tokens_in/tiers/0/unitPrice", "PRICE_TOO_PRECISE"],
      ["/prices/tokens_in/tiers/1/from", "TIER_OVERLAP"],
      ["/prices/tokens_in/tiers/1/upTo", "TIER_NOT_INCREASING"],
      ["/prices/tokens_in/tiers/1/unitPrice", "INVALID_DECIMAL"],
      ["/prices/tokens_in/tiers/2/upTo", "LAST_TIER_NOT_OPEN"],
    ],
  ],
];

const VERSION = {
  currency: "USD",
  baseFee: "20",
  effectiveFrom: "2026-01-01T00:00:00Z",
  prices: { tokens_in: GRADUATED_API },
};

/** [what, plan input, expected [field, code] pairs]. */
const PLAN_CASES: [string, unknown, [string, string][]][] = [
  ["a plan that is not an object", [], [["", "INVALID_TYPE"]]],
  [
    "an unknown currency",
    { key: "pro", name: "Pro", versions: [{ ...VERSION, currency: "usd" }] },
    [["/versions/0/currency", "UNKNOWN_CURRENCY"]],
  ],
  [
    "an instant without a zone",
    { key: "pro", name: "Pro", versions: [{ ...VERSION, effectiveFrom: "2026-01-01T00:00:00" }] },
    [["/versions/0/effectiveFrom", "INVALID_INSTANT"]],
  ],
  [
    "an impossible date",
    { key: "pro", name: "Pro", versions: [{ ...VERSION, effectiveFrom: "2026-02-29T00:00:00Z" }] },
    [["/versions/0/effectiveFrom", "INVALID_INSTANT"]],
  ],
  [
    "a bad plan key and a bad meter key",
    {
      key: "pro plan",
      name: "Pro",
      versions: [{ ...VERSION, prices: { "tokens/in": GRADUATED_API } }],
    },
    [
      ["/key", "INVALID_KEY"],
      ["/versions/0/prices/tokens~1in", "INVALID_KEY"],
    ],
  ],
  ["a missing name", { key: "pro", versions: [VERSION] }, [["/name", "REQUIRED"]]],
  [
    "an over-long name",
    { key: "pro", name: "x".repeat(201), versions: [VERSION] },
    [["/name", "TOO_LONG"]],
  ],
  [
    "a name with a control character",
    { key: "pro", name: "Pro\u0000plan", versions: [VERSION] },
    [["/name", "INVALID_TEXT"]],
  ],
  [
    "too many priced meters",
    {
      key: "pro",
      name: "Pro",
      versions: [
        {
          ...VERSION,
          prices: Object.fromEntries(
            Array.from({ length: 101 }, (_, i) => [`m${i}`, { model: "per_unit", unitPrice: "1" }]),
          ),
        },
      ],
    },
    [["/versions/0/prices", "TOO_MANY_PRICES"]],
  ],
  ["no versions", { key: "pro", name: "Pro", versions: [] }, [["/versions", "NO_VERSIONS"]]],
  [
    "versions out of order",
    {
      key: "pro",
      name: "Pro",
      versions: [VERSION, { ...VERSION, effectiveFrom: "2025-12-31T23:00:00-01:00" }],
    },
    [["/versions/1/effectiveFrom", "VERSIONS_NOT_ORDERED"]],
  ],
  [
    "a bad price deep inside a version",
    {
      key: "pro",
      name: "Pro",
      versions: [
        VERSION,
        {
          ...VERSION,
          effectiveFrom: "2026-06-01T00:00:00Z",
          prices: { tokens_in: { model: "graduated", tiers: tiers("1", "2", null, "4") } },
        },
      ],
    },
    [
      ["/versions/1/prices/tokens_in/tiers/2/upTo", "OPEN_TIER_NOT_LAST"],
      ["/versions/1/prices/tokens_in/tiers/3/upTo", "LAST_TIER_NOT_OPEN"],
    ],
  ],
];

function fieldsAndCodes(errors: { field: string; code: string }[]): [string, string][] {
  return errors.map((error) => [error.field, error.code]);
}

describe("validatePrice", () => {
  it.each(PRICE_CASES)("reports %s", (_what, input, expected) => {
    const result = validatePrice(input, BASE);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(fieldsAndCodes(result.errors)).toEqual(expected);
      for (const error of result.errors) {
        expect(error.detail.length).toBeGreaterThan(0);
      }
    }
  });

  it("accepts `from` when it matches the previous bound, and canonicalises the input", () => {
    const result = validatePrice({
      model: "graduated",
      includedQuantity: "500.00",
      tiers: [
        { from: "0", upTo: "1000.0", unitPrice: "0.0020" },
        { from: "1000", upTo: null, unitPrice: "0.001", flatFee: "5.00" },
      ],
    });
    expect(result.ok && result.value.input).toEqual({
      model: "graduated",
      includedQuantity: "500",
      tiers: [
        { upTo: "1000", unitPrice: "0.002" },
        { upTo: null, unitPrice: "0.001", flatFee: "5" },
      ],
    });
  });

  it("treats JSON null as absent for optional fields", () => {
    const result = validatePrice({ model: "per_unit", unitPrice: "1", minimumCharge: null });
    expect(result.ok && result.value.minimumCharge).toBeNull();
  });

  it("compilePrice throws the field errors as one VALIDATION_FAILED AppError", () => {
    try {
      compilePrice({ model: "per_unit", unitPrice: "-1" });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe("VALIDATION_FAILED");
      expect(fieldsAndCodes((error as AppError).fieldErrors)).toEqual([
        ["/unitPrice", "NEGATIVE_NOT_ALLOWED"],
      ]);
    }
  });
});

describe("validatePlan", () => {
  it.each(PLAN_CASES)("reports %s", (_what, input, expected) => {
    const result = validatePlan(input);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(fieldsAndCodes(result.errors)).toEqual(expected);
    }
  });

  it("validates one version with paths from its root", () => {
    const result = validatePlanVersion({
      ...VERSION,
      prices: { tokens_in: { model: "graduated", tiers: tiers("1", "2", "2", null) } },
    });
    expect(!result.ok && fieldsAndCodes(result.errors)).toEqual([
      ["/prices/tokens_in/tiers/2/upTo", "TIER_NOT_INCREASING"],
    ]);
  });
});

describe("the validation codes", () => {
  it("are each exercised by a case above", () => {
    const seen = new Set<string>();
    for (const [, input, expected] of PRICE_CASES) {
      validatePrice(input, BASE);
      for (const [, code] of expected) {
        seen.add(code);
      }
    }
    for (const [, , expected] of PLAN_CASES) {
      for (const [, code] of expected) {
        seen.add(code);
      }
    }
    expect(Object.keys(PRICING_FIELD_CODES).filter((code) => !seen.has(code))).toEqual([]);
  });
});
