import { describe, expect, it } from "vitest";
import { buildInvoiceLines, type SegmentUsage } from "../../../lib/billing/lines.ts";
import type { PricingWindow } from "../../../lib/catalogue/account-config.ts";
import type { MeterDefinition } from "../../../lib/catalogue/meter.ts";

const OCT = { startMs: Date.UTC(2026, 9, 1), endMs: Date.UTC(2026, 10, 1) };

function meter(key: string, name = key): MeterDefinition {
  return {
    key,
    name,
    aggregation: "sum",
    unit: "unit",
    valueProperty: null,
    seriesProperty: null,
    heartbeatTimeoutSeconds: null,
    allowNegative: false,
    groupBy: [],
  };
}

function window(
  id: string,
  prices: Record<string, unknown>,
  fields: Partial<PricingWindow> = {},
): PricingWindow {
  return {
    fromMs: Date.UTC(2000, 0, 1),
    toMs: null,
    planId: "plan_a",
    planVersionId: id,
    version: 1,
    currency: "USD",
    baseFee: "0",
    prices,
    ...fields,
  };
}

function usage(meterKey: string, segment: string, quantity: string, amount: string): SegmentUsage {
  return { meter: meterKey, segment, quantity, amount, events: 1 };
}

/** The fields that trace a line, in a compact row for table assertions. */
function rows(lines: ReturnType<typeof buildInvoiceLines>["lines"]) {
  return lines.map((l) => [
    l.kind,
    l.description,
    l.tier,
    l.quantity?.toString() ?? null,
    l.unitPrice?.toString() ?? null,
    l.flatFee?.toString() ?? null,
    l.amount.toString(),
    Number(l.amountMinor),
  ]);
}

const GRADUATED = {
  model: "graduated",
  tiers: [
    { upTo: "100", unitPrice: "0.003" },
    { upTo: "1000", unitPrice: "0.0015", flatFee: "2" },
    { upTo: null, unitPrice: "0.001" },
  ],
};

describe("invoice lines", () => {
  it.each([
    {
      name: "graduated tiers, one line per tier entered, each rounded once (HALF_UP)",
      prices: { tokens: GRADUATED },
      usage: [usage("tokens", "v1", "150", "2.375")],
      expected: [
        ["usage", "Tokens · tier 1", 1, "100", "0.003", null, "0.3", 30],
        ["usage", "Tokens · tier 2", 2, "50", "0.0015", "2", "2.075", 208],
      ],
    },
    {
      name: "volume price: the whole quantity at its tier; included quantity shown at zero",
      prices: {
        tokens: {
          model: "volume",
          includedQuantity: "10",
          tiers: [
            { upTo: "100", unitPrice: "0.5" },
            { upTo: null, unitPrice: "0.25", flatFee: "1" },
          ],
        },
      },
      usage: [usage("tokens", "v1", "210", "51")],
      expected: [
        ["usage", "Tokens · included", null, "10", "0", null, "0", 0],
        ["usage", "Tokens · tier 2", 2, "200", "0.25", "1", "51", 5100],
      ],
    },
    {
      name: "package price: started packages at the package price",
      prices: { tokens: { model: "package", packageSize: "1000", packagePrice: "1.5" } },
      usage: [usage("tokens", "v1", "2001", "4.5")],
      expected: [["usage", "Tokens · 2001 in packages", null, "3", "1.5", null, "4.5", 450]],
    },
    {
      name: "take rate: one line carrying the ledger's rated amount",
      prices: { gmv: { model: "percentage", ratePercent: "2.9", fixedPerEvent: "0.3" } },
      usage: [usage("gmv", "v1", "1000", "32.3")],
      expected: [["usage", "Gmv · 2.9 % of 1000", null, "1000", null, null, "32.3", 3230]],
    },
    {
      name: "commitment: the minimum tops up what the meter rated",
      prices: { tokens: { model: "per_unit", unitPrice: "0.01", minimumCharge: "50" } },
      usage: [usage("tokens", "v1", "1000", "10")],
      expected: [
        ["usage", "Tokens", null, "1000", "0.01", null, "10", 1000],
        [
          "commitment",
          "Tokens · minimum commitment 50, top-up",
          null,
          null,
          null,
          null,
          "40",
          4000,
        ],
      ],
    },
    {
      name: "commitment met: no top-up line",
      prices: { tokens: { model: "per_unit", unitPrice: "0.01", minimumCharge: "5" } },
      usage: [usage("tokens", "v1", "1000", "10")],
      expected: [["usage", "Tokens", null, "1000", "0.01", null, "10", 1000]],
    },
  ])("$name", ({ prices, usage: used, expected }) => {
    const built = buildInvoiceLines({
      period: OCT,
      currency: "USD",
      windows: [window("v1", prices)],
      meters: [meter("tokens", "Tokens"), meter("gmv", "Gmv")],
      usage: used,
    });
    expect(rows(built.lines)).toEqual(expected);
    expect(built.drifts).toEqual([]);
    for (const line of built.lines) {
      expect([line.fromMs, line.toMs]).toEqual([OCT.startMs, OCT.endMs]);
    }
  });

  it("prorates base fees by exact seconds across plan versions in a DST month", () => {
    // March 2024 in New York: 2,674,800 s (one hour short); v1 until Mar 16 local midnight.
    const march = { startMs: Date.UTC(2024, 2, 1, 5), endMs: Date.UTC(2024, 3, 1, 4) };
    const switchMs = Date.UTC(2024, 2, 16, 4);
    const built = buildInvoiceLines({
      period: march,
      currency: "USD",
      windows: [
        window("v1", {}, { baseFee: "30", toMs: switchMs }),
        window("v2", {}, { baseFee: "60", fromMs: switchMs, version: 2 }),
      ],
      meters: [],
      usage: [],
    });
    expect(rows(built.lines)).toEqual([
      [
        "proration",
        "Base fee · plan_a v1, 1292400 of 2674800 s",
        null,
        null,
        null,
        null,
        "14.495289367429340511",
        1450,
      ],
      [
        "proration",
        "Base fee · plan_a v2, 1382400 of 2674800 s",
        null,
        null,
        null,
        null,
        "31.009421265141318977",
        3101,
      ],
    ]);
  });

  it("bills a whole-period base fee as one base_fee line", () => {
    const built = buildInvoiceLines({
      period: OCT,
      currency: "JPY",
      windows: [window("v1", {}, { baseFee: "1234.5", currency: "JPY" })],
      meters: [],
      usage: [],
    });
    expect(rows(built.lines)).toEqual([
      ["base_fee", "Base fee · plan_a v1", null, null, null, null, "1234.5", 1235],
    ]);
  });

  it("prorates a commitment for a plan that started mid-period, with no usage at all", () => {
    const built = buildInvoiceLines({
      period: OCT,
      currency: "USD",
      windows: [
        window(
          "v1",
          { tokens: { model: "per_unit", unitPrice: "1", minimumCharge: "50" } },
          { fromMs: Date.UTC(2026, 9, 16) },
        ),
      ],
      meters: [meter("tokens", "Tokens")],
      usage: [],
    });
    expect(rows(built.lines)).toEqual([
      [
        "commitment",
        "Tokens · minimum commitment 25.806451612903225806, top-up",
        null,
        null,
        null,
        null,
        "25.806451612903225806",
        2581,
      ],
    ]);
    expect([built.lines[0]?.fromMs, built.lines[0]?.toMs]).toEqual([
      Date.UTC(2026, 9, 16),
      OCT.endMs,
    ]);
  });

  it("re-rates usage with the plan version and bills that when the ledger's amount drifted", () => {
    const built = buildInvoiceLines({
      period: OCT,
      currency: "USD",
      windows: [window("v1", { tokens: { model: "per_unit", unitPrice: "0.01" } })],
      meters: [meter("tokens", "Tokens")],
      usage: [usage("tokens", "v1", "1000", "9")],
    });
    expect(rows(built.lines)).toEqual([
      ["usage", "Tokens", null, "1000", "0.01", null, "10", 1000],
    ]);
    expect(built.drifts).toEqual([
      { meter: "tokens", segment: "v1", quantity: "1000", ledgerAmount: "9", reratedAmount: "10" },
    ]);
  });

  it("splits a meter's usage by plan version, in time order, and leaves unpriced usage off", () => {
    const midMs = Date.UTC(2026, 9, 11);
    const built = buildInvoiceLines({
      period: OCT,
      currency: "USD",
      windows: [
        window("v1", { tokens: { model: "per_unit", unitPrice: "0.01" } }, { toMs: midMs }),
        window(
          "v2",
          { tokens: { model: "per_unit", unitPrice: "0.02" } },
          { fromMs: midMs, version: 2 },
        ),
      ],
      meters: [meter("tokens", "Tokens"), meter("other", "Other")],
      usage: [
        usage("tokens", "v2", "50", "1"),
        usage("tokens", "v1", "100", "1"),
        usage("other", "v1", "7", "0"),
        usage("tokens", "unpriced", "3", "0"),
      ],
    });
    expect(rows(built.lines)).toEqual([
      ["usage", "Tokens", null, "100", "0.01", null, "1", 100],
      ["usage", "Tokens", null, "50", "0.02", null, "1", 100],
    ]);
    expect(built.lines.map((l) => [l.planVersionId, l.fromMs, l.toMs])).toEqual([
      ["v1", OCT.startMs, midMs],
      ["v2", midMs, OCT.endMs],
    ]);
    expect(built.unpriced.map((u) => `${u.meter}/${u.segment}`)).toEqual([
      "other/v1",
      "tokens/unpriced",
    ]);
  });
});
