/**
 * Spend caps and budget alerts: each threshold notifies once per period through QStash to the
 * account's webhook (signed, verified here as a receiver would), the hard cap turns the account
 * `capped` the moment the rated spend crosses it while usage keeps being recorded, the platform
 * hears of the cap, and the admission check refuses new deployments.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { AccountMeter } from "../../../durable-objects/account-meter.ts";
import { flushMeterNotifications } from "../../../lib/billing/notifications.ts";
import { type Publisher, qstashPublisher } from "../../../lib/billing/notify.ts";
import { silentLogger } from "../../../lib/log/logger.ts";
import { callJson, unique } from "../support/http.ts";
import { holdPrefix, pullDelivered, QSTASH, verified, waitForDeliveries } from "./qstash.ts";
import {
  DAY_MS,
  meterOf,
  pinMeterClock,
  seedAccount,
  seedMeters,
  seedPlan,
  sendEvents,
} from "./support.ts";

const CALLS = unique("cap-calls");
let planId = "";

beforeAll(async () => {
  await seedMeters([{ key: CALLS, aggregation: "count" }]);
  ({ planId } = await seedPlan([{ prices: { [CALLS]: { model: "per_unit", unitPrice: "0.5" } } }]));
});

function calls(prefix: string, count: number) {
  const now = Date.now();
  return Array.from({ length: count }, (_, n) => ({
    id: `${prefix}-${n}`,
    meter: CALLS,
    timeMs: now - 60_000 + n,
  }));
}

interface Webhook {
  type: string;
  id: string;
  accountId: string;
  data: { percent: number; spent: string; budget: string; currency: string; capReached: boolean };
}

const parsed = (body: string) => JSON.parse(body) as Webhook;

describe("budget alerts and the hard cap", () => {
  it("notifies each threshold once, caps at 100 % and keeps recording usage", async () => {
    const hooks = await holdPrefix("alerts");
    const accountId = await seedAccount({
      planId,
      createdAtMs: Date.now() - DAY_MS,
      budget: "10",
      alertPercents: [50, 80],
      hardCap: true,
      notificationUrl: `${hooks}account`,
    });
    const status = () =>
      callJson<{ status: string; spend: { spent: string; capped: boolean } }>(
        `/v1/accounts/${accountId}/status`,
        200,
      );

    await sendEvents(accountId, calls("a", 10));
    const [fifty] = await waitForDeliveries(hooks, 1);
    expect(await status()).toMatchObject({
      status: "active",
      spend: { spent: "5", capped: false },
    });
    await sendEvents(accountId, calls("b", 6));
    const [eighty] = await waitForDeliveries(hooks, 1);
    await sendEvents(accountId, calls("c", 4));
    const [cap] = await waitForDeliveries(hooks, 1);

    expect([fifty, eighty, cap].map((d) => parsed(d?.body ?? "{}"))).toEqual([
      expect.objectContaining({
        type: "spend.threshold_crossed",
        accountId,
        data: expect.objectContaining({ percent: 50, spent: "5", budget: "10", capReached: false }),
      }),
      expect.objectContaining({
        type: "spend.threshold_crossed",
        data: expect.objectContaining({ percent: 80, spent: "8", capReached: false }),
      }),
      expect.objectContaining({
        type: "spend.cap_reached",
        data: expect.objectContaining({ percent: 100, spent: "10", capReached: true }),
      }),
    ]);
    for (const delivery of [fifty, eighty, cap]) {
      expect(await verified(delivery as NonNullable<typeof delivery>)).toBe(true);
    }
    expect(await status()).toMatchObject({
      status: "capped",
      spend: { spent: "10", capped: true },
    });

    // Usage that happens after the cap is still counted, and no threshold fires again.
    await sendEvents(accountId, calls("d", 2));
    expect(await status()).toMatchObject({ status: "capped", spend: { spent: "11" } });
    await runDurableObjectAlarm(meterOf(accountId));
    expect(await pullDelivered(hooks)).toEqual([]);
  });

  it("announces the cap to the platform too, and never delivers a notification twice", async () => {
    const hooks = await holdPrefix("platform");
    const accountId = await seedAccount({
      planId,
      createdAtMs: Date.now() - DAY_MS,
      budget: "1",
      alertPercents: [50],
      hardCap: true,
      notificationUrl: `${hooks}account`,
    });
    // The meter's clock runs ahead, so its alarm waits: this test flushes by hand.
    await pinMeterClock(accountId, Date.now() + 10 * 60_000);
    await sendEvents(accountId, calls("x", 2));

    const real = qstashPublisher(QSTASH);
    // Published, but the answer is lost: the rows stay and the next flush publishes again.
    const lossy: Publisher = {
      async publish(input) {
        await real.publish(input);
        throw new Error("connection reset (injected)");
      },
    };
    const flush = (publisher: Publisher) =>
      runInDurableObject(meterOf(accountId), (instance: AccountMeter) =>
        flushMeterNotifications(instance.sql, {
          accountId,
          targets: { accountUrl: `${hooks}account`, platformUrl: `${hooks}platform` },
          publisher,
          log: silentLogger,
        }),
      );
    expect(await flush(lossy)).toEqual({ sent: 0, dropped: 0, remaining: 2 });
    expect(await flush(real)).toEqual({ sent: 2, dropped: 0, remaining: 0 });
    expect(await flush(real)).toEqual({ sent: 0, dropped: 0, remaining: 0 });

    const deliveries = await pullDelivered(hooks);
    const seen = deliveries
      .map((d) => [d.url.slice(hooks.length), parsed(d.body).type])
      .sort((a, b) => `${a}`.localeCompare(`${b}`));
    expect(seen).toEqual([
      ["account", "spend.cap_reached"],
      ["account", "spend.threshold_crossed"],
      ["platform", "spend.cap_reached"],
    ]);
  });

  it("refuses new deployments of a capped account at the admission check", async () => {
    const accountId = await seedAccount({
      planId,
      createdAtMs: Date.now() - DAY_MS,
      budget: "1",
      hardCap: true,
    });
    await sendEvents(accountId, calls("y", 2));
    const decision = await callJson<{ decision: string; reasons: { rule: string }[] }>(
      "/v1/risk/deployments",
      200,
      {
        body: {
          accountId,
          image: "registry.example/app:1",
          command: ["node", "server.js"],
          resources: { vcpus: 1, memoryMb: 512 },
          regions: ["iad"],
        },
      },
    );
    expect(decision.decision).toBe("deny");
    expect(decision.reasons.map((r) => r.rule)).toContain("spend_capped");
  });
});
