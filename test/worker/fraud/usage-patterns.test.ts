/**
 * Usage patterns from the account meter: a free-tier account holding one vCPU flat-out for hours
 * (mining) is suspended through the meter's alarm → the work queue → the ladder; a paying
 * account doing the same is recorded but not throttled; bursty heavy use raises nothing.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import type { AccountMeter } from "../../../durable-objects/account-meter.ts";
import { FixedClock } from "../../../lib/clock/clock.ts";
import { detectSustainedCpu } from "../../../lib/fraud/usage-pattern.ts";
import { seedMeters } from "../support/catalogue.ts";
import { callJson, unique } from "../support/http.ts";
import {
  deployment,
  riskStatus,
  rulesOf,
  seedPaidPlan,
  seedRiskAccount,
  type Verdict,
  waitForLevel,
} from "./support.ts";

const CPU = unique("fraud-cpu");
const MINUTE = 60_000;

beforeAll(async () => {
  await seedMeters([
    {
      key: CPU,
      aggregation: "time_weighted",
      unit: "vcpu",
      seriesProperty: "deployment",
      heartbeatTimeoutSeconds: 180,
    },
  ]);
});

function meterOf(accountId: string): DurableObjectStub<AccountMeter> {
  return env.ACCOUNT_METER.get(env.ACCOUNT_METER.idFromName(accountId));
}

/**
 * Pins the account meter's clock to `nowMs` and sends one CPU sample per minute for the 200
 * minutes up to it, the level given by `levelAt(minuteIndex)`.
 */
async function sendCpuSamples(
  accountId: string,
  nowMs: number,
  levelAt: (minute: number) => string,
): Promise<void> {
  await runInDurableObject(meterOf(accountId), (instance: AccountMeter) => {
    instance.clock = new FixedClock(nowMs);
  });
  const events = Array.from({ length: 201 }, (_, i) => ({
    account: accountId,
    id: `cpu-${i}`,
    meter: CPU,
    value: levelAt(i),
    time: new Date(nowMs - (200 - i) * MINUTE).toISOString(),
    properties: { deployment: "d1" },
  }));
  const summary = await callJson<{ accepted: number }>("/v1/events", 202, { body: events });
  expect(summary.accepted).toBe(201);
}

/** The meter's CPU minute buckets in the detector's window, read from its storage. */
async function cpuBuckets(accountId: string) {
  return runInDurableObject(meterOf(accountId), (instance: AccountMeter) =>
    instance.sql
      .exec<{ minute_ms: number; quantity: string }>(
        "SELECT minute_ms, quantity FROM minute_buckets WHERE meter = ? ORDER BY minute_ms",
        CPU,
      )
      .toArray()
      .map((row) => ({ minuteMs: row.minute_ms, quantity: row.quantity })),
  );
}

async function screenedAt(accountId: string): Promise<string | null> {
  return runInDurableObject(meterOf(accountId), (instance: AccountMeter) => {
    const row = instance.sql
      .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'risk_screened_ms'")
      .toArray()[0];
    return row?.value ?? null;
  });
}

const wholeMinuteNow = () => Math.floor(Date.now() / MINUTE) * MINUTE;

describe("a mining pattern on a free-tier account", () => {
  it("is detected by the meter's alarm and suspends the account", async () => {
    const accountId = await seedRiskAccount();
    const nowMs = wholeMinuteNow();
    await sendCpuSamples(accountId, nowMs, () => "0.98");
    // The alarm flushes the outbox and screens usage; it may already have run by itself.
    await runDurableObjectAlarm(meterOf(accountId));
    expect(await screenedAt(accountId)).toBe(String(nowMs));

    const status = await waitForLevel(accountId, "suspended");
    expect(status.reasons).toEqual([
      { rule: "mining_free_tier", points: 90, detail: "1 signal (90 points)" },
    ]);
    const [signal] = status.signals;
    expect(signal?.kind).toBe("usage.sustained_cpu");
    expect(signal?.evidence).toMatchObject({
      freeTier: true,
      planId: null,
      minutes: 180,
      busyMinutes: 180,
      meanVcpu: 0.98,
      variation: 0,
      windowEndMs: nowMs,
    });

    // Suspended: deployments are denied, usage is still metered.
    const admission = await callJson<Verdict>("/v1/risk/deployments", 200, {
      body: deployment(accountId),
    });
    expect([admission.decision, rulesOf(admission)]).toEqual(["deny", ["account_suspended:0"]]);
    const more = await callJson<{ accepted: number }>("/v1/events", 202, {
      body: [
        {
          account: accountId,
          id: "cpu-after",
          meter: CPU,
          value: "0.98",
          time: new Date(nowMs).toISOString(),
          properties: { deployment: "d2" },
        },
      ],
    });
    expect(more.accepted).toBe(1);
  });
});

describe("the same pattern on a paying account", () => {
  it("is recorded with its own rule (0 points by default) and throttles nothing", async () => {
    const accountId = await seedRiskAccount({ planId: await seedPaidPlan() });
    const nowMs = wholeMinuteNow();
    await sendCpuSamples(accountId, nowMs, () => "1");
    await runDurableObjectAlarm(meterOf(accountId));
    const status = await waitForSignal(accountId);
    expect(status.level).toBe("normal");
    expect(status.score).toBe(0);
    expect(status.signals[0]?.evidence).toMatchObject({ freeTier: false, busyMinutes: 180 });
  });
});

describe("bursty heavy usage", () => {
  it("is not the mining shape", async () => {
    const accountId = await seedRiskAccount();
    const nowMs = wholeMinuteNow();
    // Ten minutes at 4 vCPU, ten at 0.5, alternating.
    await sendCpuSamples(accountId, nowMs, (i) => (Math.floor(i / 10) % 2 === 0 ? "4" : "0.5"));
    await runDurableObjectAlarm(meterOf(accountId));
    expect(await screenedAt(accountId)).toBe(String(nowMs));
    const verdict = detectSustainedCpu(await cpuBuckets(accountId), nowMs);
    expect(verdict).toEqual({
      flagged: false,
      finding: {
        windowStartMs: nowMs - 180 * MINUTE,
        windowEndMs: nowMs,
        minutes: 180,
        busyMinutes: 90,
        meanVcpu: 2.25,
        variation: 0,
      },
    });
    const status = await riskStatus(accountId);
    expect([status.level, status.signals]).toEqual(["normal", []]);
  });
});

/** Waits for the first signal of an account to be recorded (queue work is asynchronous). */
function waitForSignal(accountId: string) {
  return vi.waitFor(
    async () => {
      const status = await riskStatus(accountId);
      expect(status.signals.length).toBeGreaterThan(0);
      return status;
    },
    { timeout: 20_000, interval: 100 },
  );
}
