import { beforeAll, describe, expect, it } from "vitest";
import { callJson, unique } from "../support/http.ts";
import {
  type AccountJson,
  createAccount,
  createMeter,
  createPlan,
  expectProblem,
  type MeterJson,
  type PlanJson,
  secondsFromNow,
} from "./support.ts";

let meter: MeterJson;
let plan: PlanJson;
let account: AccountJson;
let accountKey: string;

beforeAll(async () => {
  meter = await createMeter();
  plan = await createPlan({});
  account = await createAccount({ planId: plan.id });
  accountKey = (
    await callJson<{ key: string }>(`/v1/accounts/${account.id}/api-keys`, 201, { body: {} })
  ).key;
});

interface Route {
  method: "GET" | "POST" | "PATCH";
  path: () => string;
  body?: () => unknown;
}

const ROUTES: Route[] = [
  {
    method: "POST",
    path: () => "/v1/meters",
    body: () => ({ key: unique("m"), aggregation: "count", unit: "calls" }),
  },
  { method: "GET", path: () => "/v1/meters" },
  { method: "GET", path: () => `/v1/meters/${meter.key}` },
  { method: "PATCH", path: () => `/v1/meters/${meter.key}`, body: () => ({ name: "x" }) },
  {
    method: "POST",
    path: () => "/v1/plans",
    body: () => ({ key: unique("p"), name: "P", versions: [{ currency: "USD", prices: {} }] }),
  },
  { method: "GET", path: () => "/v1/plans" },
  { method: "GET", path: () => `/v1/plans/${plan.id}` },
  {
    method: "POST",
    path: () => `/v1/plans/${plan.id}/versions`,
    body: () => ({ prices: {}, effectiveFrom: secondsFromNow(3_600) }),
  },
  {
    method: "POST",
    path: () => "/v1/accounts",
    body: () => ({
      name: "A",
      currency: "USD",
      timeZone: "UTC",
      billingInterval: { unit: "month", count: 1, anchorDay: 1 },
    }),
  },
  { method: "GET", path: () => "/v1/accounts" },
  { method: "GET", path: () => `/v1/accounts/${account.id}` },
  { method: "PATCH", path: () => `/v1/accounts/${account.id}`, body: () => ({ name: "x" }) },
  {
    method: "POST",
    path: () => `/v1/accounts/${account.id}/plan`,
    body: () => ({ planId: "plan_other", effectiveFrom: secondsFromNow(3_600) }),
  },
];

describe.each(ROUTES)("$method catalogue route (auth contract)", (route) => {
  const options = (key: string | null) => ({
    method: route.method,
    key,
    ...(route.body ? { body: route.body() } : {}),
  });

  it(`${route.method} without a key is 401`, async () => {
    await expectProblem(route.path(), 401, "UNAUTHENTICATED", options(null));
  });

  it(`${route.method} with a wrong key is 401`, async () => {
    await expectProblem(route.path(), 401, "UNAUTHENTICATED", options("ml_not_a_real_key_0000"));
  });

  it(`${route.method} with an account key is 403`, async () => {
    await expectProblem(route.path(), 403, "FORBIDDEN", options(accountKey));
  });
});

describe("catalogue auth", () => {
  it("changes nothing for a refused caller", async () => {
    const key = unique("refused");
    await expectProblem("/v1/meters", 403, "FORBIDDEN", {
      key: accountKey,
      body: { key, aggregation: "count", unit: "calls" },
    });
    await expectProblem(`/v1/meters/${key}`, 404, "NOT_FOUND");
    const read = await callJson<AccountJson>(`/v1/accounts/${account.id}`, 200);
    expect(read.name).toBe(account.name);
  });

  it("documents every catalogue route in the OpenAPI document", async () => {
    const doc = await callJson<{ paths: Record<string, Record<string, unknown>> }>(
      "/openapi.json",
      200,
    );
    const documented = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(documented).toEqual(
      expect.arrayContaining([
        "POST /v1/meters",
        "GET /v1/meters",
        "GET /v1/meters/{key}",
        "PATCH /v1/meters/{key}",
        "POST /v1/plans",
        "GET /v1/plans",
        "GET /v1/plans/{id}",
        "POST /v1/plans/{id}/versions",
        "POST /v1/accounts",
        "GET /v1/accounts",
        "GET /v1/accounts/{id}",
        "PATCH /v1/accounts/{id}",
        "POST /v1/accounts/{id}/plan",
      ]),
    );
  });
});
