/**
 * The pipeline's pure rules, table-driven: message validation, backoff, packing, insert tokens,
 * rollup aggregation and the drift comparison.
 */
import { describe, expect, it } from "vitest";
import { insertTokenFor } from "../../../lib/analytics/usage-sink.ts";
import { rollupChanges } from "../../../lib/ledger/rollups.ts";
import { compareTotals } from "../../../lib/pipeline/drift.ts";
import { packMessages } from "../../../lib/pipeline/pack.ts";
import { parseRatedUsageMessage } from "../../../lib/pipeline/parse-message.ts";
import type { RatedUsageMessage } from "../../../lib/pipeline/rated-usage-message.ts";
import {
  DEAD_LETTER_RETRY,
  RATED_USAGE_RETRY,
  retryDelaySeconds,
} from "../../../lib/pipeline/retry-policy.ts";

function message(seq: number, events = 1, records = 1): RatedUsageMessage {
  return {
    v: 1,
    kind: "rated_usage",
    batchId: `a:${seq}`,
    accountId: "a",
    sentMs: 1_000,
    records: Array.from({ length: records }, (_, n) => ({
      recordId: `a:${seq}:${n}`,
      meter: "m",
      periodStartMs: 0,
      periodEndMs: 86_400_000,
      segment: "s",
      planId: null,
      day: "1970-01-01",
      quantityDelta: "1.25",
      amountDelta: "-0.5",
      currency: "EUR",
      eventCount: 2,
      quantityTotal: "1.25",
      amountTotal: "0.5",
    })),
    events: Array.from({ length: events }, (_, n) => ({
      id: `e${n}`,
      meter: "m",
      value: null,
      timeMs: 10,
      receivedMs: 11,
      periodStartMs: 0,
      properties: { k: "v" },
    })),
  };
}

describe("parseRatedUsageMessage", () => {
  it("accepts a well-formed message unchanged", () => {
    const m = message(1, 2, 2);
    expect(parseRatedUsageMessage(structuredClone(m))).toEqual({ ok: true, message: m });
  });

  const broken: [string, (m: Record<string, unknown>) => unknown, string][] = [
    ["a number", () => 42, "body: expected an object"],
    ["an array", () => [], "body: expected an object"],
    ["no version", (m) => ({ ...m, v: undefined }), "v: unsupported message version undefined"],
    ["another kind", (m) => ({ ...m, kind: "other" }), 'kind: expected "rated_usage"'],
    ["a foreign batch id", (m) => ({ ...m, batchId: "b:1" }), "batchId: expected"],
    ["records not an array", (m) => ({ ...m, records: {} }), "records: expected an array"],
    [
      "a float quantity",
      (m) => ({ ...m, records: [{ ...(m.records as object[])[0], quantityDelta: 1.5 }] }),
      "records[0].quantityDelta: expected decimal text",
    ],
    [
      "an exponent",
      (m) => ({ ...m, records: [{ ...(m.records as object[])[0], amountDelta: "1e-3" }] }),
      "records[0].amountDelta: expected decimal text",
    ],
    [
      "47 integer digits",
      (m) => ({ ...m, records: [{ ...(m.records as object[])[0], amountTotal: "1".repeat(47) }] }),
      "records[0].amountTotal: expected decimal text",
    ],
    [
      "a period ending before it starts",
      (m) => ({ ...m, records: [{ ...(m.records as object[])[0], periodEndMs: 0 }] }),
      "records[0].periodEndMs: expected an instant after periodStartMs",
    ],
    [
      "a lowercase currency",
      (m) => ({ ...m, records: [{ ...(m.records as object[])[0], currency: "eur" }] }),
      "records[0].currency: expected an ISO 4217 code",
    ],
    [
      "a negative event count",
      (m) => ({ ...m, records: [{ ...(m.records as object[])[0], eventCount: -1 }] }),
      "records[0].eventCount: expected a non-negative integer",
    ],
    [
      "a leap day that is not",
      (m) => ({ ...m, records: [{ ...(m.records as object[])[0], day: "2025-02-29" }] }),
      "records[0].day: expected a calendar date",
    ],
    [
      "a NUL in a meter name",
      (m) => ({ ...m, records: [{ ...(m.records as object[])[0], meter: "to\u0000kens" }] }),
      "records[0].meter: expected a non-empty string of at most 512 characters without control",
    ],
    [
      "a fractional event time",
      (m) => ({ ...m, events: [{ ...(m.events as object[])[0], timeMs: 1.5 }] }),
      "events[0].timeMs: expected epoch milliseconds",
    ],
    [
      "a numeric property",
      (m) => ({ ...m, events: [{ ...(m.events as object[])[0], properties: { k: 1 } }] }),
      "events[0].properties.k: expected a string",
    ],
  ];
  it.each(broken)("refuses %s with the path of the problem", (_name, mutate, reason) => {
    const result = parseRatedUsageMessage(mutate(structuredClone(message(1)) as never));
    expect(result.ok).toBe(false);
    expect(result.ok ? "" : result.reason).toContain(reason);
  });

  it("keeps the batch and account ids of a refused message when readable", () => {
    expect(parseRatedUsageMessage({ ...message(3), v: 2 })).toMatchObject({
      ok: false,
      batchId: "a:3",
      accountId: "a",
    });
  });
});

describe("retryDelaySeconds", () => {
  it.each([
    [1, 5, 30],
    [2, 10, 60],
    [3, 20, 120],
    [6, 160, 960],
    [7, 300, 1_920],
    [9, 300, 3_600],
    [1_000, 300, 3_600],
    [0, 5, 30],
  ])("attempt %i waits %i s (rated usage) and %i s (dead letters)", (attempts, rated, dead) => {
    expect(retryDelaySeconds(attempts, RATED_USAGE_RETRY)).toBe(rated);
    expect(retryDelaySeconds(attempts, DEAD_LETTER_RETRY)).toBe(dead);
  });
});

describe("packMessages", () => {
  it("packs in batch-id order into groups of at most the row cap", () => {
    const messages = [message(3, 4), message(1, 2), message(2, 5), message(4, 20)];
    const groups = packMessages(messages, 10).map((g) => g.map((m) => m.batchId));
    // Rows per message: events + 1 record = 3, 6, 5, 21.
    expect(groups).toEqual([["a:1", "a:2"], ["a:3"], ["a:4"]]);
  });
});

describe("insertTokenFor", () => {
  it("depends on the set of batch ids only", async () => {
    const one = await insertTokenFor(["a:1", "b:7"]);
    expect(await insertTokenFor(["b:7", "a:1"])).toBe(one);
    expect(await insertTokenFor(["a:1"])).not.toBe(one);
    expect(one).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("rollupChanges", () => {
  it("sums signed deltas exactly per rollup key, in key order", () => {
    const a = message(1, 0, 2);
    const b = message(2, 0, 1);
    (b.records[0] as { day: string }).day = "1970-01-02";
    expect(
      rollupChanges([b, a]).map((c) => [
        c.day,
        c.quantity.toString(),
        c.amount.toString(),
        c.events,
      ]),
    ).toEqual([
      ["1970-01-01", "2.5", "-1", 4],
      ["1970-01-02", "1.25", "-0.5", 2],
    ]);
  });
});

describe("compareTotals", () => {
  const meterTotals = [
    { meter: "m", segment: "s1", quantity: "1.5", amount: "0.10", events: 2 },
    { meter: "m", segment: "s2", quantity: "0.5", amount: "0.05", events: 1 },
    { meter: "n", segment: "s1", quantity: "3", amount: "0", events: 3 },
  ];
  it("compares by value across segments, treating a missing meter as zero", () => {
    const rows = compareTotals(
      0,
      meterTotals,
      [{ meter: "m", quantity: "2.000", amount: "0.150", events: 3 }],
      [
        { meter: "m", quantity: "2", amount: "0.15", events: 3 },
        { meter: "n", quantity: "3", amount: "0", events: 3 },
        { meter: "x", quantity: "1", amount: "1", events: 1 },
      ],
    );
    expect(rows.map((r) => [r.meter, r.postgresMatches, r.clickhouseMatches])).toEqual([
      ["m", true, true],
      ["n", false, true],
      ["x", true, false],
    ]);
    expect(rows[0]?.durableObject).toEqual({ quantity: "2", amount: "0.15", events: 3 });
  });

  it("marks an unreadable sink as unknown rather than different", () => {
    const rows = compareTotals(0, meterTotals, null, null);
    expect(rows.map((r) => [r.postgres, r.postgresMatches, r.clickhouseMatches])).toEqual([
      [null, null, null],
      [null, null, null],
    ]);
  });
});
