import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { meterFor } from "../../../functions/meters.ts";
import { openClickHouse } from "../../../lib/adapters/clickhouse.ts";
import { openDatabase, type Queryable } from "../../../lib/adapters/postgres.ts";
import { systemClock } from "../../../lib/clock/clock.ts";
import { configFor } from "../../../lib/env/config.ts";
import type { GraphQLDeps } from "../../../lib/graphql/context.ts";
import { graphQLServer } from "../../../lib/graphql/server.ts";
import { createLogger } from "../../../lib/log/logger.ts";
import { type GraphQLAnswer, seedPricedAccount } from "./support.ts";

/** A closed loopback port: a dependency "there" is down. */
const NOWHERE = "http://127.0.0.1:9";

async function ask(
  query: string,
  variables: Record<string, unknown>,
  down: { postgres?: boolean; clickhouse?: boolean; broken?: Queryable },
): Promise<GraphQLAnswer<Record<string, unknown>>> {
  const config = configFor(env);
  const db = openDatabase(
    down.postgres
      ? { ...config.database, url: config.database.url.replace(/@[^/]+\//, "@127.0.0.1:9/") }
      : config.database,
    { max: 2 },
  );
  const deps: GraphQLDeps = {
    db: down.broken ?? db,
    clickhouse: openClickHouse(
      down.clickhouse ? { ...config.clickhouse, url: NOWHERE } : config.clickhouse,
    ),
    clock: systemClock,
    log: createLogger({ level: "error" }),
    requestId: "req_failures_test",
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
    return (await response.json()) as GraphQLAnswer<Record<string, unknown>>;
  } finally {
    await db.end();
  }
}

describe("when a dependency is down", () => {
  it("fails only the ClickHouse field, retryably, and answers the rest", async () => {
    const { accountId } = await seedPricedAccount();
    const answer = await ask(
      `query($id: ID!) { account(id: $id) { id
        usageHistory(from: "2026-12-01T00:00:00Z", to: "2026-12-02T00:00:00Z") { nodes { events } }
        usage { sealed } } }`,
      { id: accountId },
      { clickhouse: true },
    );
    expect(
      answer.errors?.map((e) => [e.path, e.extensions?.code, e.extensions?.retryable]),
    ).toEqual([[["account", "usageHistory"], "DEPENDENCY_UNAVAILABLE", true]]);
    expect(answer.data).toEqual({
      account: { id: accountId, usageHistory: null, usage: { sealed: false } },
    });
  });

  it("fails the Postgres fields, retryably, and still answers what the meters know", async () => {
    const answer = await ask(
      "{ now accounts { nodes { id } } pipelineHealth { deadLetters { pending } } }",
      {},
      { postgres: true },
    );
    expect(answer.errors?.map((e) => [e.path?.[0], e.extensions?.code]).sort()).toEqual([
      ["accounts", "DEPENDENCY_UNAVAILABLE"],
      ["pipelineHealth", "DEPENDENCY_UNAVAILABLE"],
    ]);
    expect(answer.data).toEqual({ now: expect.any(String), accounts: null, pipelineHealth: null });
  });

  it("hides an unexpected failure's details behind INTERNAL and the request id", async () => {
    const broken: Queryable = {
      query: () => Promise.reject(new Error("driver exploded: password=hunter2")),
    };
    const answer = await ask("{ now invoices { nodes { id } } }", {}, { broken });
    expect(answer.errors).toEqual([
      {
        message: "Internal error",
        locations: [{ line: 1, column: 7 }],
        path: ["invoices"],
        extensions: { code: "INTERNAL", requestId: "req_failures_test" },
      },
    ]);
    expect(JSON.stringify(answer)).not.toContain("hunter2");
  });

  it("refuses a cursor whose sort key is not an instant as BAD_USER_INPUT", async () => {
    const { encodeCursor } = await import("../../../lib/graphql/connection.ts");
    const { accountId } = await seedPricedAccount();
    const answer = await ask(
      "query($id: ID!, $after: String) { account(id: $id) { invoices(after: $after) { nodes { id } } } }",
      { id: accountId, after: encodeCursor(["not-a-time", "inv_x"]) },
      {},
    );
    expect(answer.errors?.map((e) => e.extensions?.code)).toEqual(["BAD_USER_INPUT"]);
  });
});
