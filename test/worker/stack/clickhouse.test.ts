/**
 * The Worker's own ClickHouse path inside workerd: `openClickHouse` (client-web) with the
 * bindings the global stack provides, against the local chdb-backed ClickHouse stand-in.
 */
import { env } from "cloudflare:workers";
import { ClickHouseError } from "@clickhouse/client-web";
import { beforeAll, describe, expect, it } from "vitest";
import { type ClickHouseClient, openClickHouse } from "../../../lib/adapters/clickhouse.ts";

const database = `t_worker_${crypto.randomUUID().slice(0, 8)}`;

function open(overrides: { database?: string; password?: string } = {}): ClickHouseClient {
  return openClickHouse({
    url: env.CLICKHOUSE_URL,
    username: env.CLICKHOUSE_USER,
    password: overrides.password ?? env.CLICKHOUSE_PASSWORD,
    database: overrides.database ?? database,
  });
}

async function rowsOf<T>(query: string, query_params?: Record<string, unknown>): Promise<T[]> {
  const result = await open().query({ query, format: "JSONEachRow", query_params });
  return result.json<T>();
}

async function failureOf(work: Promise<unknown>): Promise<{ code: string; type: string }> {
  const error = await work.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ClickHouseError);
  const { code, type } = error as ClickHouseError;
  return { code, type: type ?? "" };
}

beforeAll(async () => {
  await open({ database: "default" }).command({ query: `CREATE DATABASE ${database}` });
});

describe("openClickHouse inside workerd", () => {
  it("pings", async () => {
    expect(await open().ping()).toEqual({ success: true });
  });

  it("creates a table, inserts 1,000 rows and reads 64-bit totals as strings", async () => {
    const ch = open();
    await ch.command({
      query: `CREATE TABLE usage_rows (event_id String, quantity UInt64, meter LowCardinality(String))
              ENGINE = MergeTree ORDER BY event_id`,
    });
    const values = Array.from({ length: 1_000 }, (_, i) => ({
      event_id: `evt_${i}`,
      quantity: i,
      meter: i % 2 === 0 ? "api_calls" : "storage_gb",
    }));
    await ch.insert({ table: "usage_rows", values, format: "JSONEachRow" });
    // The adapter asks for quoted 64-bit integers, so totals never lose precision.
    expect(
      await rowsOf(
        "SELECT meter, count() AS n, sum(quantity) AS total FROM usage_rows GROUP BY meter ORDER BY meter",
      ),
    ).toEqual([
      { meter: "api_calls", n: "500", total: "249500" },
      { meter: "storage_gb", n: "500", total: "250000" },
    ]);
  });

  it("binds UInt32, String, Array(String) and DateTime64(3) parameters", async () => {
    const text = "quote ' tab \t backslash \\ newline \n end";
    expect(
      await rowsOf(
        "SELECT {x:UInt32} AS x, {s:String} AS s, {a:Array(String)} AS a, {t:DateTime64(3)} AS t",
        { x: 7, s: text, a: ["a'b", "c\\d"], t: new Date("2026-05-31T23:59:59.999Z") },
      ),
    ).toEqual([{ x: 7, s: text, a: ["a'b", "c\\d"], t: "2026-05-31 23:59:59.999" }]);
  });

  it("deduplicates a retried batch by insert_deduplication_token", async () => {
    const ch = open();
    await ch.command({
      query: `CREATE TABLE rated (line_id String, amount_minor Int64) ENGINE = MergeTree
              ORDER BY line_id SETTINGS non_replicated_deduplication_window = 1000`,
    });
    for (let attempt = 0; attempt < 3; attempt += 1) {
      await ch.insert({
        table: "rated",
        values: [{ line_id: "l1", amount_minor: 125 }],
        format: "JSONEachRow",
        clickhouse_settings: { insert_deduplication_token: "batch_01" },
      });
    }
    expect(await rowsOf("SELECT count() AS n, sum(amount_minor) AS amount FROM rated")).toEqual([
      { n: "1", amount: "125" },
    ]);
  });

  it("raises ClickHouseError 60 UNKNOWN_TABLE for a missing table", async () => {
    expect(await failureOf(open().query({ query: "SELECT * FROM missing" }))).toEqual({
      code: "60",
      type: "UNKNOWN_TABLE",
    });
  });

  it("raises ClickHouseError 516 AUTHENTICATION_FAILED for a wrong password", async () => {
    expect(await failureOf(open({ password: "wrong" }).query({ query: "SELECT 1" }))).toEqual({
      code: "516",
      type: "AUTHENTICATION_FAILED",
    });
  });
});
