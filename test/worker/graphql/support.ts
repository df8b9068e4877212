import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { type Database, openDatabase } from "../../../lib/adapters/postgres.ts";
import { configFor } from "../../../lib/env/config.ts";
import { type CallOptions, call, callJson, unique } from "../support/http.ts";

/** A GraphQL answer as the API sends it. */
export interface GraphQLAnswer<Data> {
  data?: Data | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
}

/** POSTs an operation to /graphql (admin key unless told otherwise); returns status and body. */
export async function gql<Data = Record<string, unknown>>(
  query: string,
  variables: Record<string, unknown> = {},
  options: CallOptions = {},
): Promise<{ status: number; body: GraphQLAnswer<Data>; headers: Headers }> {
  const response = await call("/graphql", { body: { query, variables }, ...options });
  const text = await response.text();
  return {
    status: response.status,
    body: JSON.parse(text) as GraphQLAnswer<Data>,
    headers: response.headers,
  };
}

/** POSTs an operation that must succeed without errors; returns its data. */
export async function gqlData<Data>(
  query: string,
  variables: Record<string, unknown> = {},
): Promise<Data> {
  const { status, body } = await gql<Data>(query, variables);
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  expect(status).toBe(200);
  return body.data as Data;
}

/** The `extensions.code` of each error of an answer, in order. */
export function codes(answer: GraphQLAnswer<unknown>): unknown[] {
  return (answer.errors ?? []).map((e) => e.extensions?.code);
}

/** A database handle for seeding rows no API writes yet (close it with `end()`). */
export function testDb(): Database {
  return openDatabase(configFor(env).database, { max: 2 });
}

/** A sum meter, a plan pricing it at 0.5 USD per unit since 2020, and an account on the plan. */
export async function seedPricedAccount(): Promise<{
  meter: string;
  planId: string;
  accountId: string;
}> {
  const meter = unique("gm").replaceAll("-", "_");
  await callJson("/v1/meters", 201, {
    body: { key: meter, aggregation: "sum", unit: "tokens", name: "Tokens" },
  });
  const plan = await callJson<{ id: string }>("/v1/plans", 201, {
    body: {
      key: unique("gplan"),
      name: "GraphQL test plan",
      versions: [
        {
          currency: "USD",
          effectiveFrom: "2020-01-01T00:00:00Z",
          prices: { [meter]: { model: "per_unit", unitPrice: "0.5" } },
        },
      ],
    },
  });
  const account = await callJson<{ id: string }>("/v1/accounts", 201, {
    body: {
      id: unique("gacct"),
      name: "GraphQL test account",
      currency: "USD",
      timeZone: "UTC",
      billingInterval: { unit: "month", count: 1, anchorDay: 1 },
      planId: plan.id,
      planEffectiveFrom: "2020-01-01T00:00:00Z",
    },
  });
  return { meter, planId: plan.id, accountId: account.id };
}

/** Sends events through the ingestion API with the admin key; asserts all were accepted. */
export async function ingest(
  accountId: string,
  meter: string,
  events: { id: string; value: string; time: string }[],
): Promise<void> {
  const summary = await callJson<{ accepted: number; rejected: unknown[] }>("/v1/events", 202, {
    body: events.map((e) => ({ ...e, account: accountId, meter })),
  });
  expect(summary.rejected).toEqual([]);
  expect(summary.accepted).toBe(events.length);
}

export interface InvoiceSeed {
  id: string;
  accountId: string;
  number: string;
  periodStart: string;
  periodEnd: string;
  totalMinor: number;
  runId?: string | null;
  lines: {
    description: string;
    meter: string | null;
    quantity: string;
    amount: string;
    amountMinor: number;
  }[];
}

/**
 * Writes an open invoice with its lines straight into Postgres (the invoice run writes them in
 * production; these tests only read them).
 */
export async function seedInvoice(db: Database, invoice: InvoiceSeed): Promise<void> {
  await db.query(
    `insert into invoices (id, account_id, period_start, period_end, number, status, currency,
                           collection_method, subtotal_minor, total_minor, amount_due_minor,
                           run_id, finalized_at)
     values ($1, $2, $3, $4, $5, 'open', 'USD', 'charge_automatically', $6, $6, $6, $7, $4)`,
    [
      invoice.id,
      invoice.accountId,
      invoice.periodStart,
      invoice.periodEnd,
      invoice.number,
      invoice.totalMinor,
      invoice.runId ?? null,
    ],
  );
  for (const [index, line] of invoice.lines.entries()) {
    await db.query(
      `insert into invoice_lines (id, invoice_id, position, kind, description, meter, quantity,
                                  unit_price, amount, amount_minor, period_start, period_end)
       values ($1, $2, $3, 'usage', $4, $5, $6, 0.5, $7, $8, $9, $10)`,
      [
        `${invoice.id}_l${index + 1}`,
        invoice.id,
        index + 1,
        line.description,
        line.meter,
        line.quantity,
        line.amount,
        line.amountMinor,
        invoice.periodStart,
        invoice.periodEnd,
      ],
    );
  }
}
