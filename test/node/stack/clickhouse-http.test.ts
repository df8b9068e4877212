/**
 * Wire-level behaviour of the local ClickHouse stand-in that client-web hides: health
 * endpoints, headers, authentication schemes, compression, multipart, and refusals; plus the
 * pure helpers (SQL shape, request prelude, migration planning) as tables of cases.
 */
import { gzipSync } from "node:zlib";
import { describe, expect, inject, it } from "vitest";
import { preludeOf } from "../../../local-stack/clickhouse/engine.ts";
import { insertTargetOf, shapeOf, stringLiteral } from "../../../local-stack/clickhouse/sql.ts";
import { planSteps, splitStatements } from "../../../migrations/clickhouse/plan.ts";

const info = inject("stack").clickhouse;
const basic = `Basic ${Buffer.from(`${info.username}:${info.password}`).toString("base64")}`;

async function call(
  path: string,
  init: RequestInit & { auth?: boolean } = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const headers = new Headers(init.headers);
  if (init.auth !== false && !headers.has("authorization")) {
    headers.set("authorization", basic);
  }
  const response = await fetch(`${info.url}${path}`, { ...init, headers });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

const q = (sql: string) => `/?query=${encodeURIComponent(sql)}`;

describe("health endpoints", () => {
  it.each(["/ping", "/", "/replicas_status"])(
    "GET %s answers Ok. without credentials",
    async (path) => {
      const answer = await call(path, { auth: false });
      expect([answer.status, answer.text]).toEqual([200, "Ok.\n"]);
    },
  );

  it("answers 404 for other paths", async () => {
    expect((await call("/nope", { auth: false })).status).toBe(404);
  });
});

describe("queries over raw HTTP", () => {
  it("runs a GET query with the default TabSeparated format and ClickHouse headers", async () => {
    const answer = await call(`${q("SELECT 'ping', 2 + 2")}&query_id=probe-1`);
    expect(answer.status).toBe(200);
    expect(answer.text).toBe("ping\t4\n");
    expect(answer.headers.get("x-clickhouse-query-id")).toBe("probe-1");
    expect(answer.headers.get("x-clickhouse-format")).toBe("TabSeparated");
    expect(answer.headers.get("x-clickhouse-timezone")).toBe("UTC");
    expect(answer.headers.get("content-type")).toBe("text/tab-separated-values; charset=UTF-8");
    const summary = JSON.parse(answer.headers.get("x-clickhouse-summary") ?? "{}");
    expect(Object.keys(summary).sort()).toEqual([
      "elapsed_ns",
      "read_bytes",
      "read_rows",
      "result_bytes",
      "result_rows",
      "total_rows_to_read",
      "written_bytes",
      "written_rows",
    ]);
  });

  it("joins the query parameter and the body with a newline, honouring default_format", async () => {
    const answer = await call(`${q("SELECT number AS n FROM numbers(2)")}&default_format=CSV`, {
      method: "POST",
      body: "WHERE n > 0",
    });
    expect([answer.text, answer.headers.get("x-clickhouse-format")]).toEqual(["1\n", "CSV"]);
  });

  it("refuses writes over GET with READONLY (164)", async () => {
    const answer = await call(q("CREATE TABLE ro_probe (a UInt8) ENGINE = Memory"));
    expect(answer.status).toBe(500);
    expect(answer.headers.get("x-clickhouse-exception-code")).toBe("164");
    expect(answer.text).toMatch(
      /^Code: 164\. DB::Exception: .*\(READONLY\) \(version [\d.]+\)\n$/s,
    );
  });

  it.each([
    ["a syntax error", "SELEC 1", 400, "62"],
    ["an unknown table", "SELECT * FROM no_table_here", 404, "60"],
    ["two statements", "SELECT 1; SELECT 2", 400, "62"],
    ["an empty query", " -- only a comment", 400, "62"],
    ["an unknown setting", "SELECT 1", 404, "115", "&no_such_setting=1"],
    ["a session", "SELECT 1", 501, "48", "&session_id=s1"],
  ])("maps %s to status %i and code %s", async (_case, sql, status, code, extra = "") => {
    const answer = await call(`/?${extra.slice(1)}`, { method: "POST", body: sql });
    expect([answer.status, answer.headers.get("x-clickhouse-exception-code")]).toEqual([
      status,
      code,
    ]);
  });

  it("accepts X-ClickHouse-User/Key and user/password parameters, refuses none and mixes", async () => {
    const viaHeaders = await call(q("SELECT 1"), {
      auth: false,
      headers: { "x-clickhouse-user": info.username, "x-clickhouse-key": info.password },
    });
    const viaParams = await call(
      `${q("SELECT 1")}&user=${info.username}&password=${encodeURIComponent(info.password)}`,
      { auth: false },
    );
    const anonymous = await call(q("SELECT 1"), { auth: false });
    const mixed = await call(q("SELECT 1"), { headers: { "x-clickhouse-user": info.username } });
    expect([viaHeaders.status, viaParams.status, anonymous.status, mixed.status]).toEqual([
      200, 200, 403, 403,
    ]);
    expect(anonymous.headers.get("x-clickhouse-exception-code")).toBe("516");
  });

  it("reads gzip request bodies and gzips answers when enable_http_compression=1", async () => {
    const response = await fetch(`${info.url}/?enable_http_compression=1`, {
      method: "POST",
      headers: {
        authorization: basic,
        "content-encoding": "gzip",
        "accept-encoding": "gzip",
      },
      body: gzipSync("SELECT repeat('z', 3) AS s FORMAT JSONEachRow"),
    });
    expect(response.headers.get("content-encoding")).toBe("gzip");
    // fetch decodes the gzip it was told about, so the text proves the encoding was real.
    expect(await response.text()).toBe('{"s":"zzz"}\n');
  });

  it("takes query and parameters from a multipart body", async () => {
    const form = new FormData();
    form.set("query", "SELECT {word:String} AS w FORMAT JSONEachRow");
    form.set("param_word", "multi\\tpart");
    const answer = await call("/", { method: "POST", body: form });
    expect(answer.text).toBe('{"w":"multi\\tpart"}\n');
  });
});

describe("SQL shape", () => {
  it.each([
    ["SELECT 1", { empty: false, verb: "SELECT", outputFormat: undefined, multiStatement: false }],
    [
      "select 1 \nFORMAT JSONEachRow",
      { empty: false, verb: "SELECT", outputFormat: "JSONEachRow", multiStatement: false },
    ],
    [
      "SELECT 1 FORMAT JSON SETTINGS max_threads = 1",
      { empty: false, verb: "SELECT", outputFormat: "JSON", multiStatement: false },
    ],
    [
      "SELECT format FROM t",
      { empty: false, verb: "SELECT", outputFormat: undefined, multiStatement: false },
    ],
    [
      "SELECT 'a;b' ; -- done",
      { empty: false, verb: "SELECT", outputFormat: undefined, multiStatement: false },
    ],
    [
      "SELECT 1; SELECT 2",
      { empty: false, verb: "SELECT", outputFormat: undefined, multiStatement: true },
    ],
    [
      "/* lead */ SELECT `x;y` FROM t",
      { empty: false, verb: "SELECT", outputFormat: undefined, multiStatement: false },
    ],
    [
      'INSERT INTO t FORMAT JSONEachRow\n{"a":"x; DROP"}',
      { empty: false, verb: "INSERT", outputFormat: undefined, multiStatement: false },
    ],
    [
      "INSERT INTO t VALUES ('a;'); ('b')",
      { empty: false, verb: "INSERT", outputFormat: undefined, multiStatement: false },
    ],
    [
      "(SELECT 1) UNION ALL (SELECT 2)",
      { empty: false, verb: "SELECT", outputFormat: undefined, multiStatement: false },
    ],
    ["  -- nothing", { empty: true, verb: "", outputFormat: undefined, multiStatement: false }],
  ])("%j", (sql, shape) => {
    expect(shapeOf(sql)).toEqual(shape);
  });

  it.each([
    [
      "INSERT INTO usage FORMAT JSONEachRow",
      { table: "usage", columns: undefined, format: "JSONEachRow" },
    ],
    [
      "INSERT INTO db.usage (a, b) FORMAT CSV",
      { table: "db.usage", columns: ["a", "b"], format: "CSV" },
    ],
    ["INSERT INTO `odd name` FORMAT JSONEachRow", undefined],
    ["INSERT INTO t (* EXCEPT (a)) FORMAT JSONEachRow", undefined],
    ["INSERT INTO t SETTINGS async_insert = 1 FORMAT JSONEachRow", undefined],
  ])("insert target of %j", (query, target) => {
    expect(insertTargetOf(query)).toEqual(target);
  });

  it("writes literals that hold any value", () => {
    expect(stringLiteral("a'b\\c\nd\te")).toBe("'a\\'b\\\\c\\nd\\te'");
  });
});

describe("request prelude", () => {
  it("sets readonly first, then the database, settings and raw parameter values", () => {
    expect(
      preludeOf({
        readonly: true,
        database: "tenant`x",
        settings: [["max_threads", "1"]],
        params: [["s", "it\\'s\\t"]],
      }),
    ).toBe(
      "SET readonly = 2; USE `tenant\\`x`; SET max_threads = '1', param_s = 'it\\\\\\'s\\\\t'",
    );
  });

  it.each([
    [
      "settings",
      { settings: [["bad name", "1"]] as [string, string][], params: [] },
      /UNKNOWN_SETTING|Unknown setting/,
    ],
    [
      "params",
      { settings: [], params: [["bad-name", "1"]] as [string, string][] },
      /parameter name/,
    ],
  ])("refuses odd %s names", (_kind, parts, message) => {
    expect(() => preludeOf({ readonly: false, database: undefined, ...parts })).toThrow(message);
  });
});

describe("migration planning", () => {
  const plan = (sql: string, absent: string[] = []) =>
    planSteps("0001_x", splitStatements(sql), "app", (ref) => absent.includes(ref.name)).map(
      (step) => step.undo,
    );

  it.each([
    [
      "creates, covered statements and an undoable ALTER",
      `CREATE TABLE IF NOT EXISTS a (id String) ENGINE = MergeTree ORDER BY id;
INSERT INTO a VALUES ('seed');
ALTER TABLE old ADD COLUMN IF NOT EXISTS c Decimal(18, 6);`,
      ["a"],
      ["create", "covered", "add"],
    ],
    [
      "an irreversible last statement",
      "CREATE TABLE IF NOT EXISTS a (id String) ENGINE = Log;\nDROP TABLE IF EXISTS old;",
      ["a"],
      ["create", "none"],
    ],
    [
      "an INSERT into a table that already existed, last",
      "CREATE TABLE IF NOT EXISTS a (id String) ENGINE = Log;\nINSERT INTO a VALUES ('x');",
      [],
      ["create", "none"],
    ],
  ])("plans %s", (_case, sql, absent, undo) => {
    expect(plan(sql, absent)).toEqual(undo);
  });

  it.each([
    ["CREATE TABLE a (id String) ENGINE = Log;", /write CREATE TABLE IF NOT EXISTS/],
    ["ALTER TABLE a ADD COLUMN b String;", /write ADD COLUMN IF NOT EXISTS/],
    ["CREATE USER IF NOT EXISTS u;", /only TABLE, VIEW/],
    [
      "ALTER TABLE a ADD COLUMN IF NOT EXISTS b String, ADD COLUMN IF NOT EXISTS c String;\nSELECT 1;",
      /statement 1: this statement cannot be undone/,
    ],
  ])("refuses %j", (sql, message) => {
    expect(() => plan(sql)).toThrow(message);
  });

  it("splits on semicolons at line ends only and drops comment-only pieces", () => {
    const statements = splitStatements("-- header\nSELECT 'a;b';\n-- only a comment\n;\nSELECT 2;");
    expect(statements.map((s) => s.head)).toEqual(["SELECT 'a;b'", "SELECT 2"]);
  });
});
