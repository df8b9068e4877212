/**
 * `GET /v1/accounts/{id}/usage/history`, answered from ClickHouse: exact buckets for known
 * events (also after redelivery in another grouping), window edges, grouping by a property,
 * tenant isolation and validation of every parameter.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { seedAccount } from "../support/catalogue.ts";
import { call, callJson, unique } from "../support/http.ts";
import { deliver, PERIOD_START_MS, RATED_QUEUE, ratedMessage } from "./support.ts";

const account = unique("hist");
const other = unique("hist");
let accountKey: string;
let otherKey: string;

const at = (offsetMs: number) => new Date(PERIOD_START_MS + offsetMs).toISOString();
const MINUTE = 60_000;
const HOUR = 3_600_000;

const tokens = ratedMessage(account, 1, { events: 3, value: "1.5" });
const calls = ratedMessage(account, 2, {
  events: 2,
  value: null,
  meter: "calls",
  properties: () => ({}),
});
const later = ratedMessage(account, 3, {
  events: 2,
  value: "10",
  offsetMs: 3 * HOUR,
  properties: () => ({ region: "ap" }),
});
const others = ratedMessage(other, 1, { events: 5, value: "1000" });

async function history(query: string, key?: string) {
  return callJson<{ buckets: unknown[]; truncated: boolean }>(
    `/v1/accounts/${account}/usage/history?${query}`,
    200,
    key === undefined ? {} : { key },
  );
}

beforeAll(async () => {
  await seedAccount({ id: account });
  await seedAccount({ id: other });
  accountKey = (
    await callJson<{ key: string }>(`/v1/accounts/${account}/api-keys`, 201, { body: {} })
  ).key;
  otherKey = (await callJson<{ key: string }>(`/v1/accounts/${other}/api-keys`, 201, { body: {} }))
    .key;
  const outcome = await deliver(RATED_QUEUE, [
    { id: "t", body: tokens },
    { id: "c", body: calls },
    { id: "l", body: later },
    { id: "o", body: others },
  ]);
  expect(outcome.acked).toHaveLength(4);
});

describe("usage history", () => {
  it("counts events per hour and meter with the exact sum and maximum of their values", async () => {
    const expected = {
      account,
      from: at(0),
      to: at(4 * HOUR),
      granularity: "hour",
      groupBy: null,
      truncated: false,
      buckets: [
        { start: at(0), meter: "calls", group: null, events: 2, valueSum: null, valueMax: null },
        { start: at(0), meter: "tokens", group: null, events: 3, valueSum: "4.5", valueMax: "1.5" },
        {
          start: at(3 * HOUR),
          meter: "tokens",
          group: null,
          events: 2,
          valueSum: "20",
          valueMax: "10",
        },
      ],
    };
    const query = `from=${at(0)}&to=${at(4 * HOUR)}&granularity=hour`;
    expect(await history(query)).toEqual(expected);
    // The account's own key sees the same.
    expect(await history(query, accountKey)).toEqual(expected);

    // Delivered again in another grouping: still counted once.
    const again = await deliver(RATED_QUEUE, [
      { id: "t2", body: tokens },
      { id: "l2", body: later },
    ]);
    expect(again.acked).toEqual(["l2", "t2"]);
    expect(await history(query)).toEqual(expected);
  });

  it("breaks minutes down by a property, for one meter, inside a half-open window", async () => {
    const result = await history(
      `from=${at(0)}&to=${at(3 * MINUTE)}&granularity=minute&meter=tokens&group_by=region`,
    );
    expect(result.buckets).toEqual([
      { start: at(0), meter: "tokens", group: "eu", events: 1, valueSum: "1.5", valueMax: "1.5" },
      {
        start: at(MINUTE),
        meter: "tokens",
        group: "us",
        events: 1,
        valueSum: "1.5",
        valueMax: "1.5",
      },
      {
        start: at(2 * MINUTE),
        meter: "tokens",
        group: "eu",
        events: 1,
        valueSum: "1.5",
        valueMax: "1.5",
      },
    ]);
    const edge = await history(`from=${at(MINUTE)}&to=${at(2 * MINUTE)}&granularity=minute`);
    expect(edge.buckets).toEqual([
      { start: at(MINUTE), meter: "calls", group: null, events: 1, valueSum: null, valueMax: null },
      {
        start: at(MINUTE),
        meter: "tokens",
        group: null,
        events: 1,
        valueSum: "1.5",
        valueMax: "1.5",
      },
    ]);
  });

  it("groups days by a property; events without it fall in a null group", async () => {
    const result = await history(
      `from=${at(0)}&to=${at(24 * HOUR)}&granularity=day&group_by=region`,
    );
    expect(result.buckets).toEqual([
      { start: at(0), meter: "calls", group: null, events: 2, valueSum: null, valueMax: null },
      { start: at(0), meter: "tokens", group: "ap", events: 2, valueSum: "20", valueMax: "10" },
      { start: at(0), meter: "tokens", group: "eu", events: 2, valueSum: "3", valueMax: "1.5" },
      { start: at(0), meter: "tokens", group: "us", events: 1, valueSum: "1.5", valueMax: "1.5" },
    ]);
  });

  it("shows a tenant only its own usage", async () => {
    const path = `/v1/accounts/${account}/usage/history?from=${at(0)}&to=${at(HOUR)}`;
    expect((await call(path, { key: null })).status).toBe(401);
    expect((await call(path, { key: "mlk_not-a-key" })).status).toBe(401);
    expect((await call(path, { key: otherKey })).status).toBe(404);
    const own = await callJson<{ buckets: { events: number }[] }>(
      `/v1/accounts/${other}/usage/history?from=${at(0)}&to=${at(HOUR)}`,
      200,
      { key: otherKey },
    );
    expect(own.buckets).toEqual([
      { start: at(0), meter: "tokens", group: null, events: 5, valueSum: "5000", valueMax: "1000" },
    ]);
  });

  it("refuses invalid parameters with a problem document naming the field", async () => {
    const base = `/v1/accounts/${account}/usage/history`;
    const cases: [string, number, string][] = [
      [`?to=${at(HOUR)}`, 422, "VALIDATION_FAILED"],
      [`?from=${at(0)}&to=${at(HOUR)}&granularity=week`, 422, "VALIDATION_FAILED"],
      [`?from=yesterday&to=${at(HOUR)}`, 400, "INVALID_QUERY"],
      [`?from=${at(HOUR)}&to=${at(0)}`, 400, "INVALID_QUERY"],
      [`?from=${at(0)}&to=${at(30 * 24 * HOUR)}&granularity=minute`, 400, "INVALID_QUERY"],
      [
        `?from=${at(0)}&to=${at(HOUR)}&meter=${encodeURIComponent("x' OR '1'='1")}`,
        400,
        "INVALID_QUERY",
      ],
      [
        `?from=${at(0)}&to=${at(HOUR)}&group_by=${encodeURIComponent("region'] OR 1=1 --")}`,
        400,
        "INVALID_QUERY",
      ],
    ];
    for (const [query, status, code] of cases) {
      const response = await call(`${base}${query}`);
      expect({ query, status: response.status }).toEqual({ query, status });
      expect(response.headers.get("content-type")).toContain("application/problem+json");
      expect(((await response.json()) as { code: string }).code).toBe(code);
    }
  });
});
