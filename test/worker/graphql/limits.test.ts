import { parse } from "graphql";
import { describe, expect, it } from "vitest";
import { MAX_QUERY_COST, MAX_QUERY_DEPTH, measureQuery } from "../../../lib/graphql/limits.ts";
import { buildSchema } from "../../../lib/graphql/schema/index.ts";
import { codes, gql } from "./support.ts";

const schema = buildSchema();

function measure(query: string, variables: Record<string, unknown> = {}) {
  return measureQuery(schema, parse(query), undefined, variables);
}

describe("query depth and cost", () => {
  it.each([
    ["{ now }", { depth: 1, cost: 0 }],
    ['{ account(id: "a") { id name } }', { depth: 2, cost: 1 }],
    // account 1 + usage 5 + meters (1 + 20 × (node 1 + buckets (1 + 60 × node 1)))
    [
      '{ account(id: "a") { usage { meters { nodes { key buckets { nodes { quantity } } } } } } }',
      { depth: 5, cost: 1247 },
    ],
    // 1 + 10 accounts × (1 + plan 1 + invoices (1 + 3 × (1 + lines (1 + 50 × (1 + amount 1)))))
    [
      "{ accounts(first: 10) { nodes { plan { name } invoices(first: 3) { nodes { lines { nodes { amount { amountMinor } } } } } } } }",
      { depth: 5, cost: 3091 },
    ],
    // introspection is free, whatever its depth
    [
      "{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }",
      { depth: 0, cost: 0 },
    ],
  ])("measures %s", (query, expected) => {
    expect(measure(query)).toEqual(expected);
  });

  it("takes page sizes from variables, capped at 100", () => {
    const query = "query($n: Int) { accounts(first: $n) { nodes { plan { name } } } }";
    expect(measure(query, { n: 7 })).toEqual({ depth: 3, cost: 15 });
    expect(measure(query, {})).toEqual({ depth: 3, cost: 41 });
    expect(measure(query, { n: 5000 })).toEqual({ depth: 3, cost: 201 });
  });

  it("counts a fragment where it is spread", () => {
    const query = `
      fragment A on Account { plan { name } throttleState { level } }
      { accounts(first: 4) { nodes { ...A } } }`;
    expect(measure(query)).toEqual({ depth: 3, cost: 13 });
  });

  it("refuses a query nested deeper than the limit, with QUERY_TOO_DEEP, running nothing", async () => {
    const query = `{ account(id: "x") { invoices { nodes { account { invoices { nodes { account {
      invoices { nodes { account { invoices { nodes { id } } } } } } } } } } } } }`;
    const { status, body } = await gql(query);
    expect(status).toBe(200);
    expect(codes(body)).toEqual(["QUERY_TOO_DEEP"]);
    expect(body.errors?.[0]?.extensions).toMatchObject({ depth: 9, maxDepth: MAX_QUERY_DEPTH });
    expect(body.data).toBeUndefined();
  });

  it("refuses a query that would cost too much, with QUERY_TOO_COSTLY and the estimate", async () => {
    const query =
      "{ accounts(first: 100) { nodes { invoices(first: 100) { nodes { lines(first: 100) { nodes { id } } } } } } }";
    const { body } = await gql(query);
    expect(codes(body)).toEqual(["QUERY_TOO_COSTLY"]);
    // 1 + 100 × (1 + 1 + 100 × (1 + 1 + 100 × 1)): each node 1, each connection 1, ids free.
    expect(body.errors?.[0]?.extensions).toMatchObject({
      cost: 1_020_201,
      maxCost: MAX_QUERY_COST,
    });
  });

  it("refuses a page larger than 100 and a forged cursor with BAD_USER_INPUT", async () => {
    const big = await gql("{ plans(first: 101) { nodes { id } } }");
    expect(codes(big.body)).toEqual(["BAD_USER_INPUT"]);
    const forged = await gql('{ invoices(after: "bm90LWEtY3Vyc29y") { nodes { id } } }');
    expect(codes(forged.body)).toEqual(["BAD_USER_INPUT"]);
    const badTime = await gql('{ account(id: "x") { usage(at: "yesterday") { sealed } } }');
    expect(codes(badTime.body)).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
  });

  it("gives parse and validation failures their own codes", async () => {
    expect(codes((await gql("{ accounts { nodes { id }")).body)).toEqual(["GRAPHQL_PARSE_FAILED"]);
    expect(codes((await gql("{ accounts { nodes { password } } }")).body)).toEqual([
      "GRAPHQL_VALIDATION_FAILED",
    ]);
  });
});
