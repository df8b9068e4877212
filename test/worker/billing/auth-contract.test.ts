/**
 * The tenant contract of every billing route: no key → 401, a key that is not one → 401, another
 * account's key → 404 (existence is never revealed), the account's own key → 200 for reads and
 * 403 for admin-only writes. Plus tax rates, and the routes' presence in the OpenAPI document.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { call, callJson } from "../support/http.ts";
import { DAY_MS, seedAccount, seedPlan } from "./support.ts";

let mine = "";
let theirs = "";
let myKey = "";
let theirKey = "";

async function newKey(accountId: string): Promise<string> {
  return (await callJson<{ key: string }>(`/v1/accounts/${accountId}/api-keys`, 201, { body: {} }))
    .key;
}

beforeAll(async () => {
  const { planId } = await seedPlan([{ baseFee: "5", prices: {} }]);
  mine = await seedAccount({ planId, createdAtMs: Date.now() - DAY_MS });
  theirs = await seedAccount({ planId, createdAtMs: Date.now() - DAY_MS });
  myKey = await newKey(mine);
  theirKey = await newKey(theirs);
});

const READS = [
  (a: string) => `/v1/accounts/${a}/credit-grants`,
  (a: string) => `/v1/accounts/${a}/credit-ledger`,
  (a: string) => `/v1/accounts/${a}/status`,
  (a: string) => `/v1/accounts/${a}/tax-rates`,
  (a: string) => `/v1/accounts/${a}/invoices/upcoming`,
];

describe("billing routes: tenant contract", () => {
  it.each(READS.map((path) => [path("{id}"), path]))("GET %s", async (_name, path) => {
    const statuses = [
      (await call(path(mine), { key: null })).status,
      (await call(path(mine), { key: "mlk_nope" })).status,
      (await call(path(mine), { key: theirKey })).status,
      (await call(path(mine), { key: myKey })).status,
      (await call(path(mine))).status,
    ];
    expect(statuses).toEqual([401, 401, 404, 200, 200]);
  });

  it.each([
    [
      "POST",
      (a: string) => `/v1/accounts/${a}/credit-grants`,
      { amount: "1", kind: "promotional" },
    ],
    ["PUT", (a: string) => `/v1/accounts/${a}/tax-rates`, { taxRates: [] }],
    ["POST", () => "/v1/admin/invoice-runs", { accounts: ["x"] }],
  ] as const)("%s %s is the admin's", async (method, path, body) => {
    expect((await call(path(mine), { method, body, key: null })).status).toBe(401);
    expect((await call(path(mine), { method, body, key: myKey })).status).toBe(403);
    expect((await call(path(mine), { method, body, key: theirKey })).status).toBe(403);
  });
});

describe("tax rates", () => {
  it("replaces the rates, validating every one", async () => {
    const rates = [
      { name: "State", percent: "6.25" },
      { name: "City", percent: "2.375" },
    ];
    expect(
      await callJson(`/v1/accounts/${mine}/tax-rates`, 200, {
        method: "PUT",
        body: { taxRates: rates },
      }),
    ).toEqual({ taxRates: rates });
    expect(await callJson(`/v1/accounts/${mine}/tax-rates`, 200, { key: myKey })).toEqual({
      taxRates: rates,
    });
    const bad = await callJson<{ errors: { field: string; code: string }[] }>(
      `/v1/accounts/${mine}/tax-rates`,
      422,
      { method: "PUT", body: { taxRates: [{ name: "VAT", percent: "-1" }] } },
    );
    expect(bad.errors.map((e) => [e.field, e.code])).toEqual([["/0/percent", "invalid_value"]]);
  });
});

describe("OpenAPI", () => {
  it("documents every billing route", async () => {
    const doc = await callJson<{ paths: Record<string, Record<string, unknown>> }>(
      "/openapi.json",
      200,
    );
    const routes = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(routes).toEqual(
      expect.arrayContaining([
        "GET /v1/invoices",
        "GET /v1/invoices/{id}",
        "POST /v1/invoices/{id}/void",
        "POST /v1/invoices/{id}/credit-notes",
        "GET /v1/accounts/{accountId}/invoices/upcoming",
        "POST /v1/accounts/{accountId}/credit-grants",
        "GET /v1/accounts/{accountId}/credit-grants",
        "POST /v1/accounts/{accountId}/credit-grants/{grantId}/void",
        "GET /v1/accounts/{accountId}/credit-ledger",
        "GET /v1/accounts/{accountId}/status",
        "GET /v1/accounts/{accountId}/tax-rates",
        "PUT /v1/accounts/{accountId}/tax-rates",
        "POST /v1/admin/invoice-runs",
        "POST /v1/schedules/invoice-run",
      ]),
    );
  });
});
