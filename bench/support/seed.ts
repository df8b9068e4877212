/**
 * Seeds the benchmark catalogue straight into Postgres (the catalogue API would take minutes for
 * a thousand accounts): meters, a plan with a five-tier graduated token price, and accounts.
 */
import pg from "pg";

export const BENCH_METERS = { tokens: "bench_tokens", requests: "bench_requests" } as const;

export const FIVE_TIER_GRADUATED = {
  model: "graduated",
  tiers: [
    { upTo: "1000", unitPrice: "0.002" },
    { upTo: "10000", unitPrice: "0.0015" },
    { upTo: "100000", unitPrice: "0.001" },
    { upTo: "1000000", unitPrice: "0.0008" },
    { upTo: null, unitPrice: "0.0005" },
  ],
};

export function benchAccountId(n: number): string {
  return `bench-${String(n).padStart(5, "0")}`;
}

/** Inserts `accounts` accounts on one plan; idempotent. */
export async function seedBenchCatalogue(databaseUrl: string, accounts: number): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query("begin");
    await client.query(
      `insert into meters (key, name, aggregation, unit) values
         ($1, 'Tokens', 'sum', 'token'), ($2, 'Requests', 'count', 'request')
       on conflict do nothing`,
      [BENCH_METERS.tokens, BENCH_METERS.requests],
    );
    await client.query("update catalogue_state set meters_revision = meters_revision + 1");
    await client.query(
      "insert into plans (id, key, name) values ('plan_bench', 'bench', 'Bench') on conflict do nothing",
    );
    await client.query(
      `insert into plan_versions (id, plan_id, version, effective_from, currency, base_fee, prices)
       values ('planv_bench_1', 'plan_bench', 1, '2000-01-01T00:00:00Z', 'USD', '10', $1)
       on conflict do nothing`,
      [
        JSON.stringify({
          [BENCH_METERS.tokens]: FIVE_TIER_GRADUATED,
          [BENCH_METERS.requests]: { model: "per_unit", unitPrice: "0.0001" },
        }),
      ],
    );
    const ids = Array.from({ length: accounts }, (_, n) => benchAccountId(n));
    await client.query(
      `insert into accounts (id, name, currency, time_zone, billing_interval, collection_method)
       select id, id, 'USD', 'UTC', '{"unit":"month","count":1,"anchorDay":1}', 'charge_automatically'
         from unnest($1::text[]) as id
       on conflict do nothing`,
      [ids],
    );
    await client.query(
      `insert into account_plans (account_id, plan_id, effective_from)
       select id, 'plan_bench', '2000-01-01T00:00:00Z' from unnest($1::text[]) as id
       on conflict do nothing`,
      [ids],
    );
    await client.query("commit");
  } finally {
    await client.end();
  }
}
