/**
 * The local ClickHouse stand-in, driven only through @clickhouse/client-web (the production
 * SDK): the calls meterline makes, per-request settings, deduplicated inserts, errors,
 * persistence, and the schema migrations runner.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ClickHouseClient, ClickHouseError, createClient } from "@clickhouse/client-web";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { spawnService } from "../../../local-stack/process.ts";
import type { ClickHouseInfo } from "../../../local-stack/stack.ts";
import { migrateClickHouse } from "../../../migrations/clickhouse.ts";

const info = inject("stack").clickhouse;
const database = `t_node_${randomUUID().slice(0, 8)}`;
const clients: ClickHouseClient[] = [];

function client(options: { database?: string; password?: string; url?: string } = {}) {
  const created = createClient({
    url: options.url ?? info.url,
    username: info.username,
    password: options.password ?? info.password,
    database: options.database ?? database,
  });
  clients.push(created);
  return created;
}

async function rowsOf<T>(
  ch: ClickHouseClient,
  query: string,
  query_params?: Record<string, unknown>,
): Promise<T[]> {
  const result = await ch.query({ query, format: "JSONEachRow", query_params });
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
  await client({ database: "default" }).command({ query: `CREATE DATABASE ${database}` });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

describe("ClickHouse HTTP interface through client-web", () => {
  it("answers ping", async () => {
    expect(await client().ping()).toEqual({ success: true });
  });

  it("runs DDL and a 10,000-row JSONEachRow insert in one request", async () => {
    const ch = client();
    await ch.command({
      query: `CREATE TABLE usage_rows (event_id String, quantity UInt64, ts DateTime64(3, 'UTC'))
              ENGINE = MergeTree ORDER BY event_id`,
    });
    const values = Array.from({ length: 10_000 }, (_, i) => ({
      event_id: `evt_${String(i).padStart(5, "0")}`,
      quantity: i,
      ts: "2026-03-01 00:00:00.000",
    }));
    await ch.insert({ table: "usage_rows", values, format: "JSONEachRow" });
    expect(await rowsOf(ch, "SELECT count() AS n, sum(quantity) AS total FROM usage_rows")).toEqual(
      [{ n: 10_000, total: 49_995_000 }],
    );
  });

  it("binds UInt32, String, Array(String), DateTime64(3) and NULL parameters exactly", async () => {
    const tricky = "it's\ta \\ back\\slash\nnew line";
    const rows = await rowsOf(
      client(),
      `SELECT {x:UInt32} + 1 AS x, {s:String} AS s, {a:Array(String)} AS a,
              {t:DateTime64(3)} AS t, {n:Nullable(String)} AS n`,
      {
        x: 41,
        s: tricky,
        a: ["plain", "quo'te", "back\\slash", "tab\there"],
        t: new Date("2026-01-02T03:04:05.678Z"),
        n: null,
      },
    );
    expect(rows).toEqual([
      {
        x: 42,
        s: tricky,
        a: ["plain", "quo'te", "back\\slash", "tab\there"],
        t: "2026-01-02 03:04:05.678",
        n: null,
      },
    ]);
  });

  it("returns the JSON format with meta, data and row count", async () => {
    const result = await client().query({
      query: "SELECT number AS n, toString(number) AS s FROM numbers(2)",
      format: "JSON",
    });
    const body = await result.json<{ n: number; s: string }>();
    expect(body.meta).toEqual([
      { name: "n", type: "UInt64" },
      { name: "s", type: "String" },
    ]);
    expect(body.data).toEqual([
      { n: 0, s: "0" },
      { n: 1, s: "1" },
    ]);
    expect(body.rows).toBe(2);
    expect(result.response_headers["x-clickhouse-format"]).toBe("JSON");
  });

  it("applies settings to their own request only", async () => {
    const ch = client();
    const probe = "SELECT toUInt64(7) AS n, getSetting('date_time_input_format') AS dt";
    const withSettings = await ch.query({
      query: probe,
      format: "JSONEachRow",
      clickhouse_settings: {
        output_format_json_quote_64bit_integers: 1,
        date_time_input_format: "basic",
      },
    });
    expect(await withSettings.json()).toEqual([{ n: "7", dt: "basic" }]);
    expect(await rowsOf(ch, probe)).toEqual([{ n: 7, dt: "best_effort" }]);
  });

  it("stops a query at max_execution_time and leaves the next request unlimited", async () => {
    const ch = client();
    const failure = await failureOf(
      ch.query({
        query: "SELECT count() FROM numbers(1000000000000)",
        clickhouse_settings: { max_execution_time: 1 },
      }),
    );
    expect(failure).toEqual({ code: "159", type: "TIMEOUT_EXCEEDED" });
    expect(await rowsOf(ch, "SELECT getSetting('max_execution_time') AS limit")).toEqual([
      { limit: 0 },
    ]);
  });

  it("keeps concurrent requests' parameters and settings apart", async () => {
    const ch = client();
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        ch
          .query({
            query: "SELECT {i:UInt32} AS i, getSetting('max_block_size') AS block",
            format: "JSONEachRow",
            query_params: { i },
            clickhouse_settings: { max_block_size: String(1000 + i) },
          })
          .then((result) => result.json()),
      ),
    );
    expect(answers).toEqual(Array.from({ length: 12 }, (_, i) => [{ i, block: 1000 + i }]));
  });

  it("resolves unqualified names in the client's database", async () => {
    expect(await rowsOf(client(), "SELECT currentDatabase() AS db")).toEqual([{ db: database }]);
    expect(await rowsOf(client({ database: "default" }), "SELECT currentDatabase() AS db")).toEqual(
      [{ db: "default" }],
    );
  });

  it("collapses ReplacingMergeTree versions with FINAL", async () => {
    const ch = client();
    await ch.command({
      query: `CREATE TABLE balances (account_id String, amount_minor Int64, version UInt64)
              ENGINE = ReplacingMergeTree(version) ORDER BY account_id`,
    });
    await ch.command({ query: "SYSTEM STOP MERGES balances" });
    for (const version of [1, 2, 3]) {
      await ch.insert({
        table: "balances",
        values: [{ account_id: "acct_1", amount_minor: version * 100, version }],
        format: "JSONEachRow",
      });
    }
    expect(await rowsOf(ch, "SELECT count() AS n FROM balances")).toEqual([{ n: 3 }]);
    expect(await rowsOf(ch, "SELECT amount_minor, version FROM balances FINAL")).toEqual([
      { amount_minor: 300, version: 3 },
    ]);
  });

  it("deduplicates a repeated insert carrying the same insert_deduplication_token", async () => {
    const ch = client();
    await ch.command({
      query: `CREATE TABLE rated (line_id String, amount_minor Int64) ENGINE = MergeTree
              ORDER BY line_id SETTINGS non_replicated_deduplication_window = 1000`,
    });
    const batch = [
      { line_id: "l1", amount_minor: 10 },
      { line_id: "l2", amount_minor: 20 },
    ];
    const insert = (values: typeof batch, token?: string) =>
      ch.insert({
        table: "rated",
        values,
        format: "JSONEachRow",
        ...(token ? { clickhouse_settings: { insert_deduplication_token: token } } : {}),
      });
    const total = "SELECT count() AS n, sum(amount_minor) AS amount FROM rated";
    await insert(batch, "batch-1");
    await insert(batch, "batch-1");
    expect(await rowsOf(ch, total)).toEqual([{ n: 2, amount: 30 }]);
    // Same rows, new batch id: a different batch, so it is kept.
    await insert(batch, "batch-2");
    expect(await rowsOf(ch, total)).toEqual([{ n: 4, amount: 60 }]);
    // No token: the previous request's token must not apply to this one.
    await insert([{ line_id: "l3", amount_minor: 5 }]);
    expect(await rowsOf(ch, total)).toEqual([{ n: 5, amount: 65 }]);
  });

  it("rejects a wrong password with AUTHENTICATION_FAILED", async () => {
    const failure = await failureOf(
      client({ password: "not-the-password" }).query({ query: "SELECT 1" }),
    );
    expect(failure).toEqual({ code: "516", type: "AUTHENTICATION_FAILED" });
  });

  it("reports an unknown table as UNKNOWN_TABLE (60)", async () => {
    const failure = await failureOf(client().query({ query: "SELECT * FROM no_such_table" }));
    expect(failure).toEqual({ code: "60", type: "UNKNOWN_TABLE" });
  });
});

describe("a stopped and restarted service", () => {
  it("keeps its data and credentials on the same data folder", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "meterline-ch-restart-"));
    const script = fileURLToPath(
      new URL("../../../local-stack/clickhouse/main.ts", import.meta.url),
    );
    const start = () =>
      spawnService<ClickHouseInfo & { port: number }>({
        name: "clickhouse-restart",
        script,
        args: ["--data", join(dataDir, "clickhouse"), "--port", "0"],
        logDir: join(dataDir, "logs"),
      });
    const first = await start();
    try {
      const ch = createClient({ ...first.info });
      await ch.command({
        query: "CREATE TABLE kept (id UInt32) ENGINE = MergeTree ORDER BY id",
      });
      await ch.insert({ table: "kept", values: [{ id: 1 }, { id: 2 }], format: "JSONEachRow" });
      await ch.close();
    } finally {
      await first.stop();
    }
    const second = await start();
    try {
      expect(second.info.password).toBe(first.info.password);
      const ch = createClient({ ...second.info });
      expect(await rowsOf(ch, "SELECT groupArray(id) AS ids FROM kept")).toEqual([{ ids: [1, 2] }]);
      await ch.close();
    } finally {
      await second.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("migrateClickHouse", () => {
  const dir = mkdtempSync(join(tmpdir(), "meterline-ch-migrations-"));
  const target = `t_mig_${randomUUID().slice(0, 8)}`;
  const options = { ...info, database: target, dir };
  const tables = async () =>
    (
      await rowsOf<{ name: string }>(
        client({ database: "default" }),
        "SELECT name FROM system.tables WHERE database = {db:String} ORDER BY name",
        { db: target },
      )
    ).map((row) => row.name);
  const recorded = async () =>
    (
      await rowsOf<{ name: string }>(
        client({ database: target }),
        "SELECT name FROM schema_migrations FINAL ORDER BY version",
      )
    ).map((row) => row.name);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("creates the database, applies files in order and records them", async () => {
    writeFileSync(
      join(dir, "0001_events.sql"),
      `-- raw usage
CREATE TABLE IF NOT EXISTS events (id String, qty UInt64) ENGINE = MergeTree ORDER BY id;
CREATE TABLE IF NOT EXISTS totals (id String, qty UInt64) ENGINE = SummingMergeTree ORDER BY id;
`,
    );
    writeFileSync(
      join(dir, "0002_totals_view.sql"),
      `CREATE MATERIALIZED VIEW IF NOT EXISTS totals_mv TO totals
  AS SELECT id, qty FROM events;
ALTER TABLE events ADD COLUMN IF NOT EXISTS unit LowCardinality(String) DEFAULT 'call';
`,
    );
    const report = await migrateClickHouse(options);
    expect(report).toEqual({ applied: ["0001_events", "0002_totals_view"], skipped: [] });
    expect(await tables()).toEqual(["events", "schema_migrations", "totals", "totals_mv"]);
    expect(await recorded()).toEqual(["0001_events", "0002_totals_view"]);
  });

  it("is a no-op when re-applied", async () => {
    const report = await migrateClickHouse(options);
    expect(report).toEqual({ applied: [], skipped: ["0001_events", "0002_totals_view"] });
  });

  it("leaves the schema as it was when a statement fails, and applies once fixed", async () => {
    const file = join(dir, "0003_invoices.sql");
    const broken = `CREATE TABLE IF NOT EXISTS invoices (id String) ENGINE = MergeTree ORDER BY id;
ALTER TABLE events ADD COLUMN IF NOT EXISTS region String DEFAULT 'eu';
CREATE TABLE IF NOT EXISTS invoice_lines (id String, amount NoSuchType) ENGINE = MergeTree ORDER BY id;
`;
    writeFileSync(file, broken);
    await expect(migrateClickHouse(options)).rejects.toThrow(
      /0003_invoices failed at statement 3 \(undid 2 change\(s\)\).*UNKNOWN_TYPE|NoSuchType/s,
    );
    expect(await tables()).toEqual(["events", "schema_migrations", "totals", "totals_mv"]);
    const columns = await rowsOf<{ name: string }>(
      client({ database: "default" }),
      "SELECT name FROM system.columns WHERE database = {db:String} AND table = 'events' ORDER BY position",
      { db: target },
    );
    expect(columns.map((c) => c.name)).toEqual(["id", "qty", "unit"]);
    expect(await recorded()).toEqual(["0001_events", "0002_totals_view"]);

    writeFileSync(file, broken.replace("NoSuchType", "Int64"));
    expect(await migrateClickHouse(options)).toEqual({
      applied: ["0003_invoices"],
      skipped: ["0001_events", "0002_totals_view"],
    });
    expect(await tables()).toEqual([
      "events",
      "invoice_lines",
      "invoices",
      "schema_migrations",
      "totals",
      "totals_mv",
    ]);
  });

  it("refuses an edited migration that was already applied", async () => {
    writeFileSync(
      join(dir, "0001_events.sql"),
      "CREATE TABLE IF NOT EXISTS events (id String) ENGINE = MergeTree ORDER BY id;\n",
    );
    await expect(migrateClickHouse(options)).rejects.toThrow(
      /0001_events was changed after it was applied/,
    );
  });

  it("refuses, before running anything, a file whose undoable order is broken", async () => {
    const restricted = mkdtempSync(join(tmpdir(), "meterline-ch-migrations-"));
    const other = `t_mig_${randomUUID().slice(0, 8)}`;
    writeFileSync(
      join(restricted, "0001_bad_order.sql"),
      `CREATE TABLE IF NOT EXISTS a (id String) ENGINE = MergeTree ORDER BY id;
DROP TABLE IF EXISTS legacy;
CREATE TABLE IF NOT EXISTS b (id String) ENGINE = MergeTree ORDER BY id;
`,
    );
    await expect(migrateClickHouse({ ...info, database: other, dir: restricted })).rejects.toThrow(
      /0001_bad_order, statement 2: this statement cannot be undone/,
    );
    const left = await rowsOf<{ name: string }>(
      client({ database: "default" }),
      "SELECT name FROM system.tables WHERE database = {db:String}",
      { db: other },
    );
    expect(left.map((row) => row.name)).toEqual(["schema_migrations"]);

    writeFileSync(
      join(restricted, "0001_bad_order.sql"),
      "CREATE TABLE c (id String) ENGINE = MergeTree ORDER BY id;\n",
    );
    await expect(migrateClickHouse({ ...info, database: other, dir: restricted })).rejects.toThrow(
      /0001_bad_order, statement 1: write CREATE TABLE IF NOT EXISTS/,
    );
    rmSync(restricted, { recursive: true, force: true });
  });
});
