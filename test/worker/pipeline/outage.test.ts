/**
 * Sink outages through the real pipeline: events in over HTTP, the account meter's outbox
 * flushed to the real local queue, the consumer running as the queue delivers. A sink is
 * stopped through the stack control API before the flush and started again once retries were
 * seen; then everything must land exactly once, and the drift check must read zero — also
 * after the same batches are sent through the queue a second time.
 *
 * Stopping a shared service also affects test files running at the same time; the outage is
 * kept to the few seconds between the first failed delivery and the restart.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { Decimal } from "../../../lib/money/decimal.ts";
import type { RatedUsageMessage } from "../../../lib/pipeline/rated-usage-message.ts";
import { callJson } from "../support/http.ts";
import { flush, ingest, outboxMessages, pinnedAccount, seedPricedMeter } from "./flow.ts";
import { analyticsOf, clickhouse, ledgerOf, ledgerQuery, stackControl } from "./support.ts";

const WAIT = { timeout: 45_000, interval: 250 };

let meter: string;
let planId: string;

beforeAll(async () => {
  ({ meter, planId } = await seedPricedMeter());
});

interface DriftAccount {
  account: string;
  clean: boolean;
  mismatches: number;
  errors: string[];
  lag: Record<string, unknown>;
  rows: {
    meter: string;
    durableObject: Record<string, unknown>;
    postgres: Record<string, unknown> | null;
    clickhouse: Record<string, unknown> | null;
    postgresMatches: boolean | null;
    clickhouseMatches: boolean | null;
  }[];
}

async function driftOf(account: string): Promise<DriftAccount> {
  const report = await callJson<{ accounts: DriftAccount[] }>(
    `/v1/admin/drift?account=${account}`,
    200,
  );
  return report.accounts[0] as DriftAccount;
}

/** 185 units on a 100-unit tier at 0.003 then 0.0015: 0.3 + 0.1275. */
const EXPECTED = { quantity: "185", amount: "0.4275", events: 90 };

async function ingestRun(account: string): Promise<void> {
  await ingest(account, meter, "a", 40, "2.5");
  await ingest(account, meter, "b", 30, "2.5");
  await ingest(account, meter, "c", 20, "0.5");
}

function ledgerSums(rollups: { quantity: string; amount: string; events: number }[]) {
  let quantity = Decimal.ZERO;
  let amount = Decimal.ZERO;
  let events = 0;
  for (const row of rollups) {
    quantity = quantity.add(Decimal.from(row.quantity));
    amount = amount.add(Decimal.from(row.amount));
    events += row.events;
  }
  return { quantity: quantity.toString(), amount: amount.toString(), events };
}

async function expectExactlyOnce(account: string, batches: number): Promise<void> {
  const ledger = await ledgerOf(account);
  expect(ledger.batches).toBe(batches);
  expect(ledgerSums(ledger.rollups)).toEqual(EXPECTED);
  expect(await analyticsOf(account)).toMatchObject({
    events: EXPECTED.events,
    valueSum: EXPECTED.quantity,
    quantity: EXPECTED.quantity,
    amount: EXPECTED.amount,
    recordEvents: EXPECTED.events,
  });
  const drift = await driftOf(account);
  expect(drift).toMatchObject({
    account,
    clean: true,
    mismatches: 0,
    errors: [],
    lag: { outboxRows: 0, retryingBatches: 0, pendingDeadLetters: 0 },
  });
  expect(drift.rows).toEqual([
    {
      meter,
      periodStart: expect.any(String),
      durableObject: EXPECTED,
      postgres: EXPECTED,
      clickhouse: EXPECTED,
      postgresMatches: true,
      clickhouseMatches: true,
    },
  ]);
}

/**
 * Sends the same batches through the queue again (a meter resending after a crash), followed
 * by a one-event sentinel batch of another account; once the sentinel landed, the queue has
 * delivered the resent batches too (it delivers in order, in the same or earlier batches).
 */
async function resendAndSettle(messages: RatedUsageMessage[]): Promise<void> {
  const sentinel = await pinnedAccount(planId);
  await ingest(sentinel, meter, "s", 1, "1");
  const [sentinelMessage] = await outboxMessages(sentinel);
  await env.RATED_USAGE.sendBatch(
    [...messages, sentinelMessage as RatedUsageMessage].map((body) => ({
      body,
      contentType: "json",
    })),
  );
  await vi.waitFor(async () => {
    expect((await analyticsOf(sentinel)).events).toBe(1);
    expect((await ledgerOf(sentinel)).batches).toBe(1);
  }, WAIT);
}

describe("sink outages", () => {
  it("retries while ClickHouse is down, then lands everything exactly once with zero drift", async () => {
    const account = await pinnedAccount(planId);
    await stackControl("clickhouse", "stop");
    let messages: RatedUsageMessage[] = [];
    try {
      await ingestRun(account);
      messages = await outboxMessages(account);
      await flush(account);
      // Retries, not loss: the ledger took the batches, ClickHouse failed, the notes say so.
      await vi.waitFor(async () => {
        const notes = await ledgerQuery<{ batch_id: string; error_code: string }>(
          "select batch_id, error_code from pipeline_failures where account_id = $1 order by batch_id",
          [account],
        );
        expect(notes).toEqual(
          messages.map((m) => ({ batch_id: m.batchId, error_code: "CLICKHOUSE_UNREACHABLE" })),
        );
      }, WAIT);
      expect((await ledgerOf(account)).batches).toBe(messages.length);
      const drift = await driftOf(account);
      expect(drift.clean).toBe(false);
      expect(drift.lag.retryingBatches).toBe(messages.length);
      expect(drift.rows[0]?.clickhouse).toBeNull();
    } finally {
      await stackControl("clickhouse", "start");
    }
    await vi.waitFor(async () => {
      expect((await analyticsOf(account)).events).toBe(EXPECTED.events);
      expect(
        await ledgerQuery("select 1 from pipeline_failures where account_id = $1", [account]),
      ).toEqual([]);
    }, WAIT);
    await expectExactlyOnce(account, messages.length);

    await resendAndSettle(messages);
    await expectExactlyOnce(account, messages.length);
  });

  it("retries while Postgres is down, then applies the ledger exactly once with zero drift", async () => {
    const account = await pinnedAccount(planId);
    // The first call loads the account's configuration while the catalogue is reachable.
    await ingest(account, meter, "a", 40, "2.5");
    await stackControl("postgres", "stop");
    let messages: RatedUsageMessage[] = [];
    try {
      await ingest(account, meter, "b", 30, "2.5");
      await ingest(account, meter, "c", 20, "0.5");
      messages = await outboxMessages(account);
      await flush(account);
      // Retries, not loss: ClickHouse took the batches and holds the consumer's notes.
      await vi.waitFor(async () => {
        const result = await clickhouse().query({
          query: `SELECT batch_id, error_code FROM pipeline_failures FINAL
                  WHERE account_id = {a:String} ORDER BY batch_id`,
          query_params: { a: account },
          format: "JSONEachRow",
        });
        expect(await result.json()).toEqual(
          messages.map((m) => ({ batch_id: m.batchId, error_code: "DEPENDENCY_UNAVAILABLE" })),
        );
      }, WAIT);
      expect((await analyticsOf(account)).events).toBe(EXPECTED.events);
    } finally {
      await stackControl("postgres", "start");
    }
    await vi.waitFor(async () => {
      expect((await ledgerOf(account)).batches).toBe(messages.length);
    }, WAIT);
    await expectExactlyOnce(account, messages.length);

    await resendAndSettle(messages);
    await expectExactlyOnce(account, messages.length);
  });
});
