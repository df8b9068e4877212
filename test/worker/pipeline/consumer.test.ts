/**
 * The rated-usage consumer, driven through the Worker's queue handler with delivery batches
 * built in the test, against the real local ClickHouse and Postgres. Asserts exactly which
 * messages were acked or retried (and with which delay), and exactly what each sink holds.
 */
import { describe, expect, it } from "vitest";
import { unique } from "../support/http.ts";
import {
  analyticsOf,
  clickhouse,
  deliver,
  envWithoutClickHouse,
  envWithoutPostgres,
  ledgerOf,
  ledgerQuery,
  RATED_QUEUE,
  ratedMessage,
} from "./support.ts";

describe("rated-usage consumer", () => {
  it("acks messages once both sinks have them and lands events and records exactly", async () => {
    const account = unique("acct");
    const first = ratedMessage(account, 1, { events: 3, value: "1.5", price: "0.001" });
    const second = ratedMessage(account, 4, {
      events: 2,
      value: "0.25",
      price: "0.001",
      day: "2026-11-02",
      offsetMs: 86_400_000,
    });
    const outcome = await deliver(RATED_QUEUE, [
      { id: "m1", body: first },
      { id: "m2", body: second },
    ]);
    expect(outcome).toEqual({ acked: ["m1", "m2"], retried: [] });
    expect(await ledgerOf(account)).toEqual({
      batches: 2,
      rollups: [
        { meter: "tokens", day: "2026-11-01", quantity: "4.5", amount: "0.0045", events: 3 },
        { meter: "tokens", day: "2026-11-02", quantity: "0.5", amount: "0.0005", events: 2 },
      ],
    });
    expect(await analyticsOf(account)).toEqual({
      events: 5,
      valueSum: "5",
      records: 2,
      quantity: "5",
      amount: "0.005",
      recordEvents: 5,
      physicalEvents: 5,
      physicalRecords: 2,
    });
  });

  it("counts a batch delivered twice (redelivery and resend) once in both sinks", async () => {
    const account = unique("acct");
    const message = ratedMessage(account, 1, { events: 4, value: "2", price: "0.5" });
    expect(await deliver(RATED_QUEUE, [{ id: "a", body: message }])).toEqual({
      acked: ["a"],
      retried: [],
    });
    // The queue redelivers with the same message id; a meter resending after a crash uses a new one.
    expect(await deliver(RATED_QUEUE, [{ id: "a", body: message, attempts: 2 }])).toEqual({
      acked: ["a"],
      retried: [],
    });
    expect(await deliver(RATED_QUEUE, [{ id: "b", body: message }])).toEqual({
      acked: ["b"],
      retried: [],
    });
    expect(await ledgerOf(account)).toEqual({
      batches: 1,
      rollups: [{ meter: "tokens", day: "2026-11-01", quantity: "8", amount: "4", events: 4 }],
    });
    // Same grouping, same insert-deduplication token: ClickHouse dropped the repeats outright.
    expect(await analyticsOf(account)).toEqual({
      events: 4,
      valueSum: "8",
      records: 1,
      quantity: "8",
      amount: "4",
      recordEvents: 4,
      physicalEvents: 4,
      physicalRecords: 1,
    });
  });

  it("counts batches once when they arrive again in different groupings", async () => {
    const account = unique("acct");
    const a = ratedMessage(account, 1, { events: 2, value: "1" });
    const b = ratedMessage(account, 3, { events: 3, value: "10", offsetMs: 3_600_000 });
    const c = ratedMessage(account, 7, { events: 1, value: "100", offsetMs: 7_200_000 });
    const groupings = [[a, b], [b, c], [a], [c, a, b]];
    for (const [n, group] of groupings.entries()) {
      const outcome = await deliver(
        RATED_QUEUE,
        group.map((m) => ({ id: `${n}-${m.batchId}`, body: m })),
      );
      expect(outcome.retried).toEqual([]);
      expect(outcome.acked).toHaveLength(group.length);
    }
    expect(await ledgerOf(account)).toEqual({
      batches: 3,
      rollups: [
        { meter: "tokens", day: "2026-11-01", quantity: "132", amount: "0.132", events: 6 },
      ],
    });
    const seen = await analyticsOf(account);
    expect({
      events: seen.events,
      valueSum: seen.valueSum,
      records: seen.records,
      quantity: seen.quantity,
      amount: seen.amount,
      recordEvents: seen.recordEvents,
    }).toEqual({
      events: 6,
      valueSum: "132",
      records: 3,
      quantity: "132",
      amount: "0.132",
      recordEvents: 6,
    });
  });

  it("lands a batch once when one delivery carries it twice, and acks both copies", async () => {
    const account = unique("acct");
    const message = ratedMessage(account, 1, { events: 2, value: "3" });
    expect(
      await deliver(RATED_QUEUE, [
        { id: "x", body: message },
        { id: "y", body: structuredClone(message) },
      ]),
    ).toEqual({ acked: ["x", "y"], retried: [] });
    expect((await ledgerOf(account)).rollups).toEqual([
      { meter: "tokens", day: "2026-11-01", quantity: "6", amount: "0.006", events: 2 },
    ]);
    expect((await analyticsOf(account)).events).toBe(2);
  });

  it("dead-letters unreadable bodies with the reason and acks them without holding back the rest", async () => {
    const account = unique("acct");
    const good = ratedMessage(account, 1, { events: 1, value: "7" });
    const tooPrecise = ratedMessage(account, 2);
    (tooPrecise.records[0] as { amountDelta: string }).amountDelta = `0.${"1".repeat(31)}`;
    const badDay = ratedMessage(account, 3, { day: "2026-02-30" });
    const prefix = unique("bad");
    const outcome = await deliver(RATED_QUEUE, [
      { id: `${prefix}-text`, body: "not a message" },
      { id: `${prefix}-v2`, body: { ...good, v: 2 } },
      { id: `${prefix}-precise`, body: tooPrecise },
      { id: `${prefix}-day`, body: badDay },
      { id: `${prefix}-foreign`, body: { ...good, batchId: "someone-else:1" } },
      { id: `${prefix}-good`, body: good },
    ]);
    expect(outcome).toEqual({
      acked: [
        `${prefix}-day`,
        `${prefix}-foreign`,
        `${prefix}-good`,
        `${prefix}-precise`,
        `${prefix}-text`,
        `${prefix}-v2`,
      ],
      retried: [],
    });
    const letters = await ledgerQuery<Record<string, unknown>>(
      `select message_id, reason, batch_id, account_id, error_code, error, attempts, replayed_at
       from dead_letters where message_id like $1 order by message_id`,
      [`${prefix}-%`],
    );
    const common = {
      reason: "invalid_body",
      error_code: "INVALID_MESSAGE",
      attempts: 1,
      replayed_at: null,
    };
    expect(letters).toEqual([
      {
        ...common,
        message_id: `${prefix}-day`,
        batch_id: `${account}:3`,
        account_id: account,
        error: "records[0].day: expected a calendar date YYYY-MM-DD",
      },
      {
        ...common,
        message_id: `${prefix}-foreign`,
        batch_id: "someone-else:1",
        account_id: account,
        error: "batchId: expected `<accountId>:<first outbox seq>`",
      },
      {
        ...common,
        message_id: `${prefix}-precise`,
        batch_id: `${account}:2`,
        account_id: account,
        error:
          "records[0].amountDelta: expected decimal text with at most 46 integer and 30 fractional digits",
      },
      {
        ...common,
        message_id: `${prefix}-text`,
        batch_id: null,
        account_id: null,
        error: "body: text that is not JSON",
      },
      {
        ...common,
        message_id: `${prefix}-v2`,
        batch_id: `${account}:1`,
        account_id: account,
        error: "v: unsupported message version 2 (this consumer reads version 1)",
      },
    ]);
    // Only the readable message reached the sinks.
    expect(await ledgerOf(account)).toEqual({
      batches: 1,
      rollups: [{ meter: "tokens", day: "2026-11-01", quantity: "7", amount: "0.007", events: 1 }],
    });
    expect((await analyticsOf(account)).events).toBe(1);
  });

  it("retries with backoff from the attempt count while ClickHouse is down, then lands everything once", async () => {
    const account = unique("acct");
    const messages = [1, 5, 9].map((seq) => ratedMessage(account, seq, { offsetMs: seq * 1_000 }));
    const down = await deliver(
      RATED_QUEUE,
      [
        { id: "r1", body: messages[0], attempts: 1 },
        { id: "r3", body: messages[1], attempts: 3 },
        { id: "r9", body: messages[2], attempts: 9 },
      ],
      envWithoutClickHouse(),
    );
    expect(down).toEqual({
      acked: [],
      retried: [
        { id: "r1", delaySeconds: 5 },
        { id: "r3", delaySeconds: 20 },
        { id: "r9", delaySeconds: 300 },
      ],
    });
    // Postgres took the batches already; ClickHouse has nothing; the notes say why and when.
    expect((await ledgerOf(account)).batches).toBe(3);
    expect((await analyticsOf(account)).events).toBe(0);
    expect(
      await ledgerQuery(
        `select batch_id, attempts, error_code from pipeline_failures
         where account_id = $1 order by batch_id`,
        [account],
      ),
    ).toEqual([
      { batch_id: `${account}:1`, attempts: 1, error_code: "CLICKHOUSE_UNREACHABLE" },
      { batch_id: `${account}:5`, attempts: 3, error_code: "CLICKHOUSE_UNREACHABLE" },
      { batch_id: `${account}:9`, attempts: 9, error_code: "CLICKHOUSE_UNREACHABLE" },
    ]);

    const back = await deliver(RATED_QUEUE, [
      { id: "r1", body: messages[0], attempts: 2 },
      { id: "r3", body: messages[1], attempts: 4 },
      { id: "r9", body: messages[2], attempts: 10 },
    ]);
    expect(back).toEqual({ acked: ["r1", "r3", "r9"], retried: [] });
    expect(await ledgerOf(account)).toEqual({
      batches: 3,
      rollups: [
        { meter: "tokens", day: "2026-11-01", quantity: "13.5", amount: "0.0135", events: 9 },
      ],
    });
    expect(await analyticsOf(account)).toMatchObject({ events: 9, valueSum: "13.5", records: 3 });
    expect(
      await ledgerQuery("select batch_id from pipeline_failures where account_id = $1", [account]),
    ).toEqual([]);
  });

  it("retries while Postgres is down, noting why in ClickHouse, then applies the ledger once", async () => {
    const account = unique("acct");
    const message = ratedMessage(account, 2, { events: 5, value: "0.2", price: "3" });
    const down = await deliver(
      RATED_QUEUE,
      [
        { id: "p", body: message, attempts: 2 },
        { id: "junk", body: { v: 1 } },
      ],
      envWithoutPostgres(),
    );
    // The unreadable body cannot be recorded either, so it is retried rather than lost.
    expect(down).toEqual({
      acked: [],
      retried: [
        { id: "junk", delaySeconds: 5 },
        { id: "p", delaySeconds: 10 },
      ],
    });
    expect(await analyticsOf(account)).toMatchObject({ events: 5, records: 1, physicalEvents: 5 });
    const notes = await (
      await clickhouse().query({
        query: `SELECT batch_id, attempts, error_code FROM pipeline_failures FINAL
                WHERE account_id = {a:String}`,
        query_params: { a: account },
        format: "JSONEachRow",
      })
    ).json();
    expect(notes).toEqual([
      { batch_id: `${account}:2`, attempts: 2, error_code: "DEPENDENCY_UNAVAILABLE" },
    ]);

    expect(await deliver(RATED_QUEUE, [{ id: "p", body: message, attempts: 3 }])).toEqual({
      acked: ["p"],
      retried: [],
    });
    expect(await ledgerOf(account)).toEqual({
      batches: 1,
      rollups: [{ meter: "tokens", day: "2026-11-01", quantity: "1", amount: "3", events: 5 }],
    });
    // The retry repeated the same insert (same token): nothing new physically either.
    expect(await analyticsOf(account)).toMatchObject({ events: 5, physicalEvents: 5 });
  });

  it("retries only the message the ledger refuses and lands the rest of its batch", async () => {
    const account = unique("poison");
    const poisoned = ratedMessage(account, 2, { meter: "poisoned" });
    const healthy = [1, 3].map((seq) => ratedMessage(account, seq, { offsetMs: seq * 1_000 }));
    // Fault injection in the real server: the ledger refuses one meter of this account only.
    await ledgerQuery(
      `create or replace function test_refuse_poison() returns trigger language plpgsql as $$
       begin raise exception 'refused by test trigger' using errcode = '22023'; end $$`,
    );
    await ledgerQuery(
      `create trigger test_refuse_poison before insert on usage_rollups for each row
       when (new.meter = 'poisoned') execute function test_refuse_poison()`,
    );
    try {
      const outcome = await deliver(RATED_QUEUE, [
        { id: "h1", body: healthy[0] },
        { id: "bad", body: poisoned },
        { id: "h3", body: healthy[1] },
      ]);
      expect(outcome).toEqual({ acked: ["h1", "h3"], retried: [{ id: "bad", delaySeconds: 5 }] });
    } finally {
      await ledgerQuery("drop trigger if exists test_refuse_poison on usage_rollups");
    }
    expect(await ledgerOf(account)).toEqual({
      batches: 2,
      rollups: [{ meter: "tokens", day: "2026-11-01", quantity: "9", amount: "0.009", events: 6 }],
    });
    expect(
      await ledgerQuery(
        "select batch_id, attempts, error_code from pipeline_failures where account_id = $1",
        [account],
      ),
    ).toEqual([{ batch_id: `${account}:2`, attempts: 1, error_code: "POSTGRES_22023" }]);
    // After the fix, its retry lands; ClickHouse already had it and does not count it twice.
    expect(await deliver(RATED_QUEUE, [{ id: "bad", body: poisoned, attempts: 2 }])).toEqual({
      acked: ["bad"],
      retried: [],
    });
    expect((await ledgerOf(account)).batches).toBe(3);
    expect(await analyticsOf(account)).toMatchObject({ events: 9, records: 3 });
  });
});
