import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { AccountMeter } from "../../../durable-objects/account-meter.ts";
import { FixedClock } from "../../../lib/clock/clock.ts";
import { dueMessages } from "../../../lib/metering/outbox.ts";
import type { RatedUsageMessage } from "../../../lib/pipeline/rated-usage-message.ts";
import { seedAccount, seedMeters, seedPlan } from "../support/catalogue.ts";
import { callJson, unique } from "../support/http.ts";

/** A priced sum meter and a plan, created once per test file. */
export async function seedPricedMeter(): Promise<{ meter: string; planId: string }> {
  const meter = unique("pl-tokens");
  const planId = unique("plan");
  await seedMeters([{ key: meter, aggregation: "sum", groupBy: ["model"] }]);
  await seedPlan(planId, [
    {
      id: unique("planv"),
      effectiveFrom: "2000-01-01T00:00:00Z",
      prices: {
        [meter]: {
          model: "graduated",
          tiers: [
            { upTo: "100", unitPrice: "0.003" },
            { upTo: null, unitPrice: "0.0015" },
          ],
        },
      },
    },
  ]);
  return { meter, planId };
}

export function meterOf(accountId: string): DurableObjectStub<AccountMeter> {
  return env.ACCOUNT_METER.get(env.ACCOUNT_METER.idFromName(accountId));
}

/**
 * A fresh account on the plan whose meter's clock is pinned ten minutes ahead of real time: its
 * flush alarm then never fires by itself during the test, so the test decides when the outbox is
 * sent (and can read it first). Events carry real-time timestamps, well inside the meter's window.
 */
export async function pinnedAccount(planId: string): Promise<string> {
  const account = unique("acct");
  await seedAccount({ id: account, planId });
  await runInDurableObject(meterOf(account), (instance: AccountMeter) => {
    instance.clock = new FixedClock(Date.now() + 10 * 60_000);
  });
  return account;
}

/** Sends `count` events of `value` each through `POST /v1/events`; ids are `<prefix>-<n>`. */
export async function ingest(
  account: string,
  meter: string,
  prefix: string,
  count: number,
  value: string,
): Promise<void> {
  const time = new Date().toISOString();
  const summary = await callJson<{ accepted: number }>("/v1/events", 202, {
    body: Array.from({ length: count }, (_, n) => ({
      account,
      id: `${prefix}-${n}`,
      meter,
      value,
      time,
      properties: { model: n % 3 === 0 ? "large" : "small" },
    })),
  });
  if (summary.accepted !== count) {
    throw new Error(`expected ${count} accepted, got ${JSON.stringify(summary)}`);
  }
}

/**
 * The messages the meter holds in its outbox, sent or not, read without sending them (exactly
 * the bodies `#flush` sends: each row is one message with its batch id).
 */
export async function outboxMessages(account: string): Promise<RatedUsageMessage[]> {
  return runInDurableObject(meterOf(account), (instance: AccountMeter) =>
    dueMessages(instance.sql, instance.clock.nowMs(), 1_000, 0).map(
      (m) => JSON.parse(m.body) as RatedUsageMessage,
    ),
  );
}

/** Runs the meter's alarm now: its outbox goes to the real rated-usage queue. */
export async function flush(account: string): Promise<void> {
  await runDurableObjectAlarm(meterOf(account));
}
