import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { AccountMeter } from "../../../durable-objects/account-meter.ts";
import { FixedClock } from "../../../lib/clock/clock.ts";
import { seedAccount, seedMeters } from "../support/catalogue.ts";
import { callJson, unique } from "../support/http.ts";

const M = {
  sum: unique("ag-sum"),
  count: unique("ag-count"),
  max: unique("ag-max"),
  uniq: unique("ag-users"),
  latest: unique("ag-seats"),
  vcpu: unique("ag-vcpu"),
  fromProp: unique("ag-prop"),
};

interface Usage {
  period: { start: string; end: string; sealed: boolean };
  meters: {
    key: string;
    quantity: string;
    events: number;
    breakdown?: { value: string; quantity: string; events: number }[];
    buckets: { minute: string; quantity: string; events: number }[];
  }[];
}

function stubOf(accountId: string): DurableObjectStub<AccountMeter> {
  return env.ACCOUNT_METER.get(env.ACCOUNT_METER.idFromName(accountId));
}

async function usage(accountId: string, query = ""): Promise<Usage> {
  return callJson<Usage>(`/v1/accounts/${accountId}/usage${query}`, 200);
}

function quantities(report: Usage): Record<string, string> {
  return Object.fromEntries(report.meters.map((m) => [m.key, m.quantity]));
}

beforeAll(async () => {
  await seedMeters([
    { key: M.sum, aggregation: "sum", groupBy: ["region"] },
    { key: M.count, aggregation: "count" },
    { key: M.max, aggregation: "max" },
    { key: M.uniq, aggregation: "unique_count", valueProperty: "user" },
    { key: M.latest, aggregation: "latest" },
    {
      key: M.vcpu,
      aggregation: "time_weighted",
      seriesProperty: "deployment",
      heartbeatTimeoutSeconds: 120,
      groupBy: ["deployment"],
    },
    { key: M.fromProp, aggregation: "sum", valueProperty: "tokens" },
  ]);
});

describe("aggregations", () => {
  it("sums, counts, takes the max, counts distinct values and keeps the latest", async () => {
    const account = unique("acct");
    await seedAccount({ id: account });
    const t =
      Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), 1, 0, 0, 0) + 3_600_000;
    const at = (minutes: number) =>
      new Date(Math.min(t + minutes * 60_000, Date.now())).toISOString();
    const events = [
      { id: "s1", meter: M.sum, value: "1.25", time: at(0), properties: { region: "eu" } },
      { id: "s2", meter: M.sum, value: "2", time: at(1), properties: { region: "us" } },
      { id: "s3", meter: M.sum, value: "0.75", time: at(1), properties: { region: "eu" } },
      { id: "c1", meter: M.count, time: at(0) },
      { id: "c2", meter: M.count, value: "99", time: at(0) },
      { id: "x1", meter: M.max, value: "3", time: at(0) },
      { id: "x2", meter: M.max, value: "8", time: at(1) },
      { id: "x3", meter: M.max, value: "5", time: at(2) },
      { id: "u1", meter: M.uniq, time: at(0), properties: { user: "ann" } },
      { id: "u2", meter: M.uniq, time: at(0), properties: { user: "bob" } },
      { id: "u3", meter: M.uniq, time: at(1), properties: { user: "ann" } },
      { id: "l1", meter: M.latest, value: "10", time: at(2) },
      { id: "l2", meter: M.latest, value: "7", time: at(1) },
      { id: "p1", meter: M.fromProp, time: at(0), properties: { tokens: "120" } },
      { id: "p2", meter: M.fromProp, time: at(0), properties: { tokens: 30 } },
    ].map((e) => ({ account, ...e }));
    const summary = await callJson<{ accepted: number }>("/v1/events", 202, { body: events });
    expect(summary.accepted).toBe(15);
    const report = await usage(account, `?at=${encodeURIComponent(at(0))}&breakdown=region`);
    expect(quantities(report)).toEqual({
      [M.sum]: "4",
      [M.count]: "2",
      [M.max]: "8",
      [M.uniq]: "2",
      [M.latest]: "10",
      [M.fromProp]: "150",
    });
    expect(report.meters.find((m) => m.key === M.sum)?.breakdown).toEqual([
      { value: "eu", quantity: "2", events: 2 },
      { value: "us", quantity: "2", events: 1 },
    ]);
    // A later event for "latest" that is older than the newest one changes nothing.
    await callJson("/v1/events", 202, {
      body: [{ account, id: "l3", meter: M.latest, value: "1", time: at(0) }],
    });
    expect(quantities(await usage(account, `?at=${encodeURIComponent(at(0))}`))[M.latest]).toBe(
      "10",
    );
  });
});

describe("time-weighted meters", () => {
  it("integrates level x seconds per series, exactly split at the billing period boundary", async () => {
    const account = unique("acct");
    await seedAccount({
      id: account,
      interval: { unit: "day", count: 1, anchorDate: "2026-01-01" },
      timeZone: "UTC",
    });
    const stub = stubOf(account);
    const midnight = Date.UTC(2026, 10, 20);
    await runInDurableObject(stub, (instance: AccountMeter) => {
      instance.clock = new FixedClock(midnight + 10 * 60_000);
    });
    const sample = (id: string, offsetSeconds: number, level: string, deployment = "d1") => ({
      index: 0,
      id,
      accountId: account,
      meter: M.vcpu,
      value: level,
      timeMs: midnight + offsetSeconds * 1000,
      timeFromArrival: false,
      properties: { deployment },
    });
    const ingest = (events: ReturnType<typeof sample>[]) =>
      runInDurableObject(stub, (instance: AccountMeter) =>
        instance.ingest({
          accountId: account,
          keyHash: null,
          events: events.map((e, index) => ({ ...e, index })),
        }),
      );
    // 2 vCPU from 23:59:30 to 00:00:30 crosses midnight: 60 s on each side of the boundary.
    expect(await ingest([sample("a", -30, "2"), sample("b", 30, "2")])).toMatchObject({
      accepted: 2,
    });
    // A second series: 0.5 vCPU for 90 s, then a stop sample (level 0).
    expect(await ingest([sample("c", 0, "0.5", "d2"), sample("d", 90, "0", "d2")])).toMatchObject({
      accepted: 2,
    });
    // The first series goes silent for longer than the 120 s heartbeat: nothing accrues for the
    // silence, and the next sample starts a fresh interval.
    expect(await ingest([sample("e", 400, "4"), sample("f", 460, "4")])).toMatchObject({
      accepted: 2,
    });

    const totals = await runInDurableObject(stub, (instance: AccountMeter) =>
      instance.sql
        .exec<{ period_start: number; quantity: string }>(
          "SELECT period_start, quantity FROM totals WHERE meter = ? ORDER BY period_start",
          M.vcpu,
        )
        .toArray()
        .map((r) => ({ ...r })),
    );
    expect(totals).toEqual([
      { period_start: midnight - 86_400_000, quantity: "60" },
      { period_start: midnight, quantity: "345" },
    ]);
    const breakdown = await runInDurableObject(stub, (instance: AccountMeter) =>
      instance.sql
        .exec<{ dim_value: string; quantity: string }>(
          "SELECT dim_value, quantity FROM dimension_totals WHERE meter = ? AND period_start = ? ORDER BY dim_value",
          M.vcpu,
          midnight,
        )
        .toArray()
        .map((r) => ({ ...r })),
    );
    expect(breakdown).toEqual([
      { dim_value: "d1", quantity: "300" },
      { dim_value: "d2", quantity: "45" },
    ]);
  });

  it("closes a silent series by alarm at its last sample and refuses out-of-order samples", async () => {
    const account = unique("acct");
    await seedAccount({ id: account });
    const stub = stubOf(account);
    const start = Date.now() - 60_000;
    const clock = new FixedClock(start + 1_000);
    await runInDurableObject(stub, (instance: AccountMeter) => {
      instance.clock = clock;
    });
    const ingest = (id: string, offsetSeconds: number, level: string) =>
      runInDurableObject(stub, (instance: AccountMeter) =>
        instance.ingest({
          accountId: account,
          keyHash: null,
          events: [
            {
              index: 0,
              id,
              accountId: account,
              meter: M.vcpu,
              value: level,
              timeMs: start + offsetSeconds * 1000,
              timeFromArrival: false,
              properties: { deployment: "d9" },
            },
          ],
        }),
      );
    await ingest("s1", 0, "1");
    expect(await ingest("s0", -5, "1")).toMatchObject({
      accepted: 0,
      rejected: [{ code: "SAMPLE_OUT_OF_ORDER" }],
    });
    clock.set(start + 200_000);
    await runInDurableObject(stub, (instance: AccountMeter) => {
      instance.clock = clock;
    });
    await runDurableObjectAlarm(stub);
    const open = await runInDurableObject(
      stub,
      (instance: AccountMeter) =>
        instance.sql.exec<{ open: number }>("SELECT open FROM series WHERE series = 'd9'").one()
          .open,
    );
    expect(open).toBe(0);
  });
});
