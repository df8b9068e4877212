import { describe, expect, it } from "vitest";
import { call, callJson, unique } from "../support/http.ts";
import { createMeter, expectProblem, type MeterJson, pageThrough } from "./support.ts";

describe("meters", () => {
  it("creates a meter and reads it back", async () => {
    const key = unique("tokens_in");
    const created = await callJson<MeterJson>("/v1/meters", 201, {
      body: {
        key,
        name: "Input tokens",
        description: "Prompt tokens",
        aggregation: "sum",
        unit: "tokens",
        valueProperty: "tokens",
        groupBy: ["model", "region"],
      },
    });
    expect(created).toEqual({
      key,
      name: "Input tokens",
      description: "Prompt tokens",
      aggregation: "sum",
      unit: "tokens",
      valueProperty: "tokens",
      seriesProperty: null,
      heartbeatTimeoutSeconds: null,
      allowNegative: false,
      groupBy: ["model", "region"],
      revision: 1,
      createdAt: created.createdAt,
      updatedAt: created.createdAt,
    });
    expect(await callJson(`/v1/meters/${key}`, 200)).toEqual(created);
  });

  it.each([
    [{ aggregation: "sum", allowNegative: true }],
    [{ aggregation: "count" }],
    [{ aggregation: "max", valueProperty: "gb" }],
    [{ aggregation: "unique_count", valueProperty: "user_id" }],
    [{ aggregation: "latest", allowNegative: true }],
    [{ aggregation: "time_weighted", seriesProperty: "deployment", heartbeatTimeoutSeconds: 300 }],
  ])("creates a %o meter", async (fields) => {
    const meter = await createMeter(fields);
    expect(meter).toMatchObject(fields);
  });

  it("names a meter after its key unless told otherwise", async () => {
    const meter = await createMeter();
    expect(meter.name).toBe(meter.key);
  });

  it("refuses a second meter with the same key", async () => {
    const meter = await createMeter();
    await expectProblem("/v1/meters", 409, "ALREADY_EXISTS", {
      body: { key: meter.key, aggregation: "count", unit: "calls" },
    });
  });

  it("answers 404 for a meter that does not exist", async () => {
    await expectProblem("/v1/meters/no-such-meter", 404, "NOT_FOUND");
    await expectProblem("/v1/meters/no-such-meter", 404, "NOT_FOUND", {
      method: "PATCH",
      body: { name: "x" },
    });
  });

  it("changes name, description, unit and breakdowns, bumping its revision", async () => {
    const meter = await createMeter({ groupBy: ["region"] });
    const changed = await callJson<MeterJson>(`/v1/meters/${meter.key}`, 200, {
      method: "PATCH",
      body: { name: "Renamed", description: "Now described", unit: "GB", groupBy: ["model"] },
    });
    expect(changed).toMatchObject({
      key: meter.key,
      name: "Renamed",
      description: "Now described",
      unit: "GB",
      groupBy: ["model"],
      revision: 2,
    });
    expect(await callJson(`/v1/meters/${meter.key}`, 200)).toEqual(changed);
  });

  it("refuses to change how events are counted, naming each field", async () => {
    const meter = await createMeter({ aggregation: "sum" });
    const problem = await expectProblem(`/v1/meters/${meter.key}`, 409, "IMMUTABLE_FIELD", {
      method: "PATCH",
      body: { name: "Ok", aggregation: "max", allowNegative: true, valueProperty: "v" },
    });
    expect(problem.detail).toContain("Create a new meter");
    expect(problem.errors?.map((e) => [e.field, e.code])).toEqual([
      ["/aggregation", "IMMUTABLE"],
      ["/valueProperty", "IMMUTABLE"],
      ["/allowNegative", "IMMUTABLE"],
    ]);
    // Nothing changed, not even the allowed field sent alongside.
    expect((await callJson<MeterJson>(`/v1/meters/${meter.key}`, 200)).name).toBe(meter.key);
  });

  it("accepts immutable fields repeated unchanged", async () => {
    const meter = await createMeter({ aggregation: "sum" });
    const changed = await callJson<MeterJson>(`/v1/meters/${meter.key}`, 200, {
      method: "PATCH",
      body: { key: meter.key, aggregation: "sum", allowNegative: false, unit: "calls" },
    });
    expect(changed.unit).toBe("calls");
  });

  it("lists every meter exactly once when paging by 3", async () => {
    const prefix = unique("page");
    const keys = Array.from({ length: 7 }, (_, i) => `${prefix}-${i}`);
    for (const key of keys) {
      await createMeter({ key });
    }
    const pages = await pageThrough<MeterJson>("/v1/meters", 3);
    const all = pages.flat().map((m) => m.key);
    expect(new Set(all).size).toBe(all.length);
    expect([...all].sort()).toEqual(all);
    expect(all.filter((k) => k.startsWith(`${prefix}-`))).toEqual(keys);
    expect(pages.slice(0, -1).every((page) => page.length === 3)).toBe(true);
  });

  it("replays a create sent again with the same Idempotency-Key", async () => {
    const idem = crypto.randomUUID();
    const body = { key: unique("idem"), aggregation: "count", unit: "calls" };
    const first = await call("/v1/meters", { body, headers: { "idempotency-key": idem } });
    const firstText = await first.text();
    expect(first.status).toBe(201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    // The same JSON with other whitespace and key order is the same request.
    const again = await call("/v1/meters", {
      rawBody: JSON.stringify({ unit: "calls", aggregation: "count", key: body.key }, null, 2),
      headers: { "idempotency-key": idem, "content-type": "application/json" },
    });
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await again.text()).toBe(firstText);
  });

  it("refuses an Idempotency-Key reused with another body", async () => {
    const idem = crypto.randomUUID();
    await callJson("/v1/meters", 201, {
      body: { key: unique("idem"), aggregation: "count", unit: "calls" },
      headers: { "idempotency-key": idem },
    });
    await expectProblem("/v1/meters", 409, "IDEMPOTENCY_CONFLICT", {
      body: { key: unique("idem"), aggregation: "count", unit: "calls" },
      headers: { "idempotency-key": idem },
    });
  });

  it("creates once under concurrent retries with one Idempotency-Key", async () => {
    const idem = crypto.randomUUID();
    const body = { key: unique("race"), aggregation: "sum", unit: "GB" };
    const responses = await Promise.all(
      Array.from({ length: 5 }, () =>
        call("/v1/meters", { body, headers: { "idempotency-key": idem } }),
      ),
    );
    const texts = await Promise.all(responses.map((r) => r.text()));
    expect(responses.map((r) => r.status)).toEqual([201, 201, 201, 201, 201]);
    expect(new Set(texts).size).toBe(1);
    expect(responses.filter((r) => r.headers.get("idempotent-replayed") === null).length).toBe(1);
  });

  it("runs a create again when the first attempt failed", async () => {
    const idem = crypto.randomUUID();
    const key = unique("retry");
    await expectProblem("/v1/meters", 422, "VALIDATION_FAILED", {
      body: { key, aggregation: "median", unit: "u" },
      headers: { "idempotency-key": idem },
    });
    // A failed create stores nothing under the key, so the corrected request may reuse it.
    await callJson("/v1/meters", 201, {
      body: { key, aggregation: "sum", unit: "u" },
      headers: { "idempotency-key": idem },
    });
  });
});
