import {
  createExecutionContext,
  createMessageBatch,
  evictDurableObject,
  getQueueResult,
  runInDurableObject,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { AccountMeter, IngestReply } from "../../../durable-objects/account-meter.ts";
import type { AccountConfig } from "../../../lib/catalogue/account-config.ts";
import {
  type CataloguePushMessage,
  PUSH_INLINE_LIMIT,
  propagateChange,
} from "../../../lib/catalogue/propagation.ts";
import { FixedClock } from "../../../lib/clock/clock.ts";
import { silentLogger } from "../../../lib/log/logger.ts";
import { workConsumer } from "../../../queues/work.ts";
import { callJson, unique } from "../support/http.ts";
import {
  type AccountJson,
  createAccount,
  createMeter,
  createPlan,
  type PlanJson,
  secondsFromNow,
} from "./support.ts";

function meterOf(accountId: string): DurableObjectStub<AccountMeter> {
  return env.ACCOUNT_METER.get(env.ACCOUNT_METER.idFromName(accountId));
}

async function cachedConfig(accountId: string): Promise<AccountConfig | null> {
  return runInDurableObject(meterOf(accountId), (instance: AccountMeter) => {
    const row = instance.sql
      .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'config'")
      .toArray()[0];
    return row ? (JSON.parse(row.value) as AccountConfig) : null;
  });
}

async function windowsOf(accountId: string): Promise<[string, number, number | null][]> {
  const config = await cachedConfig(accountId);
  return (config?.pricing ?? []).map((w) => [w.planVersionId, w.fromMs, w.toMs]);
}

/** A monthly interval whose period boundary lies about two weeks from today. */
function midPeriodInterval() {
  return { unit: "month", count: 1, anchorDay: ((new Date().getUTCDate() + 14) % 28) + 1 };
}

/** Ingests straight into the meter with its clock pinned at `nowMs`. */
/**
 * Leaves the meter holding an older configuration, as if a push had failed: the stored copy is
 * replaced and the object evicted, so the next instance starts from it (a live meter refuses to
 * be pushed an older revision).
 */
async function plantStaleConfig(accountId: string, stale: AccountConfig): Promise<void> {
  await runInDurableObject(meterOf(accountId), (instance: AccountMeter) => {
    instance.sql.exec("UPDATE meta SET value = ? WHERE key = 'config'", JSON.stringify(stale));
  });
  await evictDurableObject(meterOf(accountId));
}

async function ingestAt(
  accountId: string,
  nowMs: number,
  meter: string,
  events: { id: string; timeMs: number; value: string }[],
): Promise<IngestReply> {
  return runInDurableObject(meterOf(accountId), (instance: AccountMeter) => {
    instance.clock = new FixedClock(nowMs);
    return instance.ingest({
      accountId,
      keyHash: null,
      events: events.map((e, index) => ({
        index,
        id: e.id,
        accountId,
        meter,
        value: e.value,
        timeMs: e.timeMs,
        timeFromArrival: false,
        properties: {},
      })),
    });
  });
}

async function amountsBySegment(
  accountId: string,
  meter: string,
): Promise<Record<string, { quantity: string; amount: string }>> {
  return runInDurableObject(meterOf(accountId), (instance: AccountMeter) => {
    const out: Record<string, { quantity: string; amount: string }> = {};
    for (const row of instance.sql.exec<{ segment: string; quantity: string; amount: string }>(
      "SELECT segment, quantity, amount FROM totals WHERE meter = ?",
      meter,
    )) {
      out[row.segment] = { quantity: row.quantity, amount: row.amount };
    }
    return out;
  });
}

async function newVersion(plan: PlanJson, meter: string, unitPrice: string, from: string) {
  const updated = await callJson<PlanJson>(`/v1/plans/${plan.id}/versions`, 201, {
    body: { effectiveFrom: from, prices: { [meter]: { model: "per_unit", unitPrice } } },
  });
  return updated.versions[updated.versions.length - 1] as PlanJson["versions"][number];
}

async function pricedSetup(): Promise<{ meter: string; plan: PlanJson; account: AccountJson }> {
  const meter = (await createMeter({ aggregation: "sum" })).key;
  const plan = await createPlan({ prices: { [meter]: { model: "per_unit", unitPrice: "0.5" } } });
  const account = await createAccount({ planId: plan.id, billingInterval: midPeriodInterval() });
  // First use: the meter loads its configuration from the catalogue and caches it.
  await callJson("/v1/events", 202, {
    body: [{ account: account.id, id: "warm-up", meter, value: "0" }],
  });
  return { meter, plan, account };
}

describe("catalogue changes reach the account meters", () => {
  it("pushes a new plan version to the meter before it takes effect, and rates by it after", async () => {
    const { meter, plan, account } = await pricedSetup();
    const v1 = plan.versions[0]?.id as string;
    const startMs = Date.parse(account.planSchedule[0]?.effectiveFrom as string);
    expect(await windowsOf(account.id)).toEqual([[v1, startMs, null]]);

    const effectiveFrom = secondsFromNow(305);
    const effectiveMs = Date.parse(effectiveFrom);
    const v2 = await newVersion(plan, meter, "0.7", effectiveFrom);

    expect(await windowsOf(account.id)).toEqual([
      [v1, startMs, effectiveMs],
      [v2.id, effectiveMs, null],
    ]);
    const reply = await ingestAt(account.id, effectiveMs + 60_000, meter, [
      { id: "before", timeMs: effectiveMs - 1_000, value: "10" },
      { id: "after", timeMs: effectiveMs + 1_000, value: "10" },
    ]);
    expect(reply).toEqual({ status: "ok", accepted: 2, duplicates: 0, rejected: [], outbox: [] });
    expect(await amountsBySegment(account.id, meter)).toEqual({
      [v1]: { quantity: "10", amount: "5" },
      [v2.id]: { quantity: "10", amount: "7" },
    });
  });

  it("a meter that missed the push learns the version by revalidating within 60 s", async () => {
    const { meter, plan, account } = await pricedSetup();
    const stale = (await cachedConfig(account.id)) as AccountConfig;
    const effectiveFrom = secondsFromNow(305);
    const effectiveMs = Date.parse(effectiveFrom);
    const v2 = await newVersion(plan, meter, "0.9", effectiveFrom);
    // Undo the push, as if it had failed: the meter holds the old configuration, checked at a
    // moment two minutes before the new version applies.
    await plantStaleConfig(account.id, stale);
    expect((await windowsOf(account.id)).length).toBe(1);

    await ingestAt(account.id, effectiveMs + 1_000, meter, [
      { id: "after", timeMs: effectiveMs + 500, value: "10" },
    ]);
    expect((await amountsBySegment(account.id, meter))[v2.id]).toEqual({
      quantity: "10",
      amount: "9",
    });
  });

  it("pushes a plan switch", async () => {
    const { meter, plan, account } = await pricedSetup();
    const next = await createPlan({ prices: { [meter]: { model: "per_unit", unitPrice: "0.1" } } });
    const effectiveFrom = secondsFromNow(400);
    await callJson(`/v1/accounts/${account.id}/plan`, 201, {
      body: { planId: next.id, effectiveFrom },
    });
    const windows = await windowsOf(account.id);
    expect(windows.map(([id, , toMs]) => [id, toMs])).toEqual([
      [plan.versions[0]?.id, Date.parse(effectiveFrom)],
      [next.versions[0]?.id, null],
    ]);
  });

  it("pushes account changes", async () => {
    const { account } = await pricedSetup();
    await callJson(`/v1/accounts/${account.id}`, 200, {
      method: "PATCH",
      body: { collectionMethod: "send_invoice", netTermsDays: 30, spend: { budget: "250" } },
    });
    const config = (await cachedConfig(account.id)) as AccountConfig;
    expect(config.collectionMethod).toBe("send_invoice");
    expect(config.spend).toEqual({
      budget: "250.000000000000",
      alertPercents: [50, 80, 100],
      hardCap: false,
    });
  });

  it("pushes meter changes to the accounts whose plans price the meter", async () => {
    const { meter, account } = await pricedSetup();
    await callJson(`/v1/meters/${meter}`, 200, {
      method: "PATCH",
      body: { groupBy: ["region"], unit: "tokens" },
    });
    const config = (await cachedConfig(account.id)) as AccountConfig;
    const definition = config.meters.find((m) => m.key === meter);
    expect(definition?.groupBy).toEqual(["region"]);
    expect(definition?.unit).toBe("tokens");
  });

  it("pushes the first 50 accounts at once and queues the rest on WORK", async () => {
    const meter = (await createMeter({ aggregation: "sum" })).key;
    const plan = await createPlan({ prices: { [meter]: { model: "per_unit", unitPrice: "1" } } });
    const prefix = unique("fan");
    const ids = Array.from(
      { length: PUSH_INLINE_LIMIT + 3 },
      (_, i) => `${prefix}-${String(i).padStart(2, "0")}`,
    );
    for (let i = 0; i < ids.length; i += 10) {
      await Promise.all(ids.slice(i, i + 10).map((id) => createAccount({ id, planId: plan.id })));
    }
    const v2 = await newVersion(plan, meter, "2", secondsFromNow(600));
    const inline = ids.slice(0, PUSH_INLINE_LIMIT);
    const queued = ids.slice(PUSH_INLINE_LIMIT);
    for (const id of inline) {
      expect((await windowsOf(id)).map(([versionId]) => versionId)).toContain(v2.id);
    }
    // The WORK consumer pushes the rest: wait for the queue to deliver, without sleeping.
    await vi.waitFor(
      async () => {
        for (const id of queued) {
          expect((await windowsOf(id)).map(([versionId]) => versionId)).toContain(v2.id);
        }
      },
      { timeout: 20_000, interval: 200 },
    );
  });
});

describe("the WORK consumer", () => {
  it("pushes the accounts of a catalogue.push message and acks it", async () => {
    const { account } = await pricedSetup();
    const stale = (await cachedConfig(account.id)) as AccountConfig;
    await callJson(`/v1/accounts/${account.id}`, 200, {
      method: "PATCH",
      body: { name: "Renamed" },
    });
    // Make the meter stale again, as if the inline push had failed; a queued push fixes it.
    await plantStaleConfig(account.id, stale);
    expect((await cachedConfig(account.id))?.name).toBe(stale.name);
    const push: CataloguePushMessage = { v: 1, kind: "catalogue.push", accountIds: [account.id] };
    const batch = createMessageBatch("meterline-work", [
      { id: "push", timestamp: Date.now(), attempts: 1, body: push },
    ]);
    const ctx = createExecutionContext();
    await workConsumer(batch, env, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual(["push"]);
    expect(result.retryMessages).toEqual([]);
    expect((await cachedConfig(account.id))?.name).toBe("Renamed");
  });
});

describe("propagateChange", () => {
  const config = (accountId: string) => ({ accountId }) as AccountConfig;

  it("pushes in order up to the inline limit and queues the rest in messages", async () => {
    const ids = Array.from({ length: 53 }, (_, i) => `a${String(i).padStart(2, "0")}`);
    const configured: string[] = [];
    const sent: CataloguePushMessage[][] = [];
    const report = await propagateChange(
      {
        load: async (id) => (id === "a07" ? null : config(id)),
        configure: async (id) => {
          if (id === "a03") {
            throw new Error("meter unreachable (injected)");
          }
          configured.push(id);
        },
        enqueue: async (messages) => {
          sent.push(messages);
        },
        log: silentLogger,
      },
      [...ids, "a00"],
    );
    const inline = ids.slice(0, 50);
    expect(report.pushed.sort()).toEqual(inline.filter((id) => id !== "a03" && id !== "a07"));
    expect(report.failed).toEqual(["a03"]);
    expect(report.missing).toEqual(["a07"]);
    expect(report.queued).toEqual(["a50", "a51", "a52"]);
    expect(sent).toEqual([[{ v: 1, kind: "catalogue.push", accountIds: ["a50", "a51", "a52"] }]]);
  });

  it("never throws when the queue is down: the meters revalidate", async () => {
    const ids = Array.from({ length: 51 }, (_, i) => `b${i}`);
    const report = await propagateChange(
      {
        load: async (id) => config(id),
        configure: async () => {},
        enqueue: async () => {
          throw new Error("queue down (injected)");
        },
        log: silentLogger,
      },
      ids,
    );
    expect(report.pushed.length).toBe(50);
    expect(report.unqueued).toEqual(["b50"]);
  });
});
