/**
 * The drift check: the account meter's totals against the Postgres ledger and ClickHouse, with
 * the pipeline lag that explains a difference in flight. Zero drift after a drained run with
 * redeliveries and outages is proven in outage.test.ts; this file proves that real differences
 * are caught, lag is reported, and the scheduled handler and endpoint behave.
 */
import {
  createExecutionContext,
  createScheduledController,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import worker from "../../../functions/index.ts";
import { seedAccount } from "../support/catalogue.ts";
import { call, callJson } from "../support/http.ts";
import { flush, ingest, pinnedAccount, seedPricedMeter } from "./flow.ts";
import { analyticsOf, clickhouse, ledgerOf, ledgerQuery } from "./support.ts";

const WAIT = { timeout: 30_000, interval: 200 };
/** 30 events of 2 units: 60 units on the first tier at 0.003. */
const EXPECTED = { quantity: "60", amount: "0.18", events: 30 };

let meter: string;
let planId: string;

interface DriftRow {
  meter: string;
  periodStart: string;
  durableObject: typeof EXPECTED;
  postgres: typeof EXPECTED | null;
  clickhouse: typeof EXPECTED | null;
  postgresMatches: boolean | null;
  clickhouseMatches: boolean | null;
}
interface DriftAccount {
  account: string;
  clean: boolean;
  mismatches: number;
  errors: string[];
  lag: {
    outboxRows: number;
    oldestOutboxAt: string | null;
    retryingBatches: number;
    pendingDeadLetters: number;
  };
  rows: DriftRow[];
}
interface DriftReport {
  checkedAt: string;
  queue: { backlogCount: number; backlogBytes: number; oldestMessageAt: string | null } | null;
  accounts: DriftAccount[];
}

async function drift(query: string): Promise<DriftReport> {
  return callJson<DriftReport>(`/v1/admin/drift?${query}`, 200);
}

/** An account whose 30 events went through the whole pipeline and landed in both sinks. */
async function landedAccount(): Promise<string> {
  const account = await pinnedAccount(planId);
  await ingest(account, meter, "e", 30, "2");
  await flush(account);
  await vi.waitFor(async () => {
    expect((await ledgerOf(account)).batches).toBe(1);
    expect((await analyticsOf(account)).events).toBe(30);
  }, WAIT);
  return account;
}

beforeAll(async () => {
  ({ meter, planId } = await seedPricedMeter());
});

describe("drift check", () => {
  it("reads zero for a drained account, and names the sink a tampered row disagrees in", async () => {
    const account = await landedAccount();
    const clean = await drift(`account=${account}`);
    expect(clean.accounts).toEqual([
      {
        account,
        clean: true,
        mismatches: 0,
        errors: [],
        lag: {
          outboxRows: 0,
          oldestOutboxAt: null,
          retryingBatches: 0,
          oldestRetryFailedAt: null,
          pendingDeadLetters: 0,
          oldestDeadLetterAt: null,
        },
        rows: [
          {
            meter,
            periodStart: expect.any(String),
            durableObject: EXPECTED,
            postgres: EXPECTED,
            clickhouse: EXPECTED,
            postgresMatches: true,
            clickhouseMatches: true,
          },
        ],
      },
    ]);

    await ledgerQuery(
      "update usage_rollups set quantity = quantity + 0.000000000001 where account_id = $1",
      [account],
    );
    const ledgerOff = (await drift(`account=${account}`)).accounts[0];
    expect(ledgerOff).toMatchObject({ clean: false, mismatches: 1 });
    expect(ledgerOff?.rows).toEqual([
      {
        meter,
        periodStart: expect.any(String),
        durableObject: EXPECTED,
        postgres: { ...EXPECTED, quantity: "60.000000000001" },
        clickhouse: EXPECTED,
        postgresMatches: false,
        clickhouseMatches: true,
      },
    ]);
    await ledgerQuery(
      "update usage_rollups set quantity = quantity - 0.000000000001 where account_id = $1",
      [account],
    );

    // A stray rated row in ClickHouse (another record id) is a ClickHouse-side difference.
    const [row] = await (
      await clickhouse().query({
        query: "SELECT * FROM usage_rated FINAL WHERE account_id = {a:String} LIMIT 1",
        query_params: { a: account },
        format: "JSONEachRow",
      })
    ).json<Record<string, unknown>>();
    await clickhouse().insert({
      table: "usage_rated",
      values: [{ ...row, record_id: `${account}:stray:0`, event_count: 1 }],
      format: "JSONEachRow",
    });
    const analyticsOff = (await drift(`account=${account}`)).accounts[0];
    expect(analyticsOff).toMatchObject({ clean: false, mismatches: 1 });
    expect(analyticsOff?.rows[0]).toMatchObject({
      postgresMatches: true,
      clickhouseMatches: false,
      clickhouse: { events: 31 },
    });
  });

  it("reports the outbox as lag while the meter has not sent its batches", async () => {
    const account = await pinnedAccount(planId);
    await ingest(account, meter, "e", 30, "2");
    const report = (await drift(`account=${account}`)).accounts[0];
    expect(report).toMatchObject({
      clean: false,
      mismatches: 1,
      lag: { outboxRows: 1, oldestOutboxAt: expect.any(String), retryingBatches: 0 },
    });
    expect(report?.rows).toEqual([
      {
        meter,
        periodStart: expect.any(String),
        durableObject: EXPECTED,
        postgres: { quantity: "0", amount: "0", events: 0 },
        clickhouse: { quantity: "0", amount: "0", events: 0 },
        postgresMatches: false,
        clickhouseMatches: false,
      },
    ]);
    await flush(account);
    await vi.waitFor(async () => {
      expect((await drift(`account=${account}`)).accounts[0]?.clean).toBe(true);
    }, WAIT);
  });

  it("checks the period containing a given instant", async () => {
    const account = await landedAccount();
    const now = new Date();
    const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    const report = await drift(`account=${account}&period=${now.toISOString()}`);
    expect(report.accounts[0]?.rows.map((r) => r.periodStart)).toEqual([monthStart.toISOString()]);
    const before = new Date(monthStart.getTime() - 1).toISOString();
    const empty = await drift(`account=${account}&period=${before}`);
    expect(empty.accounts[0]?.rows).toEqual([]);
  });

  it("runs on its cron over recently active accounts, and on demand without an account", async () => {
    const account = await landedAccount();
    const ctx = createExecutionContext();
    await (
      worker.scheduled as (c: ScheduledController, e: Env, x: ExecutionContext) => Promise<void>
    )(createScheduledController({ cron: "*/5 * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);
    const report = await drift("");
    expect(report.queue).toEqual({
      backlogCount: expect.any(Number),
      backlogBytes: expect.any(Number),
      oldestMessageAt: report.queue?.oldestMessageAt ?? null,
    });
    expect(report.accounts.find((a) => a.account === account)).toMatchObject({
      clean: true,
      mismatches: 0,
    });
  });

  it("is for the admin key only and validates its parameters", async () => {
    const account = unique();
    await seedAccount({ id: account });
    const key = await callJson<{ key: string }>(`/v1/accounts/${account}/api-keys`, 201, {
      body: {},
    });
    expect((await call(`/v1/admin/drift?account=${account}`, { key: null })).status).toBe(401);
    expect((await call(`/v1/admin/drift?account=${account}`, { key: key.key })).status).toBe(403);
    expect((await call("/v1/admin/drift?period=2026-11-01T00:00:00Z")).status).toBe(400);
    expect((await call("/v1/admin/drift?account=bad%20id")).status).toBe(400);
    expect((await call(`/v1/admin/drift?account=${account}&period=soon`)).status).toBe(400);
  });
});

function unique(): string {
  return `drift-${crypto.randomUUID().slice(0, 8)}`;
}
