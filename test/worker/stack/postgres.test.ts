/**
 * The Worker's own Postgres path inside workerd: `openDatabase` (Pool over the WebSocket
 * tunnel) and `neon()` over HTTP, configured only by the bindings the global stack provides.
 */
import { env } from "cloudflare:workers";
import { neon } from "@neondatabase/serverless";
import { describe, expect, it } from "vitest";
import {
  configureDriver,
  openDatabase,
  PG_UNIQUE_VIOLATION,
  type PostgresSettings,
} from "../../../lib/adapters/postgres.ts";

const bindings = env as unknown as Record<string, string | undefined>;
const settings: PostgresSettings = {
  url: env.DATABASE_URL,
  wsProxy: bindings.NEON_WS_PROXY,
  httpEndpoint: bindings.NEON_HTTP_ENDPOINT,
};

function unique(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`;
}

async function caught(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Record<string, unknown>;
  }
  throw new Error("expected a rejection");
}

/** Opens a database for one test and always ends it, as a request does with waitUntil. */
async function withDatabase<T>(work: (db: ReturnType<typeof openDatabase>) => Promise<T>) {
  const db = openDatabase(settings);
  try {
    return await work(db);
  } finally {
    await db.end();
  }
}

describe("openDatabase inside workerd", () => {
  it("runs parameterised queries through the local Neon tunnel", async () => {
    const result = await withDatabase((db) =>
      db.query<{ n: number; who: string }>("select $1::int + 1 as n, current_user as who", [41]),
    );
    expect(result).toEqual({ rows: [{ n: 42, who: "app" }], rowCount: 1 });
  });

  it("commits a transaction and rolls one back when its work throws", async () => {
    const table = unique("worker_tx");
    const ids = await withDatabase(async (db) => {
      await db.query(`create table ${table} (id int primary key)`);
      await db.transaction(async (tx) => {
        await tx.query(`insert into ${table} values ($1)`, [1]);
        await tx.query(`insert into ${table} values ($1)`, [2]);
      });
      const thrown = await caught(
        db.transaction(async (tx) => {
          await tx.query(`insert into ${table} values ($1)`, [3]);
          throw new Error("work failed after the insert");
        }),
      );
      expect(thrown.message).toBe("work failed after the insert");
      const { rows } = await db.query<{ id: number }>(`select id from ${table} order by id`);
      return rows.map((row) => row.id);
    });
    expect(ids).toEqual([1, 2]);
  });

  it("surfaces SQL errors with their SQLSTATE and rolls the transaction back", async () => {
    const table = unique("worker_err");
    const outcome = await withDatabase(async (db) => {
      const missing = await caught(db.query("select * from no_such_table"));
      await db.query(`create table ${table} (id int primary key)`);
      await db.query(`insert into ${table} values (1)`);
      const duplicate = await caught(
        db.transaction(async (tx) => {
          await tx.query(`insert into ${table} values (2)`);
          await tx.query(`insert into ${table} values (1)`);
        }),
      );
      const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from ${table}`);
      return { missing: missing.code, duplicate: duplicate.code, count: rows[0]?.n };
    });
    expect(outcome).toEqual({ missing: "42P01", duplicate: PG_UNIQUE_VIOLATION, count: 1 });
  });
});

describe("neon() inside workerd", () => {
  it("queries and runs transactions through NEON_HTTP_ENDPOINT", async () => {
    configureDriver(settings);
    const sql = neon(settings.url);
    const table = unique("worker_http");
    await sql.query(`create table ${table} (id int primary key, body jsonb not null)`);
    const [level, inserted] = await sql.transaction(
      (tx) => [
        tx`select current_setting('transaction_isolation') as level`,
        tx.query(`insert into ${table} values ($1, $2) returning id, body`, [
          1,
          JSON.stringify({ plan: "pro" }),
        ]),
      ],
      { isolationLevel: "RepeatableRead" },
    );
    const missing = await caught(sql`select * from no_such_table`);
    expect(level).toEqual([{ level: "repeatable read" }]);
    expect(inserted).toEqual([{ id: 1, body: { plan: "pro" } }]);
    expect(missing).toMatchObject({ name: "NeonDbError", code: "42P01" });
    expect(await sql`select ${7}::int * 6 as n`).toEqual([{ n: 42 }]);
  });
});
