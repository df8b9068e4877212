/**
 * Dead letters: the DLQ consumer records what exhausted its retries with the consumer's last
 * error; the admin endpoints list them and replay one or all through the real queue, and a
 * replayed batch still counts exactly once.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { seedAccount } from "../support/catalogue.ts";
import { call, callJson, unique } from "../support/http.ts";
import {
  analyticsOf,
  DLQ,
  deliver,
  envWithoutClickHouse,
  envWithoutPostgres,
  ledgerOf,
  ledgerQuery,
  RATED_QUEUE,
  ratedMessage,
} from "./support.ts";

const WAIT = { timeout: 30_000, interval: 200 };

interface Letter {
  id: string;
  messageId: string;
  queue: string;
  reason: string;
  batchId: string | null;
  accountId: string | null;
  errorCode: string;
  error: string;
  attempts: number | null;
  lastFailedAt: string | null;
  deadAt: string;
  replayedAt: string | null;
  replays: number;
  body: string;
}

async function lettersOf(account: string, status = "all"): Promise<Letter[]> {
  const page = await callJson<{ deadLetters: Letter[]; next: string | null }>(
    `/v1/admin/dead-letters?status=${status}&account=${account}`,
    200,
  );
  return page.deadLetters;
}

describe("dead-letter consumer", () => {
  it("records a batch that exhausted its retries with the last error and attempts, once", async () => {
    const account = unique("acct");
    const message = ratedMessage(account, 1);
    // The ninth (last) delivery fails because ClickHouse is down: the consumer notes why.
    const last = await deliver(
      RATED_QUEUE,
      [{ id: "m", body: message, attempts: 9 }],
      envWithoutClickHouse(),
    );
    expect(last.retried).toEqual([{ id: "m", delaySeconds: 300 }]);
    // The queue then moves the message to the dead-letter queue (a new delivery count there).
    const dlqId = unique("dlq-msg");
    expect(await deliver(DLQ, [{ id: dlqId, body: message }])).toEqual({
      acked: [dlqId],
      retried: [],
    });
    // The queue may deliver it again: it is recorded once.
    expect(await deliver(DLQ, [{ id: dlqId, body: message, attempts: 2 }])).toEqual({
      acked: [dlqId],
      retried: [],
    });
    const letters = await lettersOf(account);
    expect(letters).toEqual([
      {
        id: expect.stringMatching(/^dlq_[0-9a-z]{26}$/),
        messageId: dlqId,
        queue: DLQ,
        reason: "retries_exhausted",
        batchId: `${account}:1`,
        accountId: account,
        errorCode: "CLICKHOUSE_UNREACHABLE",
        error: expect.stringContaining("Network connection lost"),
        attempts: 9,
        lastFailedAt: expect.any(String),
        deadAt: expect.any(String),
        replayedAt: null,
        replays: 0,
        body: JSON.stringify(message),
      },
    ]);
    // The note moved into the dead letter: the batch no longer counts as retrying.
    expect(
      await ledgerQuery("select 1 from pipeline_failures where batch_id = $1", [`${account}:1`]),
    ).toEqual([]);
  });

  it("finds the last error in ClickHouse when Postgres was the sink that was down", async () => {
    const account = unique("acct");
    const message = ratedMessage(account, 3);
    await deliver(RATED_QUEUE, [{ id: "m", body: message, attempts: 9 }], envWithoutPostgres());
    const dlqId = unique("dlq-msg");
    await deliver(DLQ, [{ id: dlqId, body: message }]);
    expect(await lettersOf(account)).toMatchObject([
      {
        reason: "retries_exhausted",
        errorCode: "DEPENDENCY_UNAVAILABLE",
        error: expect.stringContaining("Postgres is unreachable"),
        attempts: 9,
      },
    ]);
  });

  it("records an unreadable body with the reason", async () => {
    const dlqId = unique("dlq-msg");
    expect(await deliver(DLQ, [{ id: dlqId, body: { v: 7, accountId: "x" } }])).toEqual({
      acked: [dlqId],
      retried: [],
    });
    const [row] = await ledgerQuery<{ reason: string; error: string; account_id: string }>(
      "select reason, error, account_id from dead_letters where message_id = $1",
      [dlqId],
    );
    expect(row).toEqual({
      reason: "invalid_body",
      error: "v: unsupported message version 7 (this consumer reads version 1)",
      account_id: "x",
    });
  });

  it("retries with its own backoff while Postgres cannot record", async () => {
    const dlqId = unique("dlq-msg");
    const body = ratedMessage(unique("acct"), 1);
    expect(await deliver(DLQ, [{ id: dlqId, body, attempts: 3 }], envWithoutPostgres())).toEqual({
      acked: [],
      retried: [{ id: dlqId, delaySeconds: 120 }],
    });
  });
});

describe("dead-letter admin endpoints", () => {
  it("refuse callers without the admin key", async () => {
    const account = unique("acct");
    await seedAccount({ id: account });
    const key = await callJson<{ key: string }>(`/v1/accounts/${account}/api-keys`, 201, {
      body: { name: "dlq" },
    });
    const cases: [string | null, number][] = [
      [null, 401],
      ["mlk_nonsense", 401],
      [key.key, 403],
    ];
    for (const [bearer, status] of cases) {
      expect((await call("/v1/admin/dead-letters", { key: bearer })).status).toBe(status);
      expect(
        (await call("/v1/admin/dead-letters/replay", { method: "POST", key: bearer })).status,
      ).toBe(status);
    }
    expect((await call("/v1/admin/dead-letters/dlq_unknown")).status).toBe(404);
    expect(
      (await call("/v1/admin/dead-letters/dlq_unknown/replay", { method: "POST" })).status,
    ).toBe(404);
  });

  it("replay one through the real queue: the batch lands once, and replaying again changes nothing", async () => {
    const account = unique("acct");
    const message = ratedMessage(account, 1, { events: 4, value: "2.5", price: "0.2" });
    await deliver(RATED_QUEUE, [{ id: "m", body: message, attempts: 9 }], envWithoutClickHouse());
    await deliver(DLQ, [{ id: unique("dlq-msg"), body: message }]);
    // The ledger took the batch before ClickHouse failed; ClickHouse has nothing.
    expect((await ledgerOf(account)).batches).toBe(1);
    expect((await analyticsOf(account)).events).toBe(0);
    const [letter] = await lettersOf(account, "pending");

    const first = await callJson<{ replayed: string[] }>(
      `/v1/admin/dead-letters/${letter?.id}/replay`,
      200,
      { method: "POST" },
    );
    expect(first).toEqual({ replayed: [letter?.id] });
    await vi.waitFor(async () => {
      expect((await analyticsOf(account)).events).toBe(4);
    }, WAIT);
    expect(await lettersOf(account, "pending")).toEqual([]);
    expect(await lettersOf(account, "replayed")).toMatchObject([
      { id: letter?.id, replays: 1, replayedAt: expect.any(String) },
    ]);

    // A second replay re-sends the same batch; a sentinel batch sent after it lands only once
    // the queue delivered the replay too.
    await callJson(`/v1/admin/dead-letters/${letter?.id}/replay`, 200, { method: "POST" });
    const sentinel = unique("acct");
    await env.RATED_USAGE.send(ratedMessage(sentinel, 1), { contentType: "json" });
    await vi.waitFor(async () => {
      expect((await analyticsOf(sentinel)).events).toBe(3);
    }, WAIT);
    expect(await ledgerOf(account)).toEqual({
      batches: 1,
      rollups: [{ meter: "tokens", day: "2026-11-01", quantity: "10", amount: "2", events: 4 }],
    });
    expect(await analyticsOf(account)).toMatchObject({
      events: 4,
      valueSum: "10",
      records: 1,
      quantity: "10",
      amount: "2",
    });
    expect(await lettersOf(account, "replayed")).toMatchObject([{ id: letter?.id, replays: 2 }]);
  });

  it("replay all pending letters of an account in one call", async () => {
    const account = unique("acct");
    const messages = [1, 2, 3].map((seq) => ratedMessage(account, seq, { offsetMs: seq * 1_000 }));
    for (const message of messages) {
      await deliver(
        RATED_QUEUE,
        [{ id: `m${message.batchId}`, body: message, attempts: 9 }],
        envWithoutPostgres(),
      );
      await deliver(DLQ, [{ id: unique("dlq-msg"), body: message }]);
    }
    expect(await lettersOf(account, "pending")).toHaveLength(3);
    const replayed = await callJson<{ replayed: string[] }>(
      `/v1/admin/dead-letters/replay?account=${account}`,
      200,
      { method: "POST" },
    );
    expect(replayed.replayed).toHaveLength(3);
    await vi.waitFor(async () => {
      expect((await ledgerOf(account)).batches).toBe(3);
    }, WAIT);
    expect((await ledgerOf(account)).rollups).toEqual([
      { meter: "tokens", day: "2026-11-01", quantity: "13.5", amount: "0.0135", events: 9 },
    ]);
    expect(await analyticsOf(account)).toMatchObject({ events: 9, records: 3 });
    expect(await lettersOf(account, "pending")).toEqual([]);
    // Nothing left to replay for that account.
    expect(
      await callJson(`/v1/admin/dead-letters/replay?account=${account}`, 200, { method: "POST" }),
    ).toEqual({ replayed: [] });
  });
});
