import { beforeAll, describe, expect, it } from "vitest";
import { CATALOGUE_FIELD_CODES } from "../../../lib/catalogue/codes.ts";
import { call } from "../support/http.ts";
import {
  type AccountJson,
  createAccount,
  createMeter,
  createPlan,
  fieldErrors,
  type MeterJson,
  type PlanJson,
  secondsFromNow,
} from "./support.ts";

let sum: MeterJson;
let count: MeterJson;
let usd: PlanJson;
let eur: PlanJson;
let future: PlanJson;
let scheduled: PlanJson;
let account: AccountJson;

beforeAll(async () => {
  sum = await createMeter({ aggregation: "sum" });
  count = await createMeter({ aggregation: "count" });
  usd = await createPlan({ prices: { [sum.key]: { model: "per_unit", unitPrice: "0.01" } } });
  eur = await createPlan({ currency: "EUR" });
  future = await createPlan({ effectiveFrom: secondsFromNow(10 * 86_400) });
  scheduled = await callPlanWithTwoVersions();
  account = await createAccount({ planId: usd.id });
});

/** A plan whose second version is already scheduled 2,000 s ahead. */
async function callPlanWithTwoVersions(): Promise<PlanJson> {
  const response = await call("/v1/plans", {
    body: {
      key: `two-${crypto.randomUUID().slice(0, 8)}`,
      name: "Two versions",
      versions: [
        { currency: "USD", prices: {} },
        { currency: "USD", prices: {}, effectiveFrom: secondsFromNow(2_000) },
      ],
    },
  });
  expect(response.status).toBe(201);
  return (await response.json()) as PlanJson;
}

interface Case {
  code: string;
  method: "POST" | "PATCH" | "GET";
  path: () => string;
  body?: () => unknown;
  headers?: Record<string, string>;
  errors: () => { field: string; code: string }[];
}

const meterBody = (fields: Record<string, unknown>) => () => ({
  key: "valid_key",
  aggregation: "sum",
  unit: "unit",
  ...fields,
});
const price = (p: unknown) => () => ({
  key: "valid-plan",
  name: "Plan",
  versions: [{ currency: "USD", prices: { [sum.key]: p } }],
});
const planVersion = (fields: Record<string, unknown>) => () => ({
  prices: {},
  effectiveFrom: secondsFromNow(600),
  ...fields,
});
const accountBody = (fields: Record<string, unknown>) => () => ({
  name: "Account",
  currency: "USD",
  timeZone: "UTC",
  billingInterval: { unit: "month", count: 1, anchorDay: 1 },
  ...fields,
});
const one = (field: string, code: string) => () => [{ field, code }];

/** A plan whose one price is `p`, expected to fail with `code` at `tail` within the price. */
function priceCase(code: string, tail: string, p: unknown): Case {
  return {
    code,
    method: "POST",
    path: () => "/v1/plans",
    body: price(p),
    errors: () => [{ field: `/versions/0/prices/${sum.key}${tail}`, code }],
  };
}

const tiers = (list: unknown[]) => ({ model: "graduated", tiers: list });

const CASES: Case[] = [
  // Meters
  {
    code: "REQUIRED",
    method: "POST",
    path: () => "/v1/meters",
    body: () => ({ aggregation: "sum", unit: "unit" }),
    errors: one("/key", "REQUIRED"),
  },
  {
    code: "INVALID_KEY",
    method: "POST",
    path: () => "/v1/meters",
    body: meterBody({ key: "has space" }),
    errors: one("/key", "INVALID_KEY"),
  },
  {
    code: "INVALID_TYPE",
    method: "POST",
    path: () => "/v1/meters",
    body: meterBody({ unit: 5 }),
    errors: one("/unit", "INVALID_TYPE"),
  },
  {
    code: "UNKNOWN_FIELD",
    method: "POST",
    path: () => "/v1/meters",
    body: meterBody({ colour: "red" }),
    errors: one("/colour", "UNKNOWN_FIELD"),
  },
  {
    code: "TOO_LONG",
    method: "POST",
    path: () => "/v1/meters",
    body: meterBody({ name: "n".repeat(201) }),
    errors: one("/name", "TOO_LONG"),
  },
  {
    code: "INVALID_VALUE",
    method: "POST",
    path: () => "/v1/meters",
    body: meterBody({ aggregation: "median" }),
    errors: one("/aggregation", "INVALID_VALUE"),
  },
  {
    code: "INVALID_TEXT (NUL)",
    method: "POST",
    path: () => "/v1/meters",
    body: meterBody({ unit: "t\u0000x" }),
    errors: one("/unit", "INVALID_TEXT"),
  },
  {
    code: "INVALID_TEXT (lone surrogate, line break in a one-line field, bell)",
    method: "POST",
    path: () => "/v1/meters",
    body: meterBody({ unit: "t\ud800x", name: "two\nlines", description: "ring \u0007" }),
    errors: () => [
      { field: "/name", code: "INVALID_TEXT" },
      { field: "/description", code: "INVALID_TEXT" },
      { field: "/unit", code: "INVALID_TEXT" },
    ],
  },
  {
    code: "INVALID_TEXT (account name)",
    method: "PATCH",
    path: () => `/v1/accounts/${account.id}`,
    body: () => ({ name: "Ac\u0000me" }),
    errors: one("/name", "INVALID_TEXT"),
  },
  {
    code: "INVALID_TEXT (plan name)",
    method: "POST",
    path: () => "/v1/plans",
    body: () => ({
      key: "valid-plan",
      name: "P\udc00",
      versions: [{ currency: "USD", prices: {} }],
    }),
    errors: one("/name", "INVALID_TEXT"),
  },
  {
    code: "INVALID_PROPERTY",
    method: "POST",
    path: () => "/v1/meters",
    body: meterBody({ valueProperty: "bad\nname" }),
    errors: one("/valueProperty", "INVALID_PROPERTY"),
  },
  {
    code: "NOT_APPLICABLE",
    method: "POST",
    path: () => "/v1/meters",
    body: meterBody({ aggregation: "count", valueProperty: "tokens" }),
    errors: one("/valueProperty", "NOT_APPLICABLE"),
  },
  {
    code: "OUT_OF_RANGE",
    method: "POST",
    path: () => "/v1/meters",
    body: meterBody({
      aggregation: "time_weighted",
      seriesProperty: "deployment",
      heartbeatTimeoutSeconds: 0,
    }),
    errors: one("/heartbeatTimeoutSeconds", "OUT_OF_RANGE"),
  },
  {
    code: "DUPLICATE_VALUE",
    method: "POST",
    path: () => "/v1/meters",
    body: meterBody({ groupBy: ["region", "region"] }),
    errors: one("/groupBy/1", "DUPLICATE_VALUE"),
  },
  {
    code: "TOO_MANY_VALUES",
    method: "POST",
    path: () => "/v1/meters",
    body: meterBody({ groupBy: ["a", "b", "c", "d", "e", "f"] }),
    errors: one("/groupBy", "TOO_MANY_VALUES"),
  },
  // Plans and their versions
  {
    code: "NO_VERSIONS",
    method: "POST",
    path: () => "/v1/plans",
    body: () => ({ key: "p", name: "P", versions: [] }),
    errors: one("/versions", "NO_VERSIONS"),
  },
  {
    code: "VERSIONS_NOT_ORDERED",
    method: "POST",
    path: () => "/v1/plans",
    body: () => ({
      key: "p",
      name: "P",
      versions: [
        { currency: "USD", prices: {}, effectiveFrom: "2026-02-01T00:00:00Z" },
        { currency: "USD", prices: {}, effectiveFrom: "2026-01-01T00:00:00Z" },
      ],
    }),
    errors: one("/versions/1/effectiveFrom", "VERSIONS_NOT_ORDERED"),
  },
  {
    code: "UNKNOWN_CURRENCY",
    method: "POST",
    path: () => "/v1/plans",
    body: () => ({ key: "p", name: "P", versions: [{ currency: "XYZ", prices: {} }] }),
    errors: one("/versions/0/currency", "UNKNOWN_CURRENCY"),
  },
  {
    code: "INVALID_INSTANT",
    method: "POST",
    path: () => "/v1/plans",
    body: () => ({
      key: "p",
      name: "P",
      versions: [{ currency: "USD", prices: {}, effectiveFrom: "tomorrow" }],
    }),
    errors: one("/versions/0/effectiveFrom", "INVALID_INSTANT"),
  },
  {
    code: "NOT_WHOLE_SECOND",
    method: "POST",
    path: () => "/v1/plans",
    body: () => ({
      key: "p",
      name: "P",
      versions: [{ currency: "USD", prices: {}, effectiveFrom: "2026-01-01T00:00:00.250Z" }],
    }),
    errors: one("/versions/0/effectiveFrom", "NOT_WHOLE_SECOND"),
  },
  {
    code: "CURRENCY_MISMATCH",
    method: "POST",
    path: () => "/v1/plans",
    body: () => ({
      key: "p",
      name: "P",
      versions: [
        { currency: "USD", prices: {}, effectiveFrom: "2026-01-01T00:00:00Z" },
        { currency: "EUR", prices: {}, effectiveFrom: "2026-02-01T00:00:00Z" },
      ],
    }),
    errors: one("/versions/1/currency", "CURRENCY_MISMATCH"),
  },
  {
    code: "UNKNOWN_METER",
    method: "POST",
    path: () => "/v1/plans",
    body: () => ({
      key: "p",
      name: "P",
      versions: [
        { currency: "USD", prices: { no_such_meter: { model: "per_unit", unitPrice: "1" } } },
      ],
    }),
    errors: one("/versions/0/prices/no_such_meter", "UNKNOWN_METER"),
  },
  {
    code: "PRICE_NOT_SUPPORTED",
    method: "POST",
    path: () => "/v1/plans",
    body: () => ({
      key: "p",
      name: "P",
      versions: [
        { currency: "USD", prices: { [count.key]: { model: "percentage", ratePercent: "2.9" } } },
      ],
    }),
    errors: () => [{ field: `/versions/0/prices/${count.key}/model`, code: "PRICE_NOT_SUPPORTED" }],
  },
  {
    code: "TOO_MANY_PRICES",
    method: "POST",
    path: () => "/v1/plans",
    body: () => ({
      key: "p",
      name: "P",
      versions: [
        {
          currency: "USD",
          prices: Object.fromEntries(
            Array.from({ length: 101 }, (_, i) => [`m${i}`, { model: "per_unit", unitPrice: "1" }]),
          ),
        },
      ],
    }),
    errors: one("/versions/0/prices", "TOO_MANY_PRICES"),
  },
  {
    code: "NEGATIVE_NOT_ALLOWED",
    method: "POST",
    path: () => "/v1/plans",
    body: () => ({
      key: "p",
      name: "P",
      versions: [{ currency: "USD", baseFee: "-1", prices: {} }],
    }),
    errors: one("/versions/0/baseFee", "NEGATIVE_NOT_ALLOWED"),
  },
  {
    code: "VALUE_TOO_LARGE",
    method: "POST",
    path: () => "/v1/plans",
    body: () => ({
      key: "p",
      name: "P",
      versions: [{ currency: "USD", baseFee: "1".padEnd(17, "0"), prices: {} }],
    }),
    errors: one("/versions/0/baseFee", "VALUE_TOO_LARGE"),
  },
  priceCase("INVALID_DECIMAL", "/unitPrice", { model: "per_unit", unitPrice: "1,5" }),
  priceCase("NOT_POSITIVE", "/packageSize", {
    model: "package",
    packageSize: "0",
    packagePrice: "1",
  }),
  priceCase("PRICE_TOO_PRECISE", "/unitPrice", {
    model: "per_unit",
    unitPrice: "0.0000000000001",
  }),
  priceCase("QUANTITY_TOO_PRECISE", "/includedQuantity", {
    model: "per_unit",
    unitPrice: "1",
    includedQuantity: "0.0000000000000000001",
  }),
  priceCase("UNKNOWN_MODEL", "/model", { model: "tiered" }),
  priceCase("NO_TIERS", "/tiers", tiers([])),
  priceCase(
    "TOO_MANY_TIERS",
    "/tiers",
    tiers(
      Array.from({ length: 101 }, (_, i) => ({
        upTo: i === 100 ? null : String(i + 1),
        unitPrice: "1",
      })),
    ),
  ),
  priceCase(
    "TIER_GAP",
    "/tiers/1/from",
    tiers([
      { upTo: "10", unitPrice: "1" },
      { from: "11", upTo: null, unitPrice: "1" },
    ]),
  ),
  priceCase(
    "TIER_OVERLAP",
    "/tiers/1/from",
    tiers([
      { upTo: "10", unitPrice: "1" },
      { from: "9", upTo: null, unitPrice: "1" },
    ]),
  ),
  priceCase("LAST_TIER_NOT_OPEN", "/tiers/0/upTo", tiers([{ upTo: "10", unitPrice: "1" }])),
  priceCase(
    "OPEN_TIER_NOT_LAST",
    "/tiers/0/upTo",
    tiers([
      { upTo: null, unitPrice: "1" },
      { upTo: null, unitPrice: "1" },
    ]),
  ),
  priceCase("PERCENT_OUT_OF_RANGE", "/ratePercent", { model: "percentage", ratePercent: "101" }),
  priceCase("MIN_ABOVE_MAX", "/maxPerEvent", {
    model: "percentage",
    ratePercent: "2",
    minPerEvent: "1",
    maxPerEvent: "0.5",
  }),
  priceCase("MODIFIER_NOT_SUPPORTED", "/includedQuantity", {
    model: "percentage",
    ratePercent: "2",
    includedQuantity: "10",
  }),
  {
    code: "TIER_NOT_INCREASING",
    method: "POST",
    path: () => `/v1/plans/${usd.id}/versions`,
    body: () =>
      planVersion({
        prices: {
          [sum.key]: tiers([
            { upTo: "10", unitPrice: "1" },
            { upTo: "20", unitPrice: "1" },
            { upTo: "15", unitPrice: "1" },
            { upTo: null, unitPrice: "1" },
          ]),
        },
      })(),
    errors: () => [{ field: `/prices/${sum.key}/tiers/2/upTo`, code: "TIER_NOT_INCREASING" }],
  },
  {
    code: "EFFECTIVE_TOO_SOON",
    method: "POST",
    path: () => `/v1/plans/${usd.id}/versions`,
    body: planVersion({ effectiveFrom: secondsFromNow(60) }),
    errors: one("/effectiveFrom", "EFFECTIVE_TOO_SOON"),
  },
  {
    code: "NOT_AFTER_LATEST",
    method: "POST",
    path: () => `/v1/plans/${scheduled.id}/versions`,
    body: planVersion({ effectiveFrom: secondsFromNow(1_000) }),
    errors: one("/effectiveFrom", "NOT_AFTER_LATEST"),
  },
  // Accounts
  {
    code: "INVALID_ID",
    method: "POST",
    path: () => "/v1/accounts",
    body: accountBody({ id: "-starts-with-a-dash" }),
    errors: one("/id", "INVALID_ID"),
  },
  {
    code: "INVALID_TIME_ZONE",
    method: "POST",
    path: () => "/v1/accounts",
    body: accountBody({ timeZone: "Mars/Olympus_Mons" }),
    errors: one("/timeZone", "INVALID_TIME_ZONE"),
  },
  {
    code: "INVALID_DATE",
    method: "POST",
    path: () => "/v1/accounts",
    body: accountBody({ billingInterval: { unit: "day", count: 1, anchorDate: "2024-02-30" } }),
    errors: one("/billingInterval/anchorDate", "INVALID_DATE"),
  },
  {
    code: "INVALID_EMAIL",
    method: "POST",
    path: () => "/v1/accounts",
    body: accountBody({ email: "not-an-address" }),
    errors: one("/email", "INVALID_EMAIL"),
  },
  {
    code: "INVALID_URL",
    method: "POST",
    path: () => "/v1/accounts",
    body: accountBody({ notificationUrl: "https://user:secret@hooks.example/x" }),
    errors: one("/notificationUrl", "INVALID_URL"),
  },
  {
    code: "UNKNOWN_PLAN",
    method: "POST",
    path: () => "/v1/accounts",
    body: accountBody({ planId: "plan_does_not_exist" }),
    errors: one("/planId", "UNKNOWN_PLAN"),
  },
  {
    code: "CURRENCY_MISMATCH (account and plan)",
    method: "POST",
    path: () => "/v1/accounts",
    body: () => accountBody({ planId: eur.id })(),
    errors: one("/planId", "CURRENCY_MISMATCH"),
  },
  {
    code: "PLAN_NOT_IN_EFFECT",
    method: "POST",
    path: () => "/v1/accounts",
    body: () => accountBody({ planId: future.id })(),
    errors: one("/planId", "PLAN_NOT_IN_EFFECT"),
  },
  {
    code: "SAME_PLAN",
    method: "POST",
    path: () => `/v1/accounts/${account.id}/plan`,
    body: () => ({ planId: usd.id, effectiveFrom: secondsFromNow(600) }),
    errors: one("/planId", "SAME_PLAN"),
  },
  // Lists and headers
  {
    code: "INVALID_CURSOR",
    method: "GET",
    path: () => "/v1/accounts?cursor=not-a-cursor",
    errors: one("/cursor", "INVALID_CURSOR"),
  },
  {
    code: "OUT_OF_RANGE (limit)",
    method: "GET",
    path: () => "/v1/plans?limit=101",
    errors: one("/limit", "OUT_OF_RANGE"),
  },
  {
    code: "INVALID_VALUE (Idempotency-Key)",
    method: "POST",
    path: () => "/v1/meters",
    body: meterBody({}),
    headers: { "idempotency-key": "has spaces in it" },
    errors: one("/headers/idempotency-key", "INVALID_VALUE"),
  },
];

describe("catalogue validation", () => {
  it("has a case for every field code (IMMUTABLE is the 409 of the PATCH tests)", () => {
    const tested = new Set(CASES.map((c) => c.code.split(" ")[0]));
    const untested = Object.keys(CATALOGUE_FIELD_CODES).filter(
      (code) => code !== "IMMUTABLE" && !tested.has(code),
    );
    expect(untested).toEqual([]);
  });

  it.each(CASES)("reports $code at its JSON pointer", async (c) => {
    const options = {
      method: c.method,
      ...(c.body ? { body: c.body() } : {}),
      ...(c.headers ? { headers: c.headers } : {}),
    };
    expect(await fieldErrors(c.path(), options)).toEqual(c.errors());
  });

  it("reports every problem of a body in one response", async () => {
    const errors = await fieldErrors("/v1/plans", {
      body: {
        key: "bad key",
        versions: [
          {
            currency: "usd",
            prices: {
              nope: {
                model: "graduated",
                tiers: [
                  { upTo: "10", unitPrice: "1" },
                  { upTo: "5", unitPrice: "x" },
                ],
              },
            },
          },
        ],
      },
    });
    expect(errors).toEqual([
      { field: "/key", code: "INVALID_KEY" },
      { field: "/name", code: "REQUIRED" },
      { field: "/versions/0/currency", code: "UNKNOWN_CURRENCY" },
      { field: "/versions/0/prices/nope/tiers/1/upTo", code: "TIER_NOT_INCREASING" },
      { field: "/versions/0/prices/nope/tiers/1/unitPrice", code: "INVALID_DECIMAL" },
      { field: "/versions/0/prices/nope", code: "UNKNOWN_METER" },
    ]);
  });

  it("keeps line breaks in a description, which is the one multi-line text field", async () => {
    const meter = await createMeter({ description: "Tokens in.\n\tCounted per request.\r\n" });
    expect(meter).toEqual(
      expect.objectContaining({ description: "Tokens in.\n\tCounted per request.\r\n" }),
    );
  });

  it("refuses a body that is not JSON, or not a JSON object", async () => {
    const notJson = await call("/v1/meters", {
      rawBody: "{",
      headers: { "content-type": "application/json" },
    });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { code: string }).code).toBe("MALFORMED_BODY");
    const text = await call("/v1/meters", {
      rawBody: "key=x",
      headers: { "content-type": "text/plain" },
    });
    expect(text.status).toBe(415);
    expect(await fieldErrors("/v1/meters", { body: [1, 2] })).toEqual([
      { field: "", code: "INVALID_TYPE" },
    ]);
  });
});
