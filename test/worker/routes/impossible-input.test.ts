/**
 * Input no id or text field can hold — NUL, lone surrogates, over-long ids — on every route:
 * path ids that cannot exist are 404 (after 401 for a missing key), free-text fields answer 422
 * INVALID_TEXT at their pointer, and what still reaches Postgres is a 422, never a 500.
 */
import { describe, expect, it } from "vitest";
import { gql } from "../graphql/support.ts";
import { call } from "../support/http.ts";

interface Problem {
  status: number;
  code: string;
  detail: string;
  errors?: { field: string; code: string }[];
}

async function problemOf(path: string, options: Parameters<typeof call>[1] = {}): Promise<Problem> {
  const response = await call(path, options);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  return { ...((await response.json()) as Problem), status: response.status };
}

/** Every route with an id in its path; `X` stands for the id under test. */
const ROUTES: [method: string, path: string][] = [
  ["GET", "/v1/meters/X"],
  ["PATCH", "/v1/meters/X"],
  ["GET", "/v1/plans/X"],
  ["POST", "/v1/plans/X/versions"],
  ["GET", "/v1/accounts/X"],
  ["PATCH", "/v1/accounts/X"],
  ["POST", "/v1/accounts/X/plan"],
  ["GET", "/v1/accounts/X/api-keys"],
  ["POST", "/v1/accounts/X/api-keys"],
  ["DELETE", "/v1/accounts/acct-1/api-keys/X"],
  ["GET", "/v1/accounts/X/audit"],
  ["GET", "/v1/accounts/X/audit/verify"],
  ["GET", "/v1/accounts/X/usage"],
  ["GET", "/v1/accounts/X/usage/history"],
  ["GET", "/v1/accounts/X/status"],
  ["GET", "/v1/accounts/X/tax-rates"],
  ["PUT", "/v1/accounts/X/tax-rates"],
  ["GET", "/v1/accounts/X/credit-grants"],
  ["POST", "/v1/accounts/X/credit-grants"],
  ["POST", "/v1/accounts/acct-1/credit-grants/X/void"],
  ["GET", "/v1/accounts/X/credit-ledger"],
  ["GET", "/v1/accounts/X/invoices/upcoming"],
  ["GET", "/v1/accounts/X/billing-status"],
  ["GET", "/v1/accounts/X/risk"],
  ["POST", "/v1/accounts/X/risk/level"],
  ["GET", "/v1/invoices/X"],
  ["GET", "/v1/invoices/X.html"],
  ["POST", "/v1/invoices/X/void"],
  ["POST", "/v1/invoices/X/credit-notes"],
  ["POST", "/v1/invoices/X/collect"],
  ["GET", "/v1/invoices/X/payments"],
  ["POST", "/v1/invoices/X/refunds"],
  ["GET", "/v1/admin/dead-letters/X"],
  ["POST", "/v1/admin/dead-letters/X/replay"],
  ["GET", "/v1/admin/reconciliation/X"],
];

/** NUL, NUL inside an id, a lone surrogate (as its UTF-8 bytes), one character too many. */
const IMPOSSIBLE_IDS = ["%00", "acct%00x", "%ED%A0%80", "x".repeat(65)];

describe("path ids that cannot exist", () => {
  it.each(ROUTES)("%s %s answers 404 NOT_FOUND, and 401 first without a key", async (m, p) => {
    const outcomes: string[] = [];
    for (const id of IMPOSSIBLE_IDS) {
      const path = p.replace("X", id);
      const body = m === "GET" || m === "DELETE" ? {} : { body: {} };
      const admin = await problemOf(path, { method: m, ...body });
      const anonymous = await call(path, { method: m, key: null, ...body });
      outcomes.push(`${admin.status} ${admin.code} ${anonymous.status}`);
    }
    expect(outcomes).toEqual(IMPOSSIBLE_IDS.map(() => "404 NOT_FOUND 401"));
  });

  it("answers NOT_FOUND in GraphQL for an account, plan, meter or invoice id that cannot exist", async () => {
    const codes: unknown[] = [];
    for (const field of [
      "account(id: $id) { id }",
      "plan(id: $id) { id }",
      "invoice(id: $id) { id }",
    ]) {
      const { body } = await gql(`query($id: ID!) { ${field} }`, { id: "a\u0000b" });
      codes.push(body.errors?.map((e) => e.extensions?.code));
    }
    const { body } = await gql("query($id: ID!) { meter(key: $id) { key } }", { id: "\ud800" });
    codes.push(body.errors?.map((e) => e.extensions?.code));
    expect(codes).toEqual([["NOT_FOUND"], ["NOT_FOUND"], ["NOT_FOUND"], ["NOT_FOUND"]]);
  });
});

describe("free text outside the catalogue", () => {
  // Validation comes before any lookup: the account need not exist.
  const account = "acct-text";

  it.each([
    ["POST", `/v1/accounts/${account}/api-keys`, { name: "key\u0000" }, "/name", "INVALID_TEXT"],
    ["POST", `/v1/accounts/${account}/api-keys`, { name: "key\udc00" }, "/name", "INVALID_TEXT"],
    [
      "POST",
      `/v1/accounts/${account}/credit-grants`,
      { amount: "1", kind: "promotional", description: "gift\u0000" },
      "/description",
      "INVALID_TEXT",
    ],
    [
      "PUT",
      `/v1/accounts/${account}/tax-rates`,
      { taxRates: [{ name: "V\ud800AT", percent: "20" }] },
      "/0/name",
      "invalid_text",
    ],
    ["POST", "/v1/invoices/inv-1/void", { reason: "typo\u0000" }, "/reason", "INVALID_TEXT"],
    [
      "POST",
      `/v1/accounts/${account}/risk/level`,
      { level: "normal", reason: "reviewed\u0000" },
      "/reason",
      "INVALID_TEXT",
    ],
  ] as const)("%s %s refuses %j at its pointer", async (method, path, body, field, code) => {
    const problem = await problemOf(path, { method, body });
    expect([problem.status, problem.code, problem.errors?.map((e) => [e.field, e.code])]).toEqual([
      422,
      "VALIDATION_FAILED",
      [[field, code]],
    ]);
  });

  it("answers 422, not 500, for NUL that reaches Postgres through a filter or a list", async () => {
    const expected = {
      status: 422,
      code: "VALIDATION_FAILED",
      detail:
        "A text value holds a character that cannot be stored, such as NUL (U+0000). " +
        "Remove control characters from names, descriptions and ids.",
    };
    const filter = await problemOf("/v1/invoices?account=acct%00x");
    const run = await problemOf("/v1/admin/invoice-runs", { body: { accounts: ["acct\u0000"] } });
    for (const problem of [filter, run]) {
      expect({ status: problem.status, code: problem.code, detail: problem.detail }).toEqual(
        expected,
      );
    }
  });
});
