import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { AccountMeter } from "../../../durable-objects/account-meter.ts";
import type { Sql } from "../../../lib/metering/sql.ts";
import { seedAccount, seedMeters } from "../support/catalogue.ts";
import { callJson, unique } from "../support/http.ts";

const METER = unique("eo-calls");
const SUM = unique("eo-tokens");

interface Summary {
  accepted: number;
  duplicates: number;
  rejected: { index: number; id: string | null; code: string; detail: string }[];
}

function meterOf(accountId: string): DurableObjectStub<AccountMeter> {
  return env.ACCOUNT_METER.get(env.ACCOUNT_METER.idFromName(accountId));
}

async function totalsOf(
  accountId: string,
): Promise<Record<string, { quantity: string; events: number }>> {
  return runInDurableObject(meterOf(accountId), (instance: AccountMeter) => {
    const out: Record<string, { quantity: string; events: number }> = {};
    for (const row of instance.sql.exec<{ meter: string; quantity: string; events: number }>(
      "SELECT meter, quantity, events FROM totals",
    )) {
      out[row.meter] = { quantity: row.quantity, events: row.events };
    }
    return out;
  });
}

async function send(accountId: string, events: unknown[]): Promise<Summary> {
  return callJson<Summary>("/v1/events", 202, {
    body: events.map((e) => ({ account: accountId, ...(e as object) })),
  });
}

beforeAll(async () => {
  await seedMeters([
    { key: METER, aggregation: "count" },
    { key: SUM, aggregation: "sum" },
  ]);
});

describe("exactly-once counting", () => {
  it("counts an event repeated inside one request once", async () => {
    const account = unique("acct");
    await seedAccount({ id: account });
    const event = { id: "e1", meter: SUM, value: "5" };
    const summary = await send(account, [event, event, { ...event }]);
    expect(summary).toEqual({ accepted: 1, duplicates: 2, rejected: [] });
    expect(await totalsOf(account)).toEqual({ [SUM]: { quantity: "5", events: 1 } });
  });

  it("counts an event retried in a later request once", async () => {
    const account = unique("acct");
    await seedAccount({ id: account });
    const events = [
      { id: "a", meter: SUM, value: "1.5" },
      { id: "b", meter: SUM, value: "2.25" },
    ];
    expect(await send(account, events)).toEqual({ accepted: 2, duplicates: 0, rejected: [] });
    expect(await send(account, events)).toEqual({ accepted: 0, duplicates: 2, rejected: [] });
    expect(await totalsOf(account)).toEqual({ [SUM]: { quantity: "3.75", events: 2 } });
  });

  it("counts once under many concurrent requests carrying the same events", async () => {
    const account = unique("acct");
    await seedAccount({ id: account });
    const events = Array.from({ length: 50 }, (_, i) => ({ id: `c${i}`, meter: METER }));
    const summaries = await Promise.all(Array.from({ length: 20 }, () => send(account, events)));
    expect(summaries.reduce((n, s) => n + s.accepted, 0)).toBe(50);
    expect(summaries.reduce((n, s) => n + s.duplicates, 0)).toBe(19 * 50);
    expect(await totalsOf(account)).toEqual({ [METER]: { quantity: "50", events: 50 } });
  });

  it("remembers ids after the meter is evicted and restarted", async () => {
    const account = unique("acct");
    await seedAccount({ id: account });
    const events = [{ id: "x", meter: SUM, value: 7 }];
    expect((await send(account, events)).accepted).toBe(1);
    await evictDurableObject(meterOf(account));
    expect(await send(account, events)).toEqual({ accepted: 0, duplicates: 1, rejected: [] });
    expect(await totalsOf(account)).toEqual({ [SUM]: { quantity: "7", events: 1 } });
  });

  it("applies nothing of a batch whose transaction fails midway, and all of it on retry", async () => {
    const account = unique("acct");
    await seedAccount({ id: account });
    const stub = meterOf(account);
    await send(account, [{ id: "warm", meter: SUM, value: 1 }]);
    await runInDurableObject(stub, (instance: AccountMeter) => {
      const real = instance.sql;
      const failing: Sql = {
        exec(query, ...bindings) {
          if (query.startsWith("INSERT INTO outbox")) {
            throw new Error("disk full (injected)");
          }
          return real.exec(query, ...bindings);
        },
      };
      (instance as unknown as { sql: Sql }).sql = failing;
      return instance
        .ingest({
          accountId: account,
          keyHash: null,
          events: [
            {
              index: 0,
              id: "m1",
              accountId: account,
              meter: SUM,
              value: "10",
              timeMs: Date.now(),
              timeFromArrival: false,
              properties: {},
            },
            {
              index: 1,
              id: "m2",
              accountId: account,
              meter: SUM,
              value: "20",
              timeMs: Date.now(),
              timeFromArrival: false,
              properties: {},
            },
          ],
        })
        .then(
          () => {
            throw new Error("expected the injected failure");
          },
          (error: unknown) => {
            (instance as unknown as { sql: Sql }).sql = real;
            expect(String(error)).toContain("disk full (injected)");
          },
        );
    });
    const seen = await runInDurableObject(
      stub,
      (instance: AccountMeter) =>
        instance.sql
          .exec<{ n: number }>(
            "SELECT count(*) AS n FROM seen_events WHERE event_id IN ('m1', 'm2')",
          )
          .one().n,
    );
    expect(seen).toBe(0);
    expect(await totalsOf(account)).toEqual({ [SUM]: { quantity: "1", events: 1 } });
    expect(
      await send(account, [
        { id: "m1", meter: SUM, value: "10" },
        { id: "m2", meter: SUM, value: "20" },
      ]),
    ).toEqual({
      accepted: 2,
      duplicates: 0,
      rejected: [],
    });
    expect(await totalsOf(account)).toEqual({ [SUM]: { quantity: "31", events: 3 } });
  });

  it("treats a retry after a lost response as a duplicate", async () => {
    const account = unique("acct");
    await seedAccount({ id: account });
    const events = [{ id: "lost-1", meter: SUM, value: "4", time: new Date().toISOString() }];
    // The first response is dropped on the floor, as a client whose connection broke would.
    await send(account, events);
    expect(await send(account, events)).toEqual({ accepted: 0, duplicates: 1, rejected: [] });
    expect(await totalsOf(account)).toEqual({ [SUM]: { quantity: "4", events: 1 } });
  });

  it("reports a second event with a used id but a different payload as a conflict", async () => {
    const account = unique("acct");
    await seedAccount({ id: account });
    await send(account, [{ id: "k", meter: SUM, value: "1" }]);
    const summary = await send(account, [{ id: "k", meter: SUM, value: "2" }]);
    expect(summary.accepted).toBe(0);
    expect(summary.rejected.map((r) => [r.index, r.id, r.code])).toEqual([[0, "k", "ID_CONFLICT"]]);
    expect(await totalsOf(account)).toEqual({ [SUM]: { quantity: "1", events: 1 } });
  });
});
