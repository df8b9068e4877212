import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { meterFor } from "../../../functions/meters.ts";
import { openClickHouse } from "../../../lib/adapters/clickhouse.ts";
import type { Queryable } from "../../../lib/adapters/postgres.ts";
import { encodeCursor } from "../../../lib/catalogue/pagination.ts";
import { FixedClock } from "../../../lib/clock/clock.ts";
import { configFor } from "../../../lib/env/config.ts";
import type { GraphQLDeps } from "../../../lib/graphql/context.ts";
import { graphQLServer } from "../../../lib/graphql/server.ts";
import { createLogger } from "../../../lib/log/logger.ts";
import { callJson } from "../support/http.ts";
import { seedInvoice, testDb } from "./support.ts";

/** Accounts, each with a plan, a throttle row, two invoices of two lines and audit records. */
async function seedAccounts(prefix: string, count: number, planId: string): Promise<string[]> {
  const ids: string[] = [];
  const db = testDb();
  try {
    for (let i = 0; i < count; i += 1) {
      const id = `${prefix}${String(i).padStart(2, "0")}`;
      ids.push(id);
      await callJson("/v1/accounts", 201, {
        body: {
          id,
          name: `Batch ${i}`,
          currency: "USD",
          timeZone: "UTC",
          billingInterval: { unit: "month", count: 1, anchorDay: 1 },
          planId,
          planEffectiveFrom: "2020-01-01T00:00:00Z",
        },
      });
      await db.query(
        `insert into account_risk (account_id, level, score, reasons, level_since, updated_at)
         values ($1, 'watch', 30, '[]', now(), now())`,
        [id],
      );
      for (const [month, start, end] of [
        [9, "2026-09-01T00:00:00Z", "2026-10-01T00:00:00Z"],
        [10, "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z"],
      ] as const) {
        await seedInvoice(db, {
          id: `${id}_inv${month}`,
          accountId: id,
          number: `${id}-${month}`,
          periodStart: start,
          periodEnd: end,
          totalMinor: 300,
          lines: [
            { description: "A", meter: null, quantity: "1", amount: "1", amountMinor: 100 },
            { description: "B", meter: null, quantity: "4", amount: "2", amountMinor: 200 },
          ],
        });
      }
    }
  } finally {
    await db.end();
  }
  return ids;
}

/** Runs a query through the GraphQL server with a database that counts its queries. */
async function countQueries(query: string, variables: Record<string, unknown>) {
  const config = configFor(env);
  const db = testDb();
  const statements: string[] = [];
  const counting: Queryable = {
    query: (sql, params) => {
      statements.push(sql.replace(/\s+/g, " ").trim().slice(0, 60));
      return db.query(sql, params);
    },
  };
  const deps: GraphQLDeps = {
    db: counting,
    clickhouse: openClickHouse(config.clickhouse),
    clock: new FixedClock(Date.UTC(2026, 11, 4, 12)),
    log: createLogger({ level: "warn" }),
    requestId: "req_batching_test",
    meterFor: (id) => meterFor(env, id),
    queueBacklog: async () => null,
  };
  try {
    const response = await graphQLServer().fetch(
      new Request("http://meterline.test/graphql", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query, variables }),
      }),
      { deps },
    );
    const body = (await response.json()) as {
      data: { accounts: { nodes: unknown[] } };
      errors?: unknown;
    };
    return { body, statements };
  } finally {
    await db.end();
  }
}

const NESTED = `query($n: Int!, $after: String) {
  accounts(first: $n, after: $after) { nodes {
    id
    plan { name currentVersion { version } }
    throttleState { level score }
    invoices(first: 5) { nodes { number account { id } lines(first: 5) { nodes { position amount { amountMinor } } } } }
    auditRecords(first: 3) { nodes { action } }
  } }
}`;

describe("batch loading", () => {
  it("reads a page of N accounts with nested lists in the same few queries for any N", async () => {
    const plan = await callJson<{ id: string }>("/v1/plans", 201, {
      body: {
        key: `batch-${crypto.randomUUID().slice(0, 8)}`,
        name: "Batch plan",
        versions: [{ currency: "USD", effectiveFrom: "2020-01-01T00:00:00Z", prices: {} }],
      },
    });
    const tag = crypto.randomUUID().slice(0, 8);
    const small = await seedAccounts(`gqlbatch-${tag}-a`, 3, plan.id);
    const large = await seedAccounts(`gqlbatch-${tag}-b`, 12, plan.id);

    const three = await countQueries(NESTED, { n: 3, after: encodeCursor(`gqlbatch-${tag}-a`) });
    const twelve = await countQueries(NESTED, { n: 12, after: encodeCursor(`gqlbatch-${tag}-b`) });

    expect(three.body.errors).toBeUndefined();
    expect(twelve.body.errors).toBeUndefined();
    expect(three.body.data.accounts.nodes.map((a) => (a as { id: string }).id)).toEqual(small);
    expect(twelve.body.data.accounts.nodes.map((a) => (a as { id: string }).id)).toEqual(large);
    const first = twelve.body.data.accounts.nodes[0] as {
      invoices: { nodes: { number: string; lines: { nodes: unknown[] } }[] };
      throttleState: unknown;
    };
    expect(first.invoices.nodes.map((i) => i.number)).toEqual([`${large[0]}-10`, `${large[0]}-9`]);
    expect(first.invoices.nodes[0]?.lines.nodes).toEqual([
      { position: 1, amount: { amountMinor: "100" } },
      { position: 2, amount: { amountMinor: "200" } },
    ]);
    expect(first.throttleState).toEqual({ level: "WATCH", score: 30 });

    // accounts + their plan schedules (lib/catalogue), plans + versions, throttle rows,
    // invoices, lines, audit records: 8 queries, whether the page holds 3 accounts or 12.
    // Each invoice's `account` is already loaded (primed by the list), so it costs nothing.
    expect(three.statements).toHaveLength(8);
    expect(twelve.statements).toHaveLength(8);
  });
});
