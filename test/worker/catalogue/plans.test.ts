import { beforeAll, describe, expect, it } from "vitest";
import { call, callJson, unique } from "../support/http.ts";
import {
  createMeter,
  createPlan,
  expectProblem,
  FIVE_TIERS,
  type MeterJson,
  type PlanJson,
  pageThrough,
  secondsFromNow,
} from "./support.ts";

let tokens: MeterJson;
let payments: MeterJson;

beforeAll(async () => {
  tokens = await createMeter({ aggregation: "sum", unit: "tokens" });
  payments = await createMeter({ aggregation: "sum", unit: "USD" });
});

describe("plans", () => {
  it("creates a plan with its first version and reads it back", async () => {
    const key = unique("pro");
    const created = await callJson<PlanJson & { createdAt: string }>("/v1/plans", 201, {
      body: {
        key,
        name: "Pro",
        versions: [
          {
            currency: "USD",
            baseFee: "20.00",
            effectiveFrom: "2026-01-01T00:00:00Z",
            prices: {
              [tokens.key]: { ...FIVE_TIERS, includedQuantity: "1000.0" },
              [payments.key]: { model: "percentage", ratePercent: "2.9", fixedPerEvent: "0.30" },
            },
          },
        ],
      },
    });
    const version = created.versions[0];
    expect(created).toMatchObject({ key, name: "Pro", currency: "USD" });
    expect(created.id).toMatch(/^plan_[0-9a-z]{26}$/);
    expect(version).toMatchObject({
      version: 1,
      effectiveFrom: "2026-01-01T00:00:00.000Z",
      currency: "USD",
      baseFee: "20",
    });
    // Prices are stored in their canonical form: decimals normalised, absent options omitted.
    expect(version?.prices[tokens.key]).toEqual({ ...FIVE_TIERS, includedQuantity: "1000" });
    expect(version?.prices[payments.key]).toEqual({
      model: "percentage",
      ratePercent: "2.9",
      fixedPerEvent: "0.3",
    });
    expect(await callJson(`/v1/plans/${created.id}`, 200)).toEqual(created);
  });

  it("starts the first version now when no time is given", async () => {
    const before = Math.floor(Date.now() / 1000) * 1000;
    const plan = await createPlan({});
    const fromMs = Date.parse(plan.versions[0]?.effectiveFrom as string);
    expect(fromMs).toBeGreaterThanOrEqual(before);
    expect(fromMs % 1000).toBe(0);
  });

  it("adds a version that takes effect later, keeping the earlier ones", async () => {
    const plan = await createPlan({ baseFee: "10", prices: { [tokens.key]: FIVE_TIERS } });
    const effectiveFrom = secondsFromNow(3_600);
    const updated = await callJson<PlanJson>(`/v1/plans/${plan.id}/versions`, 201, {
      body: {
        effectiveFrom,
        baseFee: "12.5",
        prices: { [tokens.key]: { model: "per_unit", unitPrice: "0.0015" } },
      },
    });
    expect(updated.versions.map((v) => [v.version, v.effectiveFrom, v.baseFee])).toEqual([
      [1, plan.versions[0]?.effectiveFrom, "10"],
      [2, effectiveFrom, "12.5"],
    ]);
    expect(updated.versions[1]?.id).toMatch(/^planv_/);
    expect(updated.versions[1]?.currency).toBe("USD");
    expect(await callJson(`/v1/plans/${plan.id}`, 200)).toEqual(updated);
  });

  it("refuses a second plan with the same key", async () => {
    const plan = await createPlan({});
    await expectProblem("/v1/plans", 409, "ALREADY_EXISTS", {
      body: { key: plan.key, name: "Again", versions: [{ currency: "USD", prices: {} }] },
    });
  });

  it("answers 404 for a plan that does not exist", async () => {
    await expectProblem("/v1/plans/plan_nope", 404, "NOT_FOUND");
    await expectProblem("/v1/plans/plan_nope/versions", 404, "NOT_FOUND", {
      body: { prices: {}, effectiveFrom: secondsFromNow(600) },
    });
  });

  it("lists every plan exactly once when paging by 3", async () => {
    const mine = new Set<string>();
    for (let i = 0; i < 7; i += 1) {
      mine.add((await createPlan({})).id);
    }
    const pages = await pageThrough<PlanJson>("/v1/plans", 3);
    const ids = pages.flat().map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    expect(ids.filter((id) => mine.has(id)).length).toBe(7);
    expect(pages.flat().every((p) => p.versions.length >= 1)).toBe(true);
  });

  it("schedules a version once however often the request is retried with its key", async () => {
    const plan = await createPlan({});
    const idem = crypto.randomUUID();
    const body = { prices: {}, baseFee: "5", effectiveFrom: secondsFromNow(900) };
    const first = await call(`/v1/plans/${plan.id}/versions`, {
      body,
      headers: { "idempotency-key": idem },
    });
    const second = await call(`/v1/plans/${plan.id}/versions`, {
      body,
      headers: { "idempotency-key": idem },
    });
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(await second.text()).toBe(await first.text());
    expect((await callJson<PlanJson>(`/v1/plans/${plan.id}`, 200)).versions.length).toBe(2);
  });
});
