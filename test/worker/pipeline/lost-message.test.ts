/**
 * End-to-end receipts: an account meter keeps each outbox batch until the rated-usage consumer
 * confirms both sinks hold it, and sends an unconfirmed batch again after the resend delay. A
 * message the queue accepted and then lost (an in-memory local queue restarted, say) still lands,
 * exactly once.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import type { AccountMeter } from "../../../durable-objects/account-meter.ts";
import { FixedClock } from "../../../lib/clock/clock.ts";
import { configFor } from "../../../lib/env/config.ts";
import { MAX_SENDS } from "../../../lib/metering/outbox.ts";
import { ingest, meterOf, pinnedAccount, seedPricedMeter } from "./flow.ts";
import { ledgerOf } from "./support.ts";

let meter: string;
let planId: string;

beforeAll(async () => {
  ({ meter, planId } = await seedPricedMeter());
});

/** Runs the meter's alarm with a queue that accepts every message and delivers none. */
async function flushIntoTheVoid(account: string): Promise<void> {
  await runInDurableObject(meterOf(account), async (instance: AccountMeter) => {
    const holder = instance as unknown as { env: Env };
    const real = holder.env;
    holder.env = {
      ...real,
      RATED_USAGE: { send: async () => {}, sendBatch: async () => {} } as unknown as Queue,
    };
    try {
      await instance.alarm();
    } finally {
      holder.env = real;
    }
  });
}

async function advanceMeterClock(account: string, byMs: number): Promise<void> {
  await runInDurableObject(meterOf(account), (instance: AccountMeter) => {
    instance.clock = new FixedClock(instance.clock.nowMs() + byMs);
  });
}

describe("outbox receipts", () => {
  it("resends a batch the queue lost, and drops it once the sinks confirm", async () => {
    const account = await pinnedAccount(planId);
    await ingest(account, meter, "void", 12, "1.5");
    await flushIntoTheVoid(account);
    expect(await meterOf(account).pipelineState()).toMatchObject({
      outboxRows: 1,
      unsent: 0,
      unconfirmed: 1,
      stuck: 0,
    });
    expect((await ledgerOf(account)).batches).toBe(0);

    // Before the resend delay nothing is sent again.
    await runDurableObjectAlarm(meterOf(account));
    expect((await ledgerOf(account)).batches).toBe(0);

    await advanceMeterClock(account, configFor(env).outboxResendSeconds * 1000 + 1000);
    await runInDurableObject(meterOf(account), (instance: AccountMeter) => instance.alarm());
    await vi.waitFor(
      async () => {
        const state = await meterOf(account).pipelineState();
        expect(state.outboxRows).toBe(0);
      },
      { timeout: 30_000, interval: 250 },
    );
    const ledger = await ledgerOf(account);
    expect(ledger.batches).toBe(1);
    expect(ledger.rollups.reduce((n, r) => n + r.events, 0)).toBe(12);
  });

  it("stops resending after MAX_SENDS and reports the batch as stuck", async () => {
    const account = await pinnedAccount(planId);
    await ingest(account, meter, "stuck", 3, "1");
    const resendMs = configFor(env).outboxResendSeconds * 1000;
    for (let send = 0; send < MAX_SENDS; send += 1) {
      await flushIntoTheVoid(account);
      await advanceMeterClock(account, resendMs + 1000);
    }
    await flushIntoTheVoid(account);
    expect(await meterOf(account).pipelineState()).toMatchObject({
      outboxRows: 1,
      unconfirmed: 1,
      stuck: 1,
    });
  });
});

describe("batch ids", () => {
  it("are never reused, even after the outbox emptied and the meter restarted", async () => {
    const account = await pinnedAccount(planId);
    const ingestDirect = (id: string) =>
      runInDurableObject(meterOf(account), (instance: AccountMeter) =>
        instance.ingest({
          accountId: account,
          keyHash: null,
          events: [
            {
              index: 0,
              id,
              accountId: account,
              meter,
              value: "1",
              timeMs: Date.now(),
              timeFromArrival: false,
              properties: {},
            },
          ],
        }),
      );
    const firstBatch = async () =>
      runInDurableObject(meterOf(account), (instance: AccountMeter) =>
        instance.sql
          .exec<{ batch_id: string }>("SELECT batch_id FROM outbox ORDER BY seq")
          .toArray()
          .map((r) => r.batch_id),
      );
    await ingestDirect("first");
    const [before] = await firstBatch();
    await runInDurableObject(meterOf(account), (instance: AccountMeter) =>
      instance.confirmBatches(account, [before as string]),
    );
    expect(await firstBatch()).toEqual([]);
    await evictDurableObject(meterOf(account));
    await ingestDirect("second");
    const [after] = await firstBatch();
    const seqOf = (batchId: string | undefined) => Number(batchId?.split(":").pop());
    expect(seqOf(after)).toBeGreaterThan(seqOf(before));
  });
});
